package request

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Policy is the platform team's part of the configuration that decides what a
// request becomes: the sizing presets, the defaults per client type and
// environment, what each environment allows, and the PostgreSQL versions on
// offer. It is loaded from YAML (see package config) and checked with Check.
type Policy struct {
	// Sizes maps each preset (S, M, L, XL) to its resources.
	Sizes map[Size]SizePreset `json:"sizes"`
	// Loads maps each expected load to a preset.
	Loads map[Load]Size `json:"loads"`
	// ClientTypes maps client type, then environment, to defaults.
	ClientTypes map[ClientType]map[string]Profile `json:"clientTypes"`
	// Environments lists the environments requests may target, with their rules.
	Environments map[string]EnvironmentPolicy `json:"environments"`
	// Postgres lists the major versions on offer.
	Postgres PostgresPolicy `json:"postgres"`
	// Defaults apply to fields a request leaves empty.
	Defaults Defaults `json:"defaults"`
	// Namespace is the namespace pattern; {team} and {env} are replaced.
	Namespace string `json:"namespace"`
	// MaxDatabases caps the extra databases per cluster.
	MaxDatabases int `json:"maxDatabases"`
	// MaxStorage caps a storage override ("2Ti").
	MaxStorage string `json:"maxStorage"`
}

// SizePreset is one row of the sizing table.
type SizePreset struct {
	Description string `json:"description"`
	CPU         Range  `json:"cpu"`
	Memory      Range  `json:"memory"`
	// Storage and WALStorage are the data and WAL volume sizes per instance.
	Storage    string `json:"storage"`
	WALStorage string `json:"walStorage"`
	// MaxConnections and WorkMem are PostgreSQL settings that scale with size;
	// shared_buffers and effective_cache_size are derived from memory.
	MaxConnections int    `json:"maxConnections"`
	WorkMem        string `json:"workMem"`
}

// Range is a Kubernetes resource request and limit ("500m"/"1", "2Gi"/"2Gi").
type Range struct {
	Request string `json:"request"`
	Limit   string `json:"limit"`
}

// Profile holds the defaults for one client type in one environment.
type Profile struct {
	Instances int      `json:"instances"`
	Backups   Schedule `json:"backups"`
	Retention string   `json:"retention,omitempty"`
}

// EnvironmentPolicy is what an environment allows.
type EnvironmentPolicy struct {
	Description     string `json:"description,omitempty"`
	AllowedSizes    []Size `json:"allowedSizes"`
	MinInstances    int    `json:"minInstances"`
	MaxInstances    int    `json:"maxInstances"`
	BackupsRequired bool   `json:"backupsRequired"`
}

// PostgresPolicy lists the PostgreSQL major versions on offer and their images.
type PostgresPolicy struct {
	Default int `json:"default"`
	// Images maps a major version to an operand image with a pinned tag.
	Images map[int]string `json:"images"`
}

// Defaults fill what a request leaves empty.
type Defaults struct {
	ClientType ClientType `json:"clientType"`
	Load       Load       `json:"load"`
	BackupHour int        `json:"backupHour"`
	Retention  string     `json:"retention"`
}

