package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var samples []time.Duration
	for i := 1; i <= 100; i++ {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.50, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := quantile(samples, tc.q); got != tc.want {
			t.Errorf("quantile(1..100 ms, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("quantile of one sample = %v, want it", got)
	}
}

func TestInts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10,100, 1000", []int{10, 100, 1000}, false},
		{"0", []int{0}, false},
		{"", nil, false},
		{"10,x", nil, true},
		{"-1", nil, true},
	} {
		got, err := ints(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("ints(%q) = %v, %v; want %v (an error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestWriteTableAligns(t *testing.T) {
	var b strings.Builder
	writeTable(&b, []row{{name: "idle", rss: "42 MB"}, {name: "a longer measurement", p50: "1.00 ms", note: "µs-free"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header, a rule and 2 rows:\n%s", len(lines), b.String())
	}
	for _, l := range lines[1:] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Errorf("line %q is not as wide as the header %q", l, lines[0])
		}
	}
	if !strings.Contains(lines[2], "| -") {
		t.Errorf("empty cells should print as -: %q", lines[2])
	}
}
