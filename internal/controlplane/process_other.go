//go:build !unix

package controlplane

import (
	"errors"
	"syscall"
)

func processGroupAttr() *syscall.SysProcAttr { return nil }

func killGroup(int) error {
	return errors.New("the offline control plane runs on Linux and other Unix systems only")
}
