package api

import (
	"slices"
	"strconv"
	"strings"
)

// rangePattern is a regular expression (without anchors, for JSON Schema's
// ECMA-262 patterns and Go's RE2 alike) that matches exactly the decimal
// numbers from lo to hi, written without leading zeros; 1 <= lo <= hi.
//
// The range is cut where the numbers change length or a digit stops
// running through 0-9 (1-2048 becomes 1-9, 10-99, 100-999, 1000-1999,
// 2000-2039, 2040-2048), and each piece becomes one digit class per
// position: 1[0-9]{3}, 20[0-3][0-9], 204[0-8].
func rangePattern(lo, hi int64) string {
	var alts []string
	start := lo
	for _, stop := range rangeStops(lo, hi) {
		alts = append(alts, piecePattern(strconv.FormatInt(start, 10), strconv.FormatInt(stop, 10)))
		start = stop + 1
	}
	return strings.Join(alts, "|")
}

// rangeStops are the ends of the pieces of lo-hi: lo with its last 1, 2,
// ... digits turned to 9, and hi+1 with its last 1, 2, ... digits turned
// to 0, less one, while they stay inside the range; and hi.
func rangeStops(lo, hi int64) []int64 {
	stops := []int64{hi}
	for n := 1; ; n++ {
		stop := ninesFrom(lo, n)
		if stop < lo || stop > hi {
			break
		}
		stops = append(stops, stop)
	}
	for n := 1; ; n++ {
		stop := zerosFrom(hi+1, n) - 1
		if stop < lo || stop > hi {
			break
		}
		stops = append(stops, stop)
	}
	slices.Sort(stops)
	return slices.Compact(stops)
}

// ninesFrom is v with its last n digits 9 (999 when v has fewer digits).
func ninesFrom(v int64, n int) int64 {
	s := strconv.FormatInt(v, 10)
	keep := max(len(s)-n, 0)
	out, _ := strconv.ParseInt(s[:keep]+strings.Repeat("9", n), 10, 64)
	return out
}

// zerosFrom is v with its last n digits 0.
func zerosFrom(v int64, n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return v - v%p
}

// piecePattern matches the numbers from a to b, two numbers of the same
// length where, from the first position they differ, a's digits run up
// to 0...0 and b's to 9...9 (as rangeStops cuts them).
func piecePattern(a, b string) string {
	var out strings.Builder
	anyDigits := 0
	flush := func() {
		switch anyDigits {
		case 0:
		case 1:
			out.WriteString("[0-9]")
		default:
			out.WriteString("[0-9]{" + strconv.Itoa(anyDigits) + "}")
		}
		anyDigits = 0
	}
	for i := range len(a) {
		switch {
		case a[i] == b[i]:
			flush()
			out.WriteByte(a[i])
		case a[i] == '0' && b[i] == '9':
			anyDigits++
		default:
			flush()
			out.WriteString("[" + string(a[i]) + "-" + string(b[i]) + "]")
		}
	}
	flush()
	return out.String()
}
