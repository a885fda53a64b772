package kube

import (
	"fmt"
	"log/slog"
)

// redacted is what a Sensitive value prints as.
const redacted = "[redacted]"

// Sensitive is a secret string (a password, a URI holding one) that is
// never printed, logged or marshalled: fmt (every verb), encoding/json,
// encoding.TextMarshaler users (YAML, zerolog) and log/slog all see
// "[redacted]". Reveal returns the value.
type Sensitive string

// Reveal returns the secret value, for the one place that needs it.
func (s Sensitive) Reveal() string { return string(s) }

// String is "[redacted]", or "" for an empty value.
func (s Sensitive) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from showing the value.
func (s Sensitive) GoString() string { return fmt.Sprintf("kube.Sensitive(%q)", s.String()) }

// Format applies to every verb, so that not even %x or %d leak the value.
func (s Sensitive) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalText is "[redacted]"; encoding/json uses it too.
func (s Sensitive) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue is "[redacted]" for log/slog.
func (s Sensitive) LogValue() slog.Value { return slog.StringValue(s.String()) }
