package config

import (
	"strings"
	"testing"
	"time"
)

// TestServerLimits: what unauthenticated clients may cost, from the
// defaults, the file (a quantity or a plain number of bytes) and the
// environment.
func TestServerLimits(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		env         map[string]string
		budget      int64
		readTimeout time.Duration
		maxConns    int
	}{
		{"defaults", "", nil, 64 << 20, 20 * time.Second, 1024},
		{"file, quantity", "server: {bodyBudget: 128Mi, readTimeout: 1m, maxConnections: 4096}\n", nil, 128 << 20, time.Minute, 4096},
		{"file, bytes", "server: {bodyBudget: 33554432}\n", nil, 32 << 20, 20 * time.Second, 1024},
		{"environment", "server: {bodyBudget: 128Mi}\n",
			map[string]string{"CLUSTRO_BODY_BUDGET": "32Mi", "CLUSTRO_READ_TIMEOUT": "15s", "CLUSTRO_MAX_CONNECTIONS": "256"},
			32 << 20, 15 * time.Second, 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			c, err := Load(path, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if s := c.Server; s.BodyBudget.Bytes() != tc.budget || s.ReadTimeout.D() != tc.readTimeout || s.MaxConnections != tc.maxConns {
				t.Errorf("bodyBudget %d, readTimeout %s, maxConnections %d; want %d, %s, %d",
					s.BodyBudget, s.ReadTimeout.D(), s.MaxConnections, tc.budget, tc.readTimeout, tc.maxConns)
			}
		})
	}
}

func TestServerLimitsValidated(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"CLUSTRO_BODY_BUDGET": "a lot", "CLUSTRO_READ_TIMEOUT": "soon", "CLUSTRO_MAX_CONNECTIONS": "many"},
			[]string{`CLUSTRO_BODY_BUDGET: "a lot" is not a size like 64Mi or 1Gi`, `CLUSTRO_READ_TIMEOUT: "soon" is not a duration`,
				`CLUSTRO_MAX_CONNECTIONS: "many" is not a whole number`}},
		{map[string]string{"CLUSTRO_BODY_BUDGET": "10Mi", "CLUSTRO_READ_TIMEOUT": "1s", "CLUSTRO_MAX_CONNECTIONS": "4"},
			[]string{"server.bodyBudget (CLUSTRO_BODY_BUDGET): 10Mi is below 25Mi, GitHub's largest delivery",
				"server.readTimeout (CLUSTRO_READ_TIMEOUT): 1s is below 5s", "server.maxConnections (CLUSTRO_MAX_CONNECTIONS): 4 is below 16"}},
		{map[string]string{"CLUSTRO_BODY_BUDGET": "-64Mi"}, []string{`CLUSTRO_BODY_BUDGET: "-64Mi" is not a size`}},
	}
	for _, tc := range tests {
		_, err := Load("", func(k string) string { return tc.env[k] })
		if err == nil {
			t.Errorf("%v accepted", tc.env)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	}
}

func TestStoreKindHidesCredentials(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:pw@db:5432/clustro?sslmode=require&password=qp": "postgres postgres://db:5432/clustro",
		"host=db password=kv dbname=x":                                "postgres (key=value DSN)",
		"./clustro.db":                                                "sqlite ./clustro.db",
	} {
		if got := StoreKind(dsn); got != want {
			t.Errorf("StoreKind(%q) = %q, want %q", dsn, got, want)
		}
	}
}
