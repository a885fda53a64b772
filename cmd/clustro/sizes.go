package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/request"
)

func sizesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sizes",
		Short: "Print the sizing presets and the defaults per client type and environment",
		Args:  cobra.NoArgs,
	}
	cfgPath := configFlag(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		writeSizes(e, &cfg.Policy)
		return nil
	}
	return cmd
}

func writeSizes(e *env, p *request.Policy) {
	loadsOf := map[request.Size][]string{}
	for _, l := range request.Loads() {
		loadsOf[p.LoadSize(l)] = append(loadsOf[p.LoadSize(l)], string(l))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZE\tLOAD\tCPU (req/limit)\tMEMORY (req/limit)\tSTORAGE\tWAL\tMAX_CONNECTIONS\tSHARED_BUFFERS\tEFFECTIVE_CACHE\tWORK_MEM\tDESCRIPTION")
	for _, s := range request.Sizes() {
		sp, _ := p.Preset(s)
		params := sp.Parameters()
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s, strings.Join(loadsOf[s], ","),
			sp.CPU.Request, sp.CPU.Limit, sp.Memory.Request, sp.Memory.Limit, sp.Storage, sp.WALStorage,
			params["max_connections"], params["shared_buffers"], params["effective_cache_size"], params["work_mem"], sp.Description)
	}
	tw.Flush()
	fmt.Fprintln(e.stdout, "\nCPU, memory and volumes are per instance.")

	fmt.Fprintln(e.stdout, "\nDefaults by client type and environment (instances, backups, retention):")
	envs := p.EnvironmentNames()
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CLIENT TYPE\t%s\n", strings.ToUpper(strings.Join(envs, "\t")))
	for _, ct := range request.ClientTypes() {
		row := []string{string(ct)}
		for _, env := range envs {
			pr, _ := p.Profile(ct, env)
			cell := fmt.Sprintf("%d, %s", pr.Instances, pr.Backups)
			if pr.Backups != request.NoBackups {
				cell += ", " + pr.Retention
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()

	fmt.Fprintln(e.stdout, "\nEnvironments:")
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tSIZES\tINSTANCES\tBACKUPS")
	for _, env := range envs {
		o, _ := p.Offer(env)
		sizes := make([]string, len(o.Sizes))
		for i, s := range o.Sizes {
			sizes[i] = string(s)
		}
		req := "optional"
		if o.BackupsRequired {
			req = "required"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d-%d\t%s\n", env, strings.Join(sizes, ","), o.MinInstances, o.MaxInstances, req)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\nPostgreSQL versions: %v (default %d)\n", p.Versions(), p.Postgres.Default)
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
