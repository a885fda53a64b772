package request_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/request"
)

func timep(t time.Time) *time.Time { return &t }

func restoreReq(env string, r *request.Restore) request.DatabaseRequest {
	req := base(env)
	req.Name = "ledger-restored"
	req.Restore = r
	return req
}

// TestResolveRestore: a restore is a new database whose source and target
// time are checked with field-named problems; the environment's rules
// apply as to any new database.
func TestResolveRestore(t *testing.T) {
	p := policy(t)
	past := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		env   string
		edit  func(r *request.DatabaseRequest)
		field string // "" accepts
		msg   string
	}{
		{"latest", "prod", func(r *request.DatabaseRequest) {}, "", ""},
		{"to a time", "prod", func(r *request.DatabaseRequest) { r.Restore.TargetTime = timep(past) }, "", ""},
		{"dev without backups", "dev", func(r *request.DatabaseRequest) { r.ClientType = request.Startup }, "", ""},
		{"prod still requires backups", "prod", func(r *request.DatabaseRequest) { r.Backups.Schedule = request.NoBackups },
			"backups.schedule", "prod requires backups"},
		{"no source", "prod", func(r *request.DatabaseRequest) { r.Restore.Source = "" }, "restore.source", "required"},
		{"source not a name", "prod", func(r *request.DatabaseRequest) { r.Restore.Source = "Ledger_1" }, "restore.source", `"Ledger_1" is not a database name`},
		{"source too long", "prod", func(r *request.DatabaseRequest) { r.Restore.Source = strings.Repeat("a", request.MaxNameLength()+1) },
			"restore.source", "is not a database name"},
		{"source is the new database", "prod", func(r *request.DatabaseRequest) { r.Restore.Source = r.Name }, "restore.source", "never overwrites"},
		{"future", "prod", func(r *request.DatabaseRequest) { r.Restore.TargetTime = timep(time.Now().Add(time.Hour)) }, "restore.targetTime", "is in the future"},
		{"before any backup", "prod", func(r *request.DatabaseRequest) {
			r.Restore.TargetTime = timep(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC))
		},
			"restore.targetTime", "no backup can cover it"},
		{"restore on a resize", "prod", func(r *request.DatabaseRequest) { r.Kind = request.Resize }, "restore", "kind create"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := restoreReq(tc.env, &request.Restore{Source: "ledger"})
			tc.edit(&r)
			got, err := p.Resolve(r)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("resolve: %v", err)
				}
				if got.Restore == nil || got.Restore.Source != r.Restore.Source {
					t.Fatalf("restore lost: %+v", got.Restore)
				}
				if got.Restore == r.Restore {
					t.Error("Resolve shares the request's Restore")
				}
				return
			}
			var pr request.Problems
			if !errors.As(err, &pr) || !pr.Has(tc.field) {
				t.Fatalf("got %v, want a problem with %s", err, tc.field)
			}
			if !strings.Contains(pr.Error(), tc.msg) {
				t.Errorf("problems %q do not say %q", pr.Error(), tc.msg)
			}
		})
	}
}

// TestResolveRestoreNormalisesToUTC: a target time given with an offset
// comes back in UTC; the request is not changed.
func TestResolveRestoreNormalisesToUTC(t *testing.T) {
	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	r := restoreReq("prod", &request.Restore{Source: "ledger", TargetTime: &at})
	got, err := policy(t).Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	if tt := got.Restore.TargetTime; tt.Location() != time.UTC || !tt.Equal(at) || tt.Hour() != 10 {
		t.Errorf("target time %v, want 2026-03-01T10:00:00Z", tt)
	}
	if r.Restore.TargetTime.Location() == time.UTC {
		t.Error("Resolve changed the request's target time")
	}
	// A resolved spec with a non-UTC time (written by hand) is refused.
	s := got.Spec
	s.Restore = &request.Restore{Source: "ledger", TargetTime: &at}
	err = policy(t).Validate(s)
	if err == nil || !strings.Contains(err.Error(), "restore.targetTime: 2026-03-01T11:00:00+01:00 must be in UTC") {
		t.Errorf("validate non-UTC: %v", err)
	}
}

