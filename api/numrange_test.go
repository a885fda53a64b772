package api

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

// TestRangePattern: the pattern of lo-hi matches every number in the range
// and no other, written without leading zeros.
func TestRangePattern(t *testing.T) {
	check := func(lo, hi, from, to int64) {
		t.Helper()
		re := regexp.MustCompile(`^(` + rangePattern(lo, hi) + `)$`)
		for n := from; n <= to; n++ {
			if got, want := re.MatchString(strconv.FormatInt(n, 10)), lo <= n && n <= hi; got != want {
				t.Fatalf("%d-%d: %s matches %d: %v, want %v", lo, hi, re, n, got, want)
			}
		}
		for _, s := range []string{"", "0", "0" + strconv.FormatInt(lo, 10), "+" + strconv.FormatInt(lo, 10), strconv.FormatInt(lo, 10) + ".0"} {
			if re.MatchString(s) {
				t.Fatalf("%d-%d: %s matches %q", lo, hi, re, s)
			}
		}
	}
	// Every range within 1-64, exhaustively, and ranges across several
	// lengths of number.
	for lo := int64(1); lo <= 64; lo++ {
		for hi := lo; hi <= 64; hi++ {
			check(lo, hi, 1, 70)
		}
	}
	for _, lo := range []int64{1, 9, 10, 11, 99, 100, 101, 123, 999, 1000, 1024} {
		for _, hi := range []int64{1024, 1099, 1100, 2047, 2048, 9999, 10000, 10001, 12345} {
			if lo <= hi {
				check(lo, hi, 1, 13000)
			}
		}
	}
	// The storage ranges of the default policy (2Ti), around their ends.
	for _, r := range [][2]int64{{1024, 2 << 20}, {1, 2048}, {1, 2}, {1024, 1024}} {
		check(r[0], r[1], 1, 3000)
		check(r[0], r[1], r[1]-3000, r[1]+3000)
	}
	// Random wide ranges, at random points and around their ends.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		lo := rng.Int64N(1 << 30)
		hi := lo + rng.Int64N(1<<32)
		lo++
		re := regexp.MustCompile(`^(` + rangePattern(lo, hi) + `)$`)
		for range 200 {
			n := rng.Int64N(hi * 2)
			if got, want := re.MatchString(strconv.FormatInt(n, 10)), lo <= n && n <= hi; got != want {
				t.Fatalf("%d-%d: matches %d: %v, want %v", lo, hi, n, got, want)
			}
		}
		check(lo, hi, lo-50, lo+50)
		check(lo, hi, hi-50, hi+50)
	}
}
