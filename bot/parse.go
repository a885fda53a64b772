package bot

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clustropg/clustro/request"
)

// settings maps the keys of "/pg new ledger size=M env=prod" to the fields
// of a request, named as request.Problems names them.
var settings = map[string]string{
	"name": "name", "team": "team",
	"env": "environment", "environment": "environment",
	"size": "size", "instances": "instances",
	"client": "clientType", "clienttype": "clientType",
	"load":    "load",
	"version": "postgresVersion", "postgres": "postgresVersion", "pg": "postgresVersion",
	"storage": "storage",
	"backups": "backups.schedule", "backup": "backups.schedule",
	"hour":      "backups.hour",
	"retention": "backups.retention",
	"databases": "databases", "dbs": "databases",
	"logical": "logicalBackup", "pgdump": "logicalBackup",
}

// settingKeys lists the keys a user may type, for help and errors.
const settingKeys = "name, team, env, size, instances, client, load, version, storage, backups, hour, retention, databases, logical"

// envAliases are the words people use for the usual environment names.
var envAliases = map[string]string{
	"production": "prod", "prd": "prod", "live": "prod",
	"development": "dev", "develop": "dev",
	"stage": "staging", "stg": "staging",
}

// args is a command's words split into positional words and key=value
// settings (keys lowercased, in order).
type args struct {
	words []string
	keys  []string
	vals  map[string]string
}

func parseArgs(fields []string) args {
	a := args{vals: map[string]string{}}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			a.words = append(a.words, f)
			continue
		}
		k = strings.ToLower(k)
		if _, seen := a.vals[k]; !seen {
			a.keys = append(a.keys, k)
		}
		a.vals[k] = v
	}
	return a
}

// apply sets the request fields the settings name. Unknown keys and values
// that are not even of the right kind are problems; the rest is left to
// the policy's validation.
func (a args) apply(p *request.Policy, r *request.DatabaseRequest) request.Problems {
	var pr request.Problems
	for _, k := range a.keys {
		field, ok := settings[k]
		if !ok {
			pr = append(pr, request.Problem{Field: k, Message: fmt.Sprintf("%q is not a setting; allowed: %s", k, settingKeys)})
			continue
		}
		if msg := setField(p, r, field, a.vals[k]); msg != "" {
			pr = append(pr, request.Problem{Field: field, Message: msg})
		}
	}
	return pr
}

// setField sets one field from what a user typed, normalising case and the
// usual words; it returns a message when the value cannot be read at all.
func setField(p *request.Policy, r *request.DatabaseRequest, field, v string) string {
	v = strings.TrimSpace(v)
	lower := strings.ToLower(v)
	switch field {
	case "name":
		r.Name = lower
	case "team":
		r.Team = strings.TrimPrefix(lower, "@")
	case "environment":
		r.Environment = normalizeEnv(p, lower)
	case "size":
		r.Size = request.Size(strings.ToUpper(v))
	case "instances":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Sprintf("%q is not a number of instances", v)
		}
		r.Instances = n
	case "clientType":
		r.ClientType = request.ClientType(lower)
	case "load":
		r.Load = request.Load(strings.NewReplacer("_", "-", " ", "-", "verybig", "very-big").Replace(lower))
	case "postgresVersion":
		n, err := strconv.Atoi(strings.TrimPrefix(lower, "pg"))
		if err != nil {
			return fmt.Sprintf("%q is not a PostgreSQL major version like %d", v, p.Postgres.Default)
		}
		r.PostgresVersion = n
	case "storage":
		r.Storage = v
	case "backups.schedule":
		switch lower {
		case "no", "off", "false", "none", "never":
			lower = string(request.NoBackups)
		}
		r.Backups.Schedule = request.Schedule(lower)
	case "backups.hour":
		n, err := strconv.Atoi(strings.TrimSuffix(lower, "h"))
		if err != nil {
			return fmt.Sprintf("%q is not an hour; allowed: 0-23 (UTC)", v)
		}
		r.Backups.Hour = &n
	case "backups.retention":
		r.Backups.Retention = lower
	case "databases":
		r.Databases = splitList(lower)
	case "logicalBackup":
		b, ok := parseBool(lower)
		if !ok {
			return fmt.Sprintf("%q is not yes or no", v)
		}
		r.LogicalBackup = b
	default:
		return fmt.Sprintf("%q cannot be set here", field)
	}
	return ""
}

