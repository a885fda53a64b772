package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEListsEveryVariable keeps the README's environment table whole.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range EnvVars() {
		if !strings.Contains(string(readme), "`"+v[0]+"`") {
			t.Errorf("README.md does not list %s", v[0])
		}
	}
}
