// Package templates turns a resolved request into a Terraform workspace and
// back. Render writes databases/<env>/<team>/<name>/main.tf with hclwrite
// (typed cty values, never string concatenation) plus the catalog-info.yaml;
// Verify parses a workspace against an allowlist of exactly what Render
// writes and returns the request it describes, so that a pull request a
// reviewer edited (size M to L) can be trusted and a tampered one refused.
// Module returns the embedded CloudNativePG module, completed with a
// platform.tf generated from the platform config.
package templates
