//go:build !unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// errNotUnix is why serve cannot be asked to stop off Unix.
var errNotUnix = errors.New("clustro-demo runs on Linux and other Unix systems only")

func processGroupAttr() *syscall.SysProcAttr { return nil }

func terminate(*os.Process) error { return errNotUnix }

func killGroup(p *os.Process) error { return p.Kill() }