// TestRestoreJSON: the request's JSON form is restore: {source, targetTime}
// with targetTime RFC 3339, absent for the latest.
func TestRestoreJSON(t *testing.T) {
	s := request.Spec{Name: "b", Restore: &request.Restore{Source: "a", TargetTime: timep(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"restore":{"source":"a","targetTime":"2026-03-01T10:00:00Z"}`) {
		t.Errorf("json %s", b)
	}
	s.Restore.TargetTime = nil
	b, _ = json.Marshal(s)
	if !strings.Contains(string(b), `"restore":{"source":"a"}`) {
		t.Errorf("json %s", b)
	}
	b, _ = json.Marshal(request.Spec{Name: "b"})
	if strings.Contains(string(b), "restore") {
		t.Errorf("a spec without restore writes it: %s", b)
	}
	var back request.Spec
	if err := json.Unmarshal([]byte(`{"restore":{"source":"a","targetTime":"2026-03-01 10:00"}}`), &back); err == nil {
		t.Error("a target time that is not RFC 3339 was read")
	}
}

func TestParseTargetTime(t *testing.T) {
	got, err := request.ParseTargetTime("2026-03-01T11:00:00+01:00")
	if err != nil || got.Location() != time.UTC || got.Hour() != 10 {
		t.Errorf("ParseTargetTime = %v, %v", got, err)
	}
	for _, bad := range []string{"", "2026-03-01", "2026-03-01 10:00:00", "yesterday", "2026-03-01T10:00:00"} {
		_, err := request.ParseTargetTime(bad)
		var pr request.Problems
		if !errors.As(err, &pr) || !pr.Has("restore.targetTime") || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("ParseTargetTime(%q): %v, want a restore.targetTime problem", bad, err)
		}
	}
}

func TestCheckRestoreWindow(t *testing.T) {
	p := policy(t)
	first := time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)
	last := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name        string
		target      *time.Time
		first, last time.Time
		want        string // "" accepts
	}{
		{"inside", timep(time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)), first, last, ""},
		{"first", timep(first), first, last, ""},
		{"last", timep(last), first, last, ""},
		{"latest", nil, first, last, ""},
		{"before", timep(first.Add(-time.Second)), first, last,
			"restore.targetTime: 2026-02-01T02:59:59Z is outside the recovery window of ledger (from 2026-02-01T03:00:00Z to 2026-03-01T09:30:00Z)"},
		{"after", timep(last.Add(time.Minute)), first, last,
			"restore.targetTime: 2026-03-01T09:31:00Z is outside the recovery window of ledger (from 2026-02-01T03:00:00Z to 2026-03-01T09:30:00Z)"},
		{"no backup, latest", nil, time.Time{}, time.Time{}, "restore.source: ledger has no backup to restore from"},
		{"no backup, a time", timep(first), time.Time{}, time.Time{}, "restore.source: ledger has no backup to restore from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := p.CheckRestoreWindow(request.Restore{Source: "ledger", TargetTime: tc.target}, tc.first, tc.last)
			if tc.want == "" {
				if pr != nil {
					t.Fatalf("refused: %v", pr)
				}
				return
			}
			if !strings.HasPrefix(pr.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s", pr.Error(), tc.want)
			}
		})
	}
}

// TestRestoreOrigin: the source's ObjectStore and serverName are the names
// the source database itself gets.
func TestRestoreOrigin(t *testing.T) {
	o := request.Restore{Source: "ledger"}.Origin()
	n := request.NamesFor("ledger", request.Daily)
	if o.ObjectStore != n.ObjectStore || o.ServerName != n.Cluster {
		t.Errorf("origin %+v, want store %s, server %s", o, n.ObjectStore, n.Cluster)
	}
}
