package cli

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"done", nil, 0},
		{"failed", errors.New("boom"), 1},
		{"bad input", Usagef("--size: %q is not a size", "XXL"), 2},
		{"bad input, wrapped", fmt.Errorf("render: %w", Usagef("no name")), 2},
		{"reported", Exit(3), 3},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
	if !Reported(Exit(1)) || Reported(errors.New("x")) || !IsUsage(Usagef("x")) {
		t.Error("Reported or IsUsage misread an error")
	}
}
