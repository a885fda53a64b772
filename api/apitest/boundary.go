package apitest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/clustropg/clustro/request"
)

// The limits the samples are built from, as the request package states
// them (request.Policy checks every derived name with these).
const (
	maxTeamLength     = 30 // a team name
	maxDatabaseLength = 30 // an extra database's name
	maxQualified      = 63 // <name>.<team>.<env>: the entity name and a label value
	maxLabel          = validation.DNS1123LabelMaxLength
	mi                = int64(1) << 20
)

// Boundary are samples at the edges of what p allows, generated from it,
// for the schema and the API to agree on: in each environment, each size,
// load, client type and PostgreSQL version, instances at the bounds and
// one past, backups off where they are required, a backup hour where the
// client type's default is no backups; storage at 1Gi and at the
// platform's maximum in each unit, and one Mi, Gi or Ti past; the longest
// name each environment leaves for each length of team, and one
// character more; the longest team the namespace leaves, and one more;
// the longest extra database each length of name leaves, and one more;
// the most extra databases, and one more.
//
// Every sample names its own database, none of the team billing of
// Samples, so that all of them can be sent to one store in any order.
func Boundary(p *request.Policy) []Sample {
	var out []Sample
	add := func(s Sample) { out = append(out, s) }
	const team = "bounds"
	envs := p.EnvironmentNames()
	for _, env := range envs {
		o, _ := p.Offer(env)
		allowed := func(s request.Size) bool { return slices.Contains(o.Sizes, s) }
		// base is a valid request in env, with a size it allows (the
		// default load's may not be).
		base := func(name, team string, more map[string]any) map[string]any {
			b := map[string]any{"name": name, "team": team, "environment": env, "size": string(o.Sizes[0])}
			for k, v := range more {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		for _, s := range request.Sizes() {
			add(Sample{Name: fmt.Sprintf("%s: size %s", env, s), Valid: allowed(s), Field: "size",
				Body: base("size-"+strings.ToLower(string(s)), team, map[string]any{"size": string(s)})})
		}
		for _, l := range request.Loads() {
			add(Sample{Name: fmt.Sprintf("%s: load %s (size %s)", env, l, p.LoadSize(l)), Valid: allowed(p.LoadSize(l)), Field: "size",
				Body: base("load-"+string(l), team, map[string]any{"size": nil, "load": string(l)})})
		}
		for _, ct := range request.ClientTypes() {
			add(Sample{Name: fmt.Sprintf("%s: client type %s", env, ct), Valid: true,
				Body: base("client-"+string(ct), team, map[string]any{"clientType": string(ct)})})
		}
		for _, v := range p.Versions() {
			add(Sample{Name: fmt.Sprintf("%s: PostgreSQL %d", env, v), Valid: true,
				Body: base(fmt.Sprintf("pg-%d", v), team, map[string]any{"postgresVersion": v})})
		}
		if vs := p.Versions(); len(vs) > 0 {
			add(Sample{Name: fmt.Sprintf("%s: PostgreSQL %d, not offered", env, vs[len(vs)-1]+1), Field: "postgresVersion",
				Body: base("pg-next", team, map[string]any{"postgresVersion": vs[len(vs)-1] + 1})})
		}
		for _, n := range []int{o.MinInstances - 1, o.MinInstances, o.MaxInstances, o.MaxInstances + 1} {
			add(Sample{Name: fmt.Sprintf("%s: %d instances (allowed %d-%d)", env, n, o.MinInstances, o.MaxInstances),
				Valid: o.MinInstances <= n && n <= o.MaxInstances, Field: "instances",
				Body: base(fmt.Sprintf("instances-%d", n), team, map[string]any{"instances": n})})
		}
		add(Sample{Name: fmt.Sprintf("%s: no backups (required %v)", env, o.BackupsRequired), Valid: !o.BackupsRequired, Field: "backups.schedule",
			Body: base("backups-none", team, map[string]any{"backups": map[string]any{"schedule": string(request.NoBackups)}})})
		for _, ct := range request.ClientTypes() {
			prof, _ := p.Profile(ct, env)
			off := prof.Backups == request.NoBackups
			hour := map[string]any{"hour": 5}
			add(Sample{Name: fmt.Sprintf("%s: %s, a backup hour without a schedule (default %s)", env, ct, prof.Backups),
				Valid: !off, Field: "backups.schedule",
				Body: base("hour-"+string(ct), team, map[string]any{"clientType": string(ct), "backups": hour})})
			if ct == p.Defaults.ClientType {
				add(Sample{Name: fmt.Sprintf("%s: default client type, a backup retention without a schedule (default %s)", env, prof.Backups),
					Valid: !off, Field: "backups.schedule",
					Body: base("retention-default", team, map[string]any{"backups": map[string]any{"retention": "9d"}})})
			}
		}

		// <name>.<team>.<env> fits in maxQualified: the longest name for
		// each length of team, and one more.
		room := maxQualified - len(request.QualifiedName(env, "", ""))
		nsRoom := maxLabel - len(p.NamespaceFor(request.Spec{Environment: env}))
		for t := 1; t <= min(maxTeamLength, nsRoom); t++ {
			teamT := strings.Repeat("t", t)
			longest := min(request.MaxNameLength(), room-t)
			if longest < 1 {
				continue
			}
			add(Sample{Name: fmt.Sprintf("%s: team of %d, name of %d", env, t, longest), Valid: true,
				Body: base(nameOf(longest), teamT, nil)})
			add(Sample{Name: fmt.Sprintf("%s: team of %d, name of %d", env, t, longest+1), Field: "name",
				Body: base(nameOf(longest+1), teamT, nil)})
		}
		// The namespace fits in a DNS label.
		longestTeam := min(maxTeamLength, nsRoom)
		add(Sample{Name: fmt.Sprintf("%s: team of %d", env, longestTeam), Valid: longestTeam >= 1,
			Body: base("team-max", strings.Repeat("m", max(longestTeam, 1)), nil)})
		add(Sample{Name: fmt.Sprintf("%s: team of %d", env, longestTeam+1), Field: "team",
			Body: base("team-max", strings.Repeat("m", longestTeam+1), nil)})
	}

	env := envs[0]
	first, _ := p.Offer(env)
	base := func(name string, more map[string]any) map[string]any {
		b := map[string]any{"name": name, "team": team, "environment": env, "size": string(first.Sizes[0])}
		for k, v := range more {
			b[k] = v
		}
		return b
	}

	// Storage: 1Gi to the platform's maximum, in whole Mi, Gi or Ti.
	maxMi := int64(-1)
	if q, err := resource.ParseQuantity(p.MaxStorage); err == nil {
		maxMi = q.Value() / mi
	}
	storage := func(n int64, unit string, unitMi int64) {
		v := strconv.FormatInt(n, 10) + unit
		add(Sample{Name: fmt.Sprintf("storage %s (1Gi to %s)", v, p.MaxStorage), Field: "storage",
			Valid: n >= 1 && 1024 <= n*unitMi && (maxMi < 0 || n*unitMi <= maxMi),
			Body:  base("storage-"+strings.ToLower(v), map[string]any{"storage": v})})
	}
	storage(1023, "Mi", 1)
	storage(1024, "Mi", 1)
	storage(0, "Gi", 1024)
	storage(1, "Gi", 1024)
	storage(1, "Ti", 1<<20)
	if maxMi >= 0 {
		storage(maxMi, "Mi", 1)
		storage(maxMi+1, "Mi", 1)
		storage(maxMi/1024, "Gi", 1024)
		storage(maxMi/1024+1, "Gi", 1024)
		storage(maxMi>>20, "Ti", 1<<20)
		storage(maxMi>>20+1, "Ti", 1<<20)
	}
	add(Sample{Name: "storage of 20 digits", Field: "storage",
		Body: base("storage-huge", map[string]any{"storage": "99999999999999999999Ti"})})

	// Extra databases: each one's object name, <name>-db-<database>, fits
	// in a DNS label.
	room := maxLabel - len(request.DatabaseObjectName("", ""))
	longestName := min(request.MaxNameLength(), maxQualified-len(request.QualifiedName(env, team, "")))
	lengths := []int{1, room - maxDatabaseLength, room - maxDatabaseLength + 1, (room-maxDatabaseLength+longestName)/2 + 1, longestName}
	slices.Sort(lengths)
	for _, n := range slices.Compact(lengths) {
		if n < 1 || n > longestName {
			continue
		}
		longest := min(maxDatabaseLength, room-n)
		add(Sample{Name: fmt.Sprintf("name of %d, a database of %d", n, longest), Valid: true,
			Body: base(nameOf(n), map[string]any{"databases": []any{databaseOf(longest)}})})
		add(Sample{Name: fmt.Sprintf("name of %d, a database of %d", n, longest+1), Field: "databases",
			Body: base(otherNameOf(n), map[string]any{"databases": []any{databaseOf(longest + 1)}})})
	}
	var dbs []any
	for i := range p.MaxDatabases + 1 {
		dbs = append(dbs, fmt.Sprintf("db_%d", i))
	}
	add(Sample{Name: fmt.Sprintf("%d extra databases", p.MaxDatabases), Valid: true,
		Body: base("dbs-max", map[string]any{"databases": dbs[:p.MaxDatabases]})})
	add(Sample{Name: fmt.Sprintf("%d extra databases", p.MaxDatabases+1), Field: "databases",
		Body: base("dbs-over", map[string]any{"databases": dbs})})
	return out
}

// nameOf is a database name of n characters, distinct for each n.
func nameOf(n int) string {
	s := "n" + strconv.Itoa(n)
	if len(s) >= n {
		return "n" + strings.Repeat("x", max(n-1, 0))
	}
	return s + strings.Repeat("x", n-len(s))
}

// otherNameOf is another database name of n characters, distinct for each n.
func otherNameOf(n int) string { return "o" + nameOf(n)[1:] }

// databaseOf is an extra database name of n characters.
func databaseOf(n int) string { return "d" + strings.Repeat("b", max(n-1, 0)) }
