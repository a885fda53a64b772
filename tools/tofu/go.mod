module github.com/clustropg/clustro/tools/tofu

go 1.26

require github.com/opentofu/opentofu v1.10.6

require github.com/hashicorp/go-version v1.6.0 // indirect

replace github.com/hashicorp/hcl/v2 v2.20.1 => github.com/opentofu/hcl/v2 v2.20.2-0.20250121132637-504036cd70e7
