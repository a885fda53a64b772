// Command kube-apiserver wraps the Kubernetes API server so that `make tools`
// can build it from the Go module proxy for the offline end-to-end control plane.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
