package controlplane

import (
	"context"
	"testing"
)

// StartT starts a control plane with default Options for a test and stops
// it when the test and its subtests end, failed or not. A missing toolchain
// fails the test, saying to run `make tools`.
func StartT(t testing.TB) *ControlPlane {
	t.Helper()
	cp, err := Start(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	return cp
}
