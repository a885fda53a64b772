package terraform

import (
	"encoding/json"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// redacted replaces every secret in what the runner returns or logs.
const redacted = "[redacted]"

// minDerivedSecret is the length below which values the runner finds for
// itself (WithVars values, values the plan marks sensitive) are not
// redacted: replacing "db" or "true" everywhere would garble the output and
// protect nothing.
const minDerivedSecret = 6

// redactor replaces secrets in strings. It belongs to one job and is not
// safe for concurrent use.
type redactor struct {
	secrets  map[string]bool
	replacer *strings.Replacer // nil until needed after a change
}

func newRedactor(secrets ...string) *redactor {
	r := &redactor{secrets: map[string]bool{}}
	r.add(secrets...)
	return r
}

// add redacts secrets from now on, each also as it appears inside a JSON
// (or HCL) string, with its quotes and backslashes escaped.
func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		if s == "" || r.secrets[s] {
			continue
		}
		r.secrets[s] = true
		if b, err := json.Marshal(s); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != s {
				r.secrets[esc] = true
			}
		}
		r.replacer = nil
	}
}

// addDerived adds the secrets that are long enough (see minDerivedSecret).
func (r *redactor) addDerived(values ...string) {
	for _, v := range values {
		if len(v) >= minDerivedSecret {
			r.add(v)
		}
	}
}

// String returns s with every secret replaced.
func (r *redactor) String(s string) string {
	if len(r.secrets) == 0 {
		return s
	}
	if r.replacer == nil {
		// The longest first: a secret containing another is replaced
		// whole.
		list := make([]string, 0, len(r.secrets))
		for s := range r.secrets {
			list = append(list, s)
		}
		slices.SortFunc(list, func(a, b string) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return strings.Compare(a, b)
		})
		pairs := make([]string, 0, 2*len(list))
		for _, s := range list {
			pairs = append(pairs, s, redacted)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r.replacer.Replace(s)
}

// Limits of the output tail an *Error carries.
const (
	tailLines = 40
	tailBytes = 8 << 10
)

// tail returns the end of out: at most tailLines lines and tailBytes bytes.
func tail(out string) string {
	out = strings.TrimRight(out, "\n")
	if len(out) > tailBytes {
		out = out[len(out)-tailBytes:]
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	lines := strings.Split(out, "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "\n")
}

// sensitiveValues returns the strings a plan marks sensitive: in resource
// changes and output changes (before_sensitive, after_sensitive) and the
// values of root variables declared sensitive.
func sensitiveValues(p *tfjson.Plan) []string {
	var out []string
	for _, rc := range p.ResourceChanges {
		if rc.Change != nil {
			collectSensitive(rc.Change.Before, rc.Change.BeforeSensitive, &out)
			collectSensitive(rc.Change.After, rc.Change.AfterSensitive, &out)
		}
	}
	for _, oc := range p.OutputChanges {
		if oc != nil {
			collectSensitive(oc.Before, oc.BeforeSensitive, &out)
			collectSensitive(oc.After, oc.AfterSensitive, &out)
		}
	}
	if p.Config != nil && p.Config.RootModule != nil {
		for name, v := range p.Config.RootModule.Variables {
			if pv := p.Variables[name]; v != nil && v.Sensitive && pv != nil {
				collectStrings(pv.Value, &out)
			}
		}
	}
	return out
}

// collectSensitive appends the strings of val that the sensitivity mask
// marks: mask mirrors val's structure with true at sensitive leaves (or is
// true for the whole value).
func collectSensitive(val, mask any, out *[]string) {
	switch m := mask.(type) {
	case bool:
		if m {
			collectStrings(val, out)
		}
	case map[string]any:
		if v, ok := val.(map[string]any); ok {
			for k, sub := range m {
				collectSensitive(v[k], sub, out)
			}
		}
	case []any:
		if v, ok := val.([]any); ok {
			for i, sub := range m {
				if i < len(v) {
					collectSensitive(v[i], sub, out)
				}
			}
		}
	}
}

// collectStrings appends every string in val.
func collectStrings(val any, out *[]string) {
	switch v := val.(type) {
	case string:
		*out = append(*out, v)
	case map[string]any:
		for _, sub := range v {
			collectStrings(sub, out)
		}
	case []any:
		for _, sub := range v {
			collectStrings(sub, out)
		}
	}
}
