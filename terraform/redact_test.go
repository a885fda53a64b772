package terraform

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/rs/zerolog"
)

func TestRedactor(t *testing.T) {
	tests := []struct {
		name     string
		secrets  []string
		derived  []string
		in, want string
	}{
		{"nothing to redact", nil, nil, "token abc", "token abc"},
		{"every occurrence", []string{"hunter2"}, nil, "hunter2 and hunter2", "[redacted] and [redacted]"},
		{"empty secret ignored", []string{""}, nil, "text", "text"},
		{"longest first", []string{"abc", "abcdef"}, nil, "abcdef abc", "[redacted] [redacted]"},
		{"escaped in JSON", []string{`pa"ss\word`}, nil, `{"v":"pa\"ss\\word"} pa"ss\word`, `{"v":"[redacted]"} [redacted]`},
		{"short configured secret kept", []string{"ab"}, nil, "ab cd", "[redacted] cd"},
		{"short derived value ignored", nil, []string{"true", "db"}, "true db", "true db"},
		{"long derived value", nil, []string{"s3cr3t-value"}, "x=s3cr3t-value", "x=[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRedactor(tt.secrets...)
			r.addDerived(tt.derived...)
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	many := strings.Repeat("line\n", 100)
	long := strings.Repeat("x", 100) + "\n" + strings.Repeat("y", tailBytes) + "\nlast"
	tests := []struct {
		name, in string
		check    func(string) bool
	}{
		{"short output whole", "a\nb\n", func(s string) bool { return s == "a\nb" }},
		{"at most tailLines lines", many, func(s string) bool { return strings.Count(s, "\n") == tailLines-1 }},
		{"at most tailBytes, whole lines", long, func(s string) bool { return len(s) <= tailBytes && s == "last" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tail(tt.in); !tt.check(got) {
				t.Errorf("tail = %q", got)
			}
		})
	}
}

func TestSensitiveValues(t *testing.T) {
	p := &tfjson.Plan{
		ResourceChanges: []*tfjson.ResourceChange{{
			Address: "x.y",
			Change: &tfjson.Change{
				Before:          map[string]any{"password": "old-password", "name": "public-name"},
				BeforeSensitive: map[string]any{"password": true},
				After: map[string]any{
					"password": "new-password",
					"name":     "public-name",
					"tokens":   []any{"public-token", "private-token"},
					"nested":   map[string]any{"all": []any{"deep-secret-1", map[string]any{"k": "deep-secret-2"}}},
				},
				AfterSensitive: map[string]any{
					"password": true,
					"tokens":   []any{false, true},
					"nested":   true,
				},
			},
		}},
		OutputChanges: map[string]*tfjson.Change{
			"conn":   {After: "postgres://user:pw@host", AfterSensitive: true},
			"public": {After: "public-output", AfterSensitive: false},
		},
		Variables: map[string]*tfjson.PlanVariable{
			"db_password": {Value: "variable-secret"},
			"db_name":     {Value: "public-variable"},
		},
		Config: &tfjson.Config{RootModule: &tfjson.ConfigModule{Variables: map[string]*tfjson.ConfigVariable{
			"db_password": {Sensitive: true},
			"db_name":     {},
		}}},
	}
	got := sensitiveValues(p)
	slices.Sort(got)
	want := []string{"deep-secret-1", "deep-secret-2", "new-password", "old-password", "postgres://user:pw@host", "private-token", "variable-secret"}
	if !slices.Equal(got, want) {
		t.Errorf("sensitiveValues = %q, want %q", got, want)
	}
}

// TestRedaction runs a workspace that carries a configured secret in a
// value terraform does not know is sensitive, and a secret variable given
// with WithVars, through a plan, an apply and a failing apply, and looks
// for either secret in everything the runner returned or logged.
func TestRedaction(t *testing.T) {
	t.Parallel()
	const (
		configured = "FAKE-s3cr3t-token-4242"
		password   = "FAKE-pw-correct-horse"
	)
	f := newInfra(t)
	ws := f.workspace(t, "a", map[string]any{"note": configured})
	var logs bytes.Buffer
	r := newRunner(t, WithSecrets(configured), WithLogger(zerolog.New(&logs).Level(zerolog.DebugLevel)))
	vars := WithVars(map[string]string{"password": password})
	ctx := context.Background()

	var captured []string // every string the runner handed back
	plan, err := r.Plan(ctx, ws, vars)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	captured = append(captured, plan.Text, plan.Log)
	for _, want := range []string{`input  = "[redacted]"`, "(sensitive value)"} {
		if !strings.Contains(plan.Text, want) {
			t.Errorf("plan text lacks %s:\n%s", want, plan.Text)
		}
	}

	res, err := r.Apply(ctx, ws, vars)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	captured = append(captured, res.Plan.Text, res.Log, string(res.RawOutputs))
	for k, v := range res.Outputs {
		captured = append(captured, k, v)
	}

	f.set(t, ws, map[string]any{"note": configured, "fail": true})
	res, err = r.Apply(ctx, ws, vars)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("failing Apply: %v, want an *Error", err)
	}
	if te.Command != "apply" || te.Cancelled() {
		t.Errorf("failing Apply: command %q, cancelled %v", te.Command, te.Cancelled())
	}
	if !strings.Contains(te.Output, "cannot go on with [redacted]") {
		t.Errorf("error output lacks the provisioner's redacted message:\n%s", te.Output)
	}
	if res == nil {
		t.Fatal("failing Apply returned no result")
	}
	captured = append(captured, err.Error(), te.Output, te.Err.Error(), res.Log, res.Plan.Text)
	captured = append(captured, logs.String())

	for i, s := range captured {
		for _, secret := range []string{configured, password} {
			if strings.Contains(s, secret) {
				t.Errorf("captured string %d holds secret %q:\n%s", i, secret, s)
			}
		}
	}
}
