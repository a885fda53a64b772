package controlplane

import (
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct{ spec, from, want string }{
		{"0 0 * * * *", "2026-02-16T17:28:01Z", "2026-02-16T18:00:00Z"},       // hourly
		{"0 0 3 * * *", "2026-02-16T17:28:01Z", "2026-02-17T03:00:00Z"},       // daily
		{"0 0 3 * * *", "2026-02-16T02:59:59Z", "2026-02-16T03:00:00Z"},       // daily, same day
		{"0 0 3 * * 0", "2026-02-16T17:28:01Z", "2026-02-22T03:00:00Z"},       // weekly, Sunday
		{"0 0 3 * * 7", "2026-02-16T17:28:01Z", "2026-02-22T03:00:00Z"},       // 7 is Sunday too
		{"*/15 * * * * *", "2026-02-16T17:28:01Z", "2026-02-16T17:28:15Z"},    // steps
		{"0 30 1-2 1,15 * ?", "2026-02-16T17:28:01Z", "2026-03-01T01:30:00Z"}, // ranges, lists
		{"0 0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},      // leap day
		{"0 0 3 * * *", "2026-02-16T03:00:00Z", "2026-02-17T03:00:00Z"},       // strictly after
		{"0 0 12 13 * 5", "2026-02-14T00:00:00Z", "2026-02-20T12:00:00Z"},     // either day field
	} {
		c, err := parseCron(tt.spec)
		if err != nil {
			t.Errorf("parseCron(%q): %v", tt.spec, err)
			continue
		}
		if got := c.next(at(tt.from)); !got.Equal(at(tt.want)) {
			t.Errorf("%q after %s = %s, want %s", tt.spec, tt.from, got.Format(time.RFC3339), tt.want)
		}
	}
	for _, bad := range []string{"0 * * * *", "60 * * * * *", "0 0 3 * * MON", "@daily", "0 0 25 * * *", "*/0 * * * * *"} {
		if _, err := parseCron(bad); err == nil {
			t.Errorf("parseCron(%q) accepted", bad)
		}
	}
}