func normalizeEnv(p *request.Policy, env string) string {
	if p.HasEnvironment(env) {
		return env
	}
	if alias, ok := envAliases[env]; ok && p.HasEnvironment(alias) {
		return alias
	}
	return env
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "yes", "y", "true", "on", "1":
		return true, true
	case "no", "n", "false", "off", "0":
		return false, true
	}
	return false, false
}

var (
	mentionRE = regexp.MustCompile(`<[@#!][^>]*>`)
	wordRE    = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_-]*(=[^\s,;]*)?`)
	nameRE    = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)
)

// stopWords are never a team or a database name.
var stopWords = []string{"a", "an", "the", "my", "our", "me", "us", "it", "this", "that", "postgres",
	"postgresql", "database", "db", "team", "please", "and", "with", "in", "for", "on", "called", "named", "name"}

// infer reads what it can from a sentence ("I need a postgres for billing
// in prod called ledger, size M, daily backups") into r, and returns the
// fields it set. It sets a field only from an unambiguous word.
func infer(p *request.Policy, text string, r *request.DatabaseRequest) []string {
	text = mentionRE.ReplaceAllString(text, " ")
	var words []string
	for _, w := range wordRE.FindAllString(text, -1) {
		words = append(words, w)
	}
	var set []string
	mark := func(field string) {
		if !slices.Contains(set, field) {
			set = append(set, field)
		}
	}
	// key=value settings first: they are explicit.
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			if field, known := settings[strings.ToLower(k)]; known && setField(p, r, field, v) == "" {
				mark(field)
			}
		}
	}
	lower := make([]string, len(words))
	for i, w := range words {
		lower[i] = strings.ToLower(w)
	}
	next := func(i int) string {
		if i+1 < len(lower) {
			return lower[i+1]
		}
		return ""
	}
	for i, w := range lower {
		orig := words[i]
		switch {
		case strings.Contains(w, "="):
		case envWord(p, w) != "" && !slices.Contains(set, "environment"):
			r.Environment = envWord(p, w)
			mark("environment")
		case slices.Contains(request.ClientTypes(), request.ClientType(w)):
			r.ClientType = request.ClientType(w)
			mark("clientType")
		case w == "very" && next(i) == "big":
			r.Load = request.VeryBig
			mark("load")
		case (w == "small" || w == "medium" || w == "big") && !slices.Contains(set, "load"):
			r.Load = request.Load(w)
			mark("load")
		case slices.Contains(request.Sizes(), request.Size(orig)) && len(orig) <= 2 && orig == strings.ToUpper(orig):
			r.Size = request.Size(orig)
			mark("size")
		case w == "size" && slices.Contains(request.Sizes(), request.Size(strings.ToUpper(next(i)))):
			r.Size = request.Size(strings.ToUpper(next(i)))
			mark("size")
		case w == "hourly" || w == "daily" || w == "weekly":
			r.Backups.Schedule = request.Schedule(w)
			mark("backups.schedule")
		case (w == "no" || w == "without") && strings.HasPrefix(next(i), "backup"):
			r.Backups.Schedule = request.NoBackups
			mark("backups.schedule")
		case (w == "for" || w == "team") && teamWord(p, next(i)):
			r.Team = next(i)
			mark("team")
		case (w == "called" || w == "named" || w == "name") && nameRE.MatchString(next(i)) && !slices.Contains(stopWords, next(i)):
			r.Name = next(i)
			mark("name")
		case (next(i) == "instances" || next(i) == "replicas") && isNumber(w):
			r.Instances, _ = strconv.Atoi(w)
			mark("instances")
		case (w == "postgres" || w == "postgresql" || w == "version") && isNumber(next(i)):
			r.PostgresVersion, _ = strconv.Atoi(next(i))
			mark("postgresVersion")
		case strings.HasPrefix(w, "pg") && isNumber(w[2:]) && len(w) == 4:
			r.PostgresVersion, _ = strconv.Atoi(w[2:])
			mark("postgresVersion")
		}
	}
	return set
}

func envWord(p *request.Policy, w string) string {
	if env := normalizeEnv(p, w); env != "" && p.HasEnvironment(env) {
		return env
	}
	return ""
}

// teamWord reports whether w can be a team named after "for" or "team".
func teamWord(p *request.Policy, w string) bool {
	return nameRE.MatchString(w) && !slices.Contains(stopWords, w) && envWord(p, w) == "" &&
		!slices.Contains(request.ClientTypes(), request.ClientType(w))
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && s != ""
}
