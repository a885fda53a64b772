package terraform

import (
	"fmt"
	"os"
	"os/exec"
)

// Runner runs terraform jobs on workspaces. It is safe for concurrent use:
// jobs on one workspace run one at a time (see Locker), and at most the
// configured parallelism of jobs run at once, foreground jobs before
// background ones (see Background).
type Runner struct {
	cfg  runnerConfig
	path string // PATH for commands, read once by New
	// slots schedules jobs on the parallelism, foreground before
	// background.
	slots *slots
}

// New returns a Runner configured by opts. Without WithBinary it runs the
// binary Find returns.
func New(opts ...Option) (*Runner, error) {
	cfg := defaultRunnerConfig()
	for _, o := range opts {
		o.configureRunner(&cfg)
	}
	if cfg.binary == "" {
		bin, err := Find()
		if err != nil {
			return nil, fmt.Errorf("terraform: new runner: %w", err)
		}
		cfg.binary = bin
	}
	if err := cfg.absolutize(); err != nil {
		return nil, fmt.Errorf("terraform: new runner: %w", err)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("terraform: new runner: %w", err)
	}
	return &Runner{
		cfg:   cfg,
		path:  os.Getenv("PATH"),
		slots: newSlots(cfg.parallelism),
	}, nil
}

// Find returns the path of terraform on PATH, or else of tofu, or else
// ErrNoBinary.
func Find() (string, error) {
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBinary
}

// Binary is the terraform or tofu binary the Runner runs.
func (r *Runner) Binary() string { return r.cfg.binary }
