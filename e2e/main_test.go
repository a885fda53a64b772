package e2e

import (
	"os"
	"testing"
)

// TestMain stops the control plane and PostgreSQL the tests share, so that
// a run leaves no process or directory behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCP != nil {
		sharedCP.Stop()
	}
	if sharedPG != nil {
		sharedPG.Stop()
	}
	os.Exit(code)
}
