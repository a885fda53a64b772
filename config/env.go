package config

import (
	"fmt"
	"slices"
	"strconv"
)

// envVar is one CLUSTRO_* override: its name, what it sets, and how.
type envVar struct {
	name, doc string
	set       func(c *Config, v string) error
}

// envVars is every CLUSTRO_* override, section by section (each section's
// list lives with its type), in the order Load applies them and EnvVars
// lists them.
var envVars = slices.Concat(serverEnvVars, slackEnvVars, gitHubEnvVars, grafanaEnvVars, apiEnvVars, terraformRunEnvVars, kubernetesEnvVars, watchEnvVars)

// grafanaEnvVars sets the grafana section (request.Grafana).
var grafanaEnvVars = []envVar{
	{"CLUSTRO_GRAFANA_URL", "grafana.url: Grafana base URL for dashboard links", func(c *Config, v string) error { c.Grafana.URL = v; return nil }},
}

// EnvVars lists the environment overrides with what each sets, for the README.
func EnvVars() [][2]string {
	out := make([][2]string, 0, len(envVars))
	for _, v := range envVars {
		out = append(out, [2]string{v.name, v.doc})
	}
	return out
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*dst = n
	return nil
}

func setInt64(dst *int64, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*dst = n
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not true or false", v)
	}
	*dst = b
	return nil
}
