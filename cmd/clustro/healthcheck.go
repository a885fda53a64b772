package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/spf13/cobra"
)

// healthcheckCmd probes a local serve's /healthz: the container image's
// HEALTHCHECK, which has no curl.
func healthcheckCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local clustro serve answers /healthz (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen := e.getenv("CLUSTRO_LISTEN")
			if listen == "" {
				listen = ":8080"
			}
			host, port, err := net.SplitHostPort(listen)
			if err != nil {
				return cli.Usagef("CLUSTRO_LISTEN %q is not host:port", listen)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			c := &http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
			if err != nil {
				return fmt.Errorf("healthz: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthz answered %s", resp.Status)
			}
			fmt.Fprintln(e.stdout, "ok")
			return nil
		},
	}
}