var (
	retentionRE = regexp.MustCompile(`^[1-9][0-9]{0,3}[dwm]$`)
	dbNameRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	storageRE   = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi|Ti)$`)
	dns1035     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dns1123     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// envRE has no '-': in a namespace like {team}-{env} the environment is
	// what follows the last '-', so that no two (team, environment) pairs
	// share a namespace.
	envRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	// namespaceLiteralRE is what a namespace pattern may hold around its
	// placeholders.
	namespaceLiteralRE = regexp.MustCompile(`^[-a-z0-9]*$`)
)

// MaxInstances is the most instances a cluster may have (the derived pod
// and volume names are checked for instance 9).
const MaxInstances = 9

// MaxTeamLength is the longest team name.
const MaxTeamLength = 30

// maxEnvLength is the longest environment name.
const maxEnvLength = 16

// reservedDatabases cannot be extra databases: the operator owns them.
var reservedDatabases = []string{"app", "postgres", "template0", "template1"}

// MaxDatabaseNameLength is the longest extra database name.
const MaxDatabaseNameLength = 30

// Check reports every inconsistency in the policy itself, so that a bad
// platform config is refused at start instead of surfacing on a request.
func (p *Policy) Check() error {
	var pr Problems
	for _, s := range Sizes() {
		preset, ok := p.Sizes[s]
		if !ok {
			pr.add("sizes."+string(s), "missing: every preset S, M, L, XL needs a row")
			continue
		}
		f := "sizes." + string(s)
		for name, q := range map[string]string{
			"cpu.request": preset.CPU.Request, "cpu.limit": preset.CPU.Limit,
			"memory.request": preset.Memory.Request, "memory.limit": preset.Memory.Limit,
			"storage": preset.Storage, "walStorage": preset.WALStorage,
		} {
			if _, err := resource.ParseQuantity(q); err != nil {
				pr.add(f+"."+name, "%q is not a Kubernetes quantity", q)
			}
		}
		if preset.MaxConnections < 10 {
			pr.add(f+".maxConnections", "must be at least 10")
		}
		if _, err := memoryMB(preset.WorkMem); preset.WorkMem == "" || err != nil {
			pr.add(f+".workMem", "%q is not a PostgreSQL memory setting like 8MB", preset.WorkMem)
		}
	}
	for s := range p.Sizes {
		if !slices.Contains(Sizes(), s) {
			pr.add("sizes."+string(s), "unknown preset; allowed: %s", joinSizes(Sizes()))
		}
	}
	for _, l := range Loads() {
		if s, ok := p.Loads[l]; !ok || !slices.Contains(Sizes(), s) {
			pr.add("loads."+string(l), "must map to one of %s", joinSizes(Sizes()))
		}
	}
	if len(p.Environments) == 0 {
		pr.add("environments", "at least one environment is needed")
	}
	for env, e := range p.Environments {
		f := "environments." + env
		if !envRE.MatchString(env) || len(env) > maxEnvLength {
			pr.add(f, "an environment name must be at most %d lowercase letters and digits, starting with a letter (no '-': it separates the environment from the team in namespaces)", maxEnvLength)
		}
		if len(e.AllowedSizes) == 0 {
			pr.add(f+".allowedSizes", "must list at least one of %s", joinSizes(Sizes()))
		}
		for _, s := range e.AllowedSizes {
			if !slices.Contains(Sizes(), s) {
				pr.add(f+".allowedSizes", "unknown preset %q; allowed: %s", s, joinSizes(Sizes()))
			}
		}
		if e.MinInstances < 1 || e.MaxInstances < e.MinInstances || e.MaxInstances > MaxInstances {
			pr.add(f, "needs 1 <= minInstances <= maxInstances <= %d", MaxInstances)
		}
	}
	for _, ct := range ClientTypes() {
		for env, e := range p.Environments {
			prof, ok := p.ClientTypes[ct][env]
			f := fmt.Sprintf("clientTypes.%s.%s", ct, env)
			if !ok {
				pr.add(f, "missing: every client type needs defaults for every environment")
				continue
			}
			if prof.Instances < e.MinInstances || prof.Instances > e.MaxInstances {
				pr.add(f+".instances", "%d is outside environment %s's %d-%d", prof.Instances, env, e.MinInstances, e.MaxInstances)
			}
			if !slices.Contains(Schedules(), prof.Backups) {
				pr.add(f+".backups", "must be one of %s", joinSchedules())
			}
			if e.BackupsRequired && prof.Backups == NoBackups {
				pr.add(f+".backups", "environment %s requires backups", env)
			}
			if prof.Retention != "" && !retentionRE.MatchString(prof.Retention) {
				pr.add(f+".retention", "%q is not a retention like 14d, 4w or 3m", prof.Retention)
			}
		}
	}
	for ct := range p.ClientTypes {
		if !slices.Contains(ClientTypes(), ct) {
			pr.add("clientTypes."+string(ct), "unknown client type; allowed: %s", joinClientTypes())
		}
	}
	if len(p.Postgres.Images) == 0 {
		pr.add("postgres.images", "must offer at least one version")
	}
	for v, img := range p.Postgres.Images {
		tag := img[strings.LastIndex(img, ":")+1:]
		if !strings.Contains(img, ":") || tag == "latest" || !strings.HasPrefix(tag, strconv.Itoa(v)) {
			pr.add(fmt.Sprintf("postgres.images.%d", v), "%q needs a pinned tag starting with %d (the tag decides the major version; latest is refused)", img, v)
		}
	}
	if _, ok := p.Postgres.Images[p.Postgres.Default]; !ok {
		pr.add("postgres.default", "%d is not among postgres.images", p.Postgres.Default)
	}
	if !slices.Contains(ClientTypes(), p.Defaults.ClientType) {
		pr.add("defaults.clientType", "must be one of %s", joinClientTypes())
	}
	if !slices.Contains(Loads(), p.Defaults.Load) {
		pr.add("defaults.load", "must be one of %s", joinLoads())
	}
	if p.Defaults.BackupHour < 0 || p.Defaults.BackupHour > 23 {
		pr.add("defaults.backupHour", "must be 0-23")
	}
	if !retentionRE.MatchString(p.Defaults.Retention) {
		pr.add("defaults.retention", "%q is not a retention like 14d, 4w or 3m", p.Defaults.Retention)
	}
	if err := checkNamespacePattern(p.Namespace); err != "" {
		pr.add("namespace", "%s", err)
	}
	if p.MaxDatabases < 0 {
		pr.add("maxDatabases", "must not be negative")
	}
	if _, err := resource.ParseQuantity(p.MaxStorage); err != nil {
		pr.add("maxStorage", "%q is not a Kubernetes quantity", p.MaxStorage)
	}
	sort.SliceStable(pr, func(i, j int) bool { return pr[i].Field < pr[j].Field })
	return pr.err()
}

// checkNamespacePattern accepts a pattern only when no two (team,
// environment) pairs can share a namespace: {team} and {env} once each,
// with a '-' between them (environments have none, so the '-' nearest to
// {env} tells where it starts or ends).
func checkNamespacePattern(pat string) string {
	const want = `the pattern must contain {team} and {env} once each, separated by text with a '-' (like "{team}-{env}"), so that no two teams or environments share a namespace`
	if strings.Count(pat, "{team}") != 1 || strings.Count(pat, "{env}") != 1 {
		return want
	}
	t, e := strings.Index(pat, "{team}"), strings.Index(pat, "{env}")
	var between string
	if t < e {
		between = pat[t+len("{team}") : e]
	} else {
		between = pat[e+len("{env}") : t]
	}
	if !strings.Contains(between, "-") {
		return want
	}
	if lit := strings.NewReplacer("{team}", "", "{env}", "").Replace(pat); !namespaceLiteralRE.MatchString(lit) {
		return fmt.Sprintf("%q: the text around {team} and {env} may hold only lowercase letters, digits and '-'", pat)
	}
	return ""
}

// NamespaceFor is the Kubernetes namespace a database lives in.
func (p *Policy) NamespaceFor(s Spec) string {
	return strings.ReplaceAll(strings.ReplaceAll(p.Namespace, "{team}", s.Team), "{env}", s.Environment)
}

// Image is the operand image for a PostgreSQL major version.
func (p *Policy) Image(version int) string { return p.Postgres.Images[version] }

// EnvironmentNames lists the configured environments, sorted.
func (p *Policy) EnvironmentNames() []string {
	names := make([]string, 0, len(p.Environments))
	for n := range p.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Versions lists the PostgreSQL major versions on offer, sorted.
func (p *Policy) Versions() []int {
	vs := make([]int, 0, len(p.Postgres.Images))
	for v := range p.Postgres.Images {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	return vs
}

// Resolve validates a request and fills what it leaves empty: the size from
// the expected load, instances and backups from the client type's profile
// for the environment, the PostgreSQL version and backup hour and retention
// from the defaults. It returns Problems naming every field that is wrong.
// Resolve does not change r.
func (p *Policy) Resolve(r DatabaseRequest) (DatabaseRequest, error) {
	var pr Problems
	out := r
	out.Databases = slices.Clone(r.Databases)
	out.Restore = r.Restore.clone()
	if r.Backups.Hour != nil {
		h := *r.Backups.Hour
		out.Backups.Hour = &h
	}
	if out.Kind == "" {
		out.Kind = Create
	} else if !slices.Contains(Kinds(), out.Kind) {
		pr.add("kind", "%q is not a kind of change; allowed: create, resize, backups, delete", out.Kind)
	}
	if out.Restore != nil && out.Kind != Create {
		pr.add("restore", "a restore makes a new database: kind %s takes no restore; allowed: kind create", out.Kind)
	}

	if out.ClientType == "" {
		out.ClientType = p.Defaults.ClientType
	} else if !slices.Contains(ClientTypes(), out.ClientType) {
		pr.add("clientType", "%q is not a client type; allowed: %s", out.ClientType, joinClientTypes())
	}
	if out.Load != "" && !slices.Contains(Loads(), out.Load) {
		pr.add("load", "%q is not an expected load; allowed: %s", out.Load, joinLoads())
	}
	switch {
	case out.Size != "":
		// A size given directly wins over the load.
	case out.Load != "":
		out.Size = p.Loads[out.Load]
	default:
		out.Load = p.Defaults.Load
		out.Size = p.Loads[out.Load]
	}

	prof, haveProfile := p.ClientTypes[out.ClientType][out.Environment]
	if out.Instances == 0 && haveProfile {
		out.Instances = prof.Instances
	}
	if out.PostgresVersion == 0 {
		out.PostgresVersion = p.Postgres.Default
	}
	if out.Backups.Schedule == "" && haveProfile {
		out.Backups.Schedule = prof.Backups
	}
	p.fillBackups(&out.Backups, out.ClientType, out.Environment)
	pr = append(pr, p.validate(out.Spec)...)
	if len(pr) > 0 {
		return r, pr
	}
	return out, nil
}

// Validate checks a resolved Spec against the policy: the check applied to a
// workspace a reviewer edited, where nothing is filled in.
func (p *Policy) Validate(s Spec) error { return p.validate(s).err() }

func (p *Policy) validate(s Spec) Problems {
	var pr Problems
	switch {
	case s.Name == "":
		pr.add("name", "required: a lowercase name like ledger")
	case !dns1035.MatchString(s.Name):
		pr.add("name", "%q must be lowercase letters, digits and '-', start with a letter and end with a letter or digit", s.Name)
	}
	switch {
	case s.Team == "":
		pr.add("team", "required: the owning team, a lowercase name like billing")
	case !dns1123.MatchString(s.Team) || len(s.Team) > MaxTeamLength:
		pr.add("team", "%q must be at most %d lowercase letters, digits and '-', starting and ending with a letter or digit", s.Team, MaxTeamLength)
	}
	env, envOK := p.Environments[s.Environment]
	if s.Environment == "" {
		pr.add("environment", "required; allowed: %s", strings.Join(p.EnvironmentNames(), ", "))
	} else if !envOK {
		pr.add("environment", "%q is not an environment; allowed: %s", s.Environment, strings.Join(p.EnvironmentNames(), ", "))
	}
	if !slices.Contains(Sizes(), s.Size) {
		pr.add("size", "%q is not a size; allowed: %s", s.Size, joinSizes(Sizes()))
	} else if envOK && !slices.Contains(env.AllowedSizes, s.Size) {
		pr.add("size", "%s is not allowed in %s; allowed there: %s", s.Size, s.Environment, joinSizes(env.AllowedSizes))
	}
	// Without a known environment, unset instances and schedule could not
	// be filled from a profile: only the environment problem is reported.
	if envOK && (s.Instances < env.MinInstances || s.Instances > env.MaxInstances) {
		pr.add("instances", "%d is not allowed in %s; allowed there: %d to %d", s.Instances, s.Environment, env.MinInstances, env.MaxInstances)
	} else if !envOK && s.Instances != 0 && (s.Instances < 1 || s.Instances > MaxInstances) {
		pr.add("instances", "%d is not allowed; allowed: 1 to %d", s.Instances, MaxInstances)
	}
	if _, ok := p.Postgres.Images[s.PostgresVersion]; !ok {
		pr.add("postgresVersion", "%d is not offered; allowed: %s", s.PostgresVersion, joinInts(p.Versions()))
	}
	if s.Storage != "" {
		if !storageRE.MatchString(s.Storage) {
			pr.add("storage", "%q must be a whole number of Mi, Gi or Ti, like 100Gi", s.Storage)
		} else {
			q := resource.MustParse(s.Storage)
			if q.Cmp(resource.MustParse("1Gi")) < 0 {
				pr.add("storage", "%s is below the minimum of 1Gi", s.Storage)
			} else if max, err := resource.ParseQuantity(p.MaxStorage); err == nil && q.Cmp(max) > 0 {
				pr.add("storage", "%s is above the platform's maximum of %s", s.Storage, p.MaxStorage)
			}
		}
	}
	pr = append(pr, p.validateBackups(s, env, envOK)...)
	pr = append(pr, validateRestore(s, time.Now())...)
	if len(s.Databases) > p.MaxDatabases {
		pr.add("databases", "%d extra databases asked; at most %d allowed", len(s.Databases), p.MaxDatabases)
	}
	seen := map[string]bool{}
	for _, db := range s.Databases {
		switch {
		case !dbNameRE.MatchString(db) || len(db) > MaxDatabaseNameLength:
			pr.add("databases", "%q must be at most %d lowercase letters, digits and '_', starting with a letter", db, MaxDatabaseNameLength)
		case strings.Contains(db, "_db_"):
			// Its Database object <cluster>-db-<db> would be named like one
			// of another cluster of the namespace: cluster a with b_db_c and
			// cluster a-db-b with c both make a-db-b-db-c.
			pr.add("databases", "%q may not contain _db_ (its Kubernetes Database object could share the name of another database's)", db)
		case slices.Contains(reservedDatabases, db):
			pr.add("databases", "%q is reserved (app is the default database; postgres, template0 and template1 belong to PostgreSQL)", db)
		case seen[db]:
			pr.add("databases", "%q is listed twice", db)
		}
		seen[db] = true
	}
	// Every name the request gives to Kubernetes and Backstage objects,
	// checked with their own rules once the fields themselves are valid.
	if !pr.Has("environment") {
		pr = append(pr, p.checkDerivedNames(s, pr.Has)...)
	}
	return pr
}

func (p *Policy) validateBackups(s Spec, env EnvironmentPolicy, envOK bool) Problems {
	var pr Problems
	b := s.Backups
	if !envOK && b.Schedule == "" {
		return pr
	}
	if !slices.Contains(Schedules(), b.Schedule) {
		pr.add("backups.schedule", "%q is not a schedule; allowed: %s", b.Schedule, joinSchedules())
		return pr
	}
	if !b.Enabled() {
		if envOK && env.BackupsRequired {
			pr.add("backups.schedule", "%s requires backups; allowed there: hourly, daily, weekly", s.Environment)
		}
		if b.Hour != nil || b.Retention != "" {
			pr.add("backups.schedule", "none takes no hour or retention")
		}
		return pr
	}
	if b.Hour == nil {
		pr.add("backups.hour", "required when backups are on: 0-23 (UTC)")
	} else if *b.Hour < 0 || *b.Hour > 23 {
		pr.add("backups.hour", "%d is not an hour; allowed: 0-23 (UTC)", *b.Hour)
	}
	if !retentionRE.MatchString(b.Retention) {
		pr.add("backups.retention", "%q is not a retention; allowed: a number and d, w or m, like 14d, 4w or 3m", b.Retention)
	}
	return pr
}

// Preset returns the preset of a size.
func (p *Policy) Preset(s Size) (SizePreset, bool) {
	preset, ok := p.Sizes[s]
	return preset, ok
}

// Parameters are the postgresql.conf settings of a preset: shared_buffers
// about 25% and effective_cache_size about 75% of the memory limit,
// max_connections and work_mem from the table. CNPG wants strings.
func (sp SizePreset) Parameters() map[string]string {
	mem := resource.MustParse(sp.Memory.Limit)
	mb := mem.Value() / (1 << 20)
	return map[string]string{
		"shared_buffers":       strconv.FormatInt(mb/4, 10) + "MB",
		"effective_cache_size": strconv.FormatInt(mb*3/4, 10) + "MB",
		"max_connections":      strconv.Itoa(sp.MaxConnections),
		"work_mem":             sp.WorkMem,
	}
}

// memoryMB parses a PostgreSQL memory setting with a kB, MB or GB unit.
func memoryMB(v string) (int, error) {
	for unit, f := range map[string]float64{"kB": 1.0 / 1024, "MB": 1, "GB": 1024} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i <= 0 {
				return 0, fmt.Errorf("bad number %q", n)
			}
			return int(float64(i) * f), nil
		}
	}
	return 0, fmt.Errorf("no unit in %q", v)
}

func joinSizes(s []Size) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

func joinLoads() string {
	parts := []string{}
	for _, v := range Loads() {
		parts = append(parts, string(v))
	}
	return strings.Join(parts, ", ")
}

func joinClientTypes() string {
	parts := []string{}
	for _, v := range ClientTypes() {
		parts = append(parts, string(v))
	}
	return strings.Join(parts, ", ")
}

func joinSchedules() string {
	parts := []string{}
	for _, v := range Schedules() {
		parts = append(parts, string(v))
	}
	return strings.Join(parts, ", ")
}

func joinInts(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}
