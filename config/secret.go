package config

import "encoding/json"

// Secret is a credential from the config or the environment (a token, a
// signing or webhook secret). It prints, logs and marshals as "[redacted]"
// (or "" when unset), so passing a config to a logger or an error never
// leaks it; Value returns the secret itself for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes the redacted form (YAML encoders, zerolog).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the secret from a config file.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// UnmarshalJSON reads the secret from a config file (through JSON).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}
