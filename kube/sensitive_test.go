package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"sigs.k8s.io/yaml"
)

const testPassword = "s3cr3t-hunter2"

func testConnection() Connection {
	return Connection{
		Namespace: "billing-prod", Cluster: "ledger",
		RWHost: "ledger-rw.billing-prod.svc.cluster.local", ROHost: "ledger-ro.billing-prod.svc.cluster.local", Port: 5432,
		Database: "app", User: "app", Password: testPassword,
		URI:        "postgresql://app:" + testPassword + "@ledger-rw.billing-prod.svc.cluster.local:5432/app",
		SecretName: "ledger-app", SecretHost: "ledger-rw", SecretPort: 5432,
	}
}

func TestConnectionNeverShowsThePassword(t *testing.T) {
	conn := testConnection()
	var slogJSON, slogText, zl bytes.Buffer
	slog.New(slog.NewJSONHandler(&slogJSON, nil)).Info("ready", "conn", conn, "password", conn.Password)
	slog.New(slog.NewTextHandler(&slogText, nil)).Info("ready", "conn", conn, "password", conn.Password)
	zlog := zerolog.New(&zl)
	zlog.Info().Interface("conn", conn).Stringer("password", conn.Password).Any("uri", conn.URI).Msg("ready")

	tests := []struct {
		name string
		out  func() string
	}{
		{"pointer %+v", func() string { return fmt.Sprintf("%+v", &conn) }},
		{"in a struct %+v", func() string { return fmt.Sprintf("%+v", struct{ C Connection }{conn}) }},
		{"password %v", func() string { return fmt.Sprintf("%v", conn.Password) }},
		{"password %#v", func() string { return fmt.Sprintf("%#v", conn.Password) }},
		{"password %x", func() string { return fmt.Sprintf("%x", conn.Password) }},
		{"uri %s", func() string { return fmt.Sprintf("%s", conn.URI) }},
		{"json", func() string { b, _ := json.Marshal(conn); return string(b) }},
		{"yaml", func() string { b, _ := yaml.Marshal(conn); return string(b) }},
		{"slog JSON", slogJSON.String},
		{"slog text", slogText.String},
		{"zerolog", zl.String},
	}
	// Every verb, including those fmt does not hand to String (%d): the
	// format is a variable so that vet lets the odd ones through.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		tests = append(tests, struct {
			name string
			out  func() string
		}{verb, func() string { return fmt.Sprintf(verb, conn) }})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out()
			if strings.Contains(out, testPassword) || strings.Contains(out, fmt.Sprintf("%x", testPassword)) {
				t.Errorf("shows the password: %s", out)
			}
			if out == "" {
				t.Error("empty output")
			}
		})
	}
	if conn.Password.Reveal() != testPassword {
		t.Error("Reveal does not return the password")
	}
}

func TestConnectionString(t *testing.T) {
	want := "postgresql://app@ledger-rw.billing-prod.svc.cluster.local:5432/app (password in secret billing-prod/ledger-app)"
	if got := testConnection().String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCheckErrorScrubsThePassword(t *testing.T) {
	err := checkFailed(testConnection(), CheckDirect, "127.0.0.1:1", fmt.Errorf("server said: password %s is wrong", testPassword))
	if strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), "password [redacted] is wrong") {
		t.Errorf("error %q: want the password scrubbed", err)
	}
}
