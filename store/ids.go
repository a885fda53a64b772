package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// idEncoding is base32hex in lower case: its alphabet is in ASCII order,
// so ids sort by the time they were made.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// newID returns a new 20-character id: the time in microseconds, then 32
// random bits, so ids made in the same microsecond still differ.
func newID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMicro()))
	rand.Read(b[8:]) // never fails (crypto/rand panics rather than return an error)
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// NewID returns a new request or job id, for callers that need the id of a
// request before they create it (to name its branch or its jobs' lanes).
func NewID() string { return newID(time.Now()) }
