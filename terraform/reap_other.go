//go:build !linux

package terraform

// reap is a no-op outside Linux, where processes cannot be found by their
// environment: see reap_linux.go.
func reap(id string) (int, error) { return 0, nil }
