// Package terraform runs terraform (or OpenTofu) on the workspaces of a
// checked-out infrastructure repository: init, plan, apply and destroy, one
// workspace per job, through github.com/hashicorp/terraform-exec.
//
// Every job works in a directory of its own: the runner copies the
// workspace and the local modules it calls (refusing symlinks and anything
// outside the repository), runs terraform there with a fresh
// *tfexec.Terraform and an environment built from scratch (os.Environ is
// never inherited), and removes the directory afterwards. Apply and Destroy
// apply exactly the plan file they made. A Locker keeps one workspace to one
// job at a time, and a scheduler bounds the jobs that run at once, serving
// foreground jobs before Background ones (scheduled drift checks), which
// it preempts when a foreground job would otherwise wait. With Approve,
// Apply applies a plan only when the caller accepts it.
// WithWorkspaceEnv gives each job variables of its own workspace (the
// cluster of its environment, say) that no other workspace's job sees.
//
// Nothing the runner returns or logs carries a secret: configured secrets
// (WithSecrets), values passed with WithVars and every value the plan or the
// outputs mark sensitive are replaced with "[redacted]" in plan text, logs,
// outputs and errors. Commands whose output is JSON holding sensitive values
// in the clear (show -json, output -json) are kept out of logs.
package terraform
