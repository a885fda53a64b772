// Command etcd wraps etcd's server so that `make tools` can build it from the
// Go module proxy (etcd's own module has replace directives, which `go install`
// refuses).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
