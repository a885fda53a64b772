package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

// flagOf names the render flag of each request field, so that a problem
// names what the user typed.
var flagOf = map[string]string{
	"kind":              "--kind",
	"name":              "--name",
	"team":              "--team",
	"environment":       "--env",
	"clientType":        "--client-type",
	"load":              "--load",
	"size":              "--size",
	"instances":         "--instances",
	"postgresVersion":   "--pg",
	"storage":           "--storage",
	"backups.schedule":  "--backups",
	"backups.hour":      "--backup-hour",
	"backups.retention": "--retention",
	"logicalBackup":     "--logical-backup",
	"databases":         "--databases",
}

func renderCmd(e *env) *cobra.Command {
	var (
		r          request.DatabaseRequest
		size, load string
		client     string
		backups    string
		hour       int
		out        string
		withModule bool
	)
	cmd := &cobra.Command{
		Use:   "render --name NAME --team TEAM --env ENV [flags]",
		Short: "Render the Terraform workspace of a database request",
		Long: `Render writes databases/<env>/<team>/<name>/{main.tf,catalog-info.yaml}
under --out (with --with-module also modules/cnpg-database, so the directory is a
complete infra repo tree), or prints the files when --out is not given.

Give --size, or --load and --client-type to have it sized from the presets
(clustro sizes). Bad input exits with status 2, one line per problem, and
writes nothing.`,
		Example: `  clustro render --name ledger --team billing --env prod --size M --backups daily
  clustro render --name ledger --team billing --env prod --load medium --client-type sme --out infra --with-module`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&r.Name, "name", "", "database name (lowercase, a DNS label)")
	f.StringVar(&r.Team, "team", "", "owning team")
	f.StringVar(&r.Environment, "env", "", "environment (see clustro sizes)")
	f.StringVar(&size, "size", "", "size preset: S, M, L or XL (overrides --load)")
	f.StringVar(&load, "load", "", "expected load: small, medium, big or very-big")
	f.StringVar(&client, "client-type", "", "client type: startup, sme or enterprise")
	f.IntVar(&r.Instances, "instances", 0, "number of instances (default: from client type and environment)")
	f.IntVar(&r.PostgresVersion, "pg", 0, "PostgreSQL major version (default: the platform's)")
	f.StringVar(&r.Storage, "storage", "", "data volume size per instance, e.g. 100Gi (default: the preset's)")
	f.StringVar(&backups, "backups", "", "continuous backups: none, hourly, daily or weekly (default: from client type and environment)")
	f.IntVar(&hour, "backup-hour", 0, "hour of day (UTC, 0-23) of daily and weekly backups")
	f.StringVar(&r.Backups.Retention, "retention", "", "backup retention, e.g. 14d, 4w, 3m")
	f.BoolVar(&r.LogicalBackup, "logical-backup", false, "also run a nightly pg_dump into the object store")
	f.StringSliceVar(&r.Databases, "databases", nil, "extra databases, comma separated")
	f.StringVar(&r.ID, "id", "", "request id to record in the catalog entity")
	f.StringVar(&out, "out", "", "directory to write into (the infra repo root); prints the files when empty")
	f.BoolVar(&withModule, "with-module", false, "also write modules/cnpg-database")
	cfgPath := configFlag(cmd, e)

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		r.Size = request.Size(size)
		r.Load = request.Load(load)
		r.ClientType = request.ClientType(client)
		r.Backups.Schedule = request.Schedule(backups)
		if cmd.Flags().Changed("backup-hour") {
			r.Backups.Hour = &hour
		}
		r.Origin = request.Origin{Kind: request.OriginCLI}
		resolved, err := cfg.Policy.Resolve(r)
		if err != nil {
			return problemsAsUsage(err)
		}
		tc, err := templates.New(cfg.Templates())
		if err != nil {
			return cli.Usagef("%v", err)
		}
		ws, err := tc.Render(resolved)
		if err != nil {
			return err
		}
		files := map[string][]byte{}
		for name, b := range ws.Files {
			files[filepath.Join(ws.Dir, name)] = b
		}
		if withModule {
			mod, err := tc.Module()
			if err != nil {
				return err
			}
			for name, b := range mod {
				files[filepath.Join(templates.ModuleDir, name)] = b
			}
		}
		if out == "" {
			for _, name := range sortedNames(files) {
				fmt.Fprintf(e.stdout, "# ---- %s\n%s\n", name, files[name])
			}
			return nil
		}
		for _, name := range sortedNames(files) {
			p := filepath.Join(out, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("write workspace: %w", err)
			}
			if err := os.WriteFile(p, files[name], 0o644); err != nil {
				return fmt.Errorf("write workspace: %w", err)
			}
		}
		fmt.Fprintf(e.stdout, "wrote %s (%s, size %s, %d instance(s), backups %s)\n",
			filepath.Join(out, ws.Dir), resolved.Environment, resolved.Size, resolved.Instances, resolved.Backups.Schedule)
		return nil
	}
	return cmd
}

// problemsAsUsage turns request problems into a usage error with one line
// per problem, naming the flag.
func problemsAsUsage(err error) error {
	probs, ok := err.(request.Problems)
	if !ok {
		return err
	}
	lines := make([]string, len(probs))
	for i, p := range probs {
		flag := flagOf[p.Field]
		if flag == "" {
			flag = p.Field
		}
		lines[i] = flag + ": " + p.Message
	}
	return cli.Usagef("%s", strings.Join(lines, "\n"))
}
