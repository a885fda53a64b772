// Package toolchain finds the ClustroPG repository and the offline
// toolchain `make tools` builds into its .tools directory: etcd and
// kube-apiserver for the control plane, OpenTofu when terraform is not on
// PATH, and terraform's CLI config that installs the kubectl provider from
// the offline mirror.
//
// The tests (through toolchaintest), the control plane and
// clustro-demo all look here, so each tool is found by one rule:
//
//	toolchain directory  $CLUSTRO_TOOLS, else .tools in the repository
//	binaries             its bin/
//	terraform            $CLUSTRO_TERRAFORM, else terraform or tofu on PATH, else bin/tofu
//	CLI config           $TF_CLI_CONFIG_FILE when it names a file, else its terraformrc
//
// The repository is the nearest directory above the working directory whose
// go.mod declares module github.com/clustropg/clustro.
//
// Every function takes getenv (os.Getenv, or a command's own environment);
// what is missing is an error that says to run `make tools`.
package toolchain
