package terraform_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/terraform"
)

// A Runner applies the workspace of one database from a checkout of the
// infrastructure repository, with providers from the offline mirror.
func ExampleRunner_Apply() {
	bin, err := terraform.Find()
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := terraform.New(
		terraform.WithBinary(bin),
		terraform.WithCLIConfig("/srv/clustro/terraformrc"),
		terraform.WithEnv(map[string]string{"KUBE_CONFIG_PATH": "/srv/clustro/kubeconfig"}),
		terraform.WithSecrets(os.Getenv("CLUSTRO_BACKUP_SECRET")),
		terraform.WithTimeout(20*time.Minute),
		terraform.WithLogger(zerolog.New(os.Stderr)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ws := terraform.Workspace{Root: "/srv/clustro/infra", Dir: "databases/prod/billing/ledger"}
	res, err := r.Apply(context.Background(), ws)
	var tfErr *terraform.Error
	switch {
	case errors.As(err, &tfErr) && tfErr.Cancelled():
		fmt.Println("timed out or cancelled; retry later:", tfErr.Command)
	case err != nil:
		fmt.Println(err) // redacted; res, if not nil, has the whole log
	default:
		fmt.Println(res.Plan.Summary)
		fmt.Println(res.Outputs["rw_host"])
	}
}
