package terraform

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// init runs `terraform init -input=false` in the job's directory. Providers
// come from wherever the CLI config says (a filesystem mirror, for
// ClustroPG): the runner never sets a plugin cache directory, which
// concurrent inits would race on. With backend false the backend is not
// initialised (for validate); otherwise it is configured as the
// workspace's files say.
func (j *job) init(ctx context.Context, backend bool) error {
	// terraform-exec asks terraform for its version before some commands:
	// ask first, so that the answer is not mixed into init's output.
	var v string
	err := j.exec(ctx, "version", true, func() error {
		ver, _, err := j.tf.Version(ctx, false)
		if err == nil {
			v = ver.String()
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(&j.log, "%s\n", v)
	j.logger.Debug().Str("version", v).Msg("terraform version")

	return j.exec(ctx, "init", false, func() error {
		return j.tf.Init(ctx, tfexec.Backend(backend))
	})
}
