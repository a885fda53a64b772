// Package tofu pins OpenTofu for `make tools`, which builds
// github.com/opentofu/opentofu/cmd/tofu from this module only when no
// terraform binary is available (OpenTofu's go.mod replaces hcl/v2, so it
// must be built from a module that carries the same replace line).
package tofu

import _ "github.com/opentofu/opentofu/version"
