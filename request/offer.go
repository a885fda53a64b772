package request

import "slices"

// What the policy offers, as the adapters ask it: the Slack thread's
// buttons and form's selects, the REST API's JSON Schema, the Backstage
// template and the CLI's tables show what an environment lets a request
// ask for, and the defaults a client type gets there. They read it here
// instead of from the policy's tables, so that what is offered is decided
// in one place and always agrees with what Resolve accepts.

// Offer is what one environment lets a request ask for, each list in
// display order.
type Offer struct {
	// Environment is the environment's name; Description is the policy's
	// text for it ("Production"), empty when it has none.
	Environment, Description string
	// Sizes are the presets the environment allows, in Sizes() order.
	Sizes []Size
	// Loads are the expected loads whose preset the environment allows, in
	// Loads() order; it may be empty, and then only a size can be asked.
	Loads []Load
	// MinInstances and MaxInstances bound the instances, inclusive.
	MinInstances, MaxInstances int
	// Schedules are the backup schedules on offer, in Schedules() order:
	// all of them, less NoBackups where backups are required.
	Schedules []Schedule
	// BackupsRequired is the environment's rule that backups stay on.
	BackupsRequired bool
}

// Offer is what environment env lets a request ask for. For an environment
// the policy does not know, ok is false and the Offer is everything the
// request model has (every size, load and schedule, 1 to 9 instances), as
// validation accepts it before naming the environments that exist.
func (p *Policy) Offer(env string) (o Offer, ok bool) {
	e, ok := p.Environments[env]
	if !ok {
		return Offer{Environment: env, Sizes: Sizes(), Loads: Loads(), MinInstances: 1, MaxInstances: MaxInstances, Schedules: Schedules()}, false
	}
	o = Offer{Environment: env, Description: e.Description,
		MinInstances: e.MinInstances, MaxInstances: e.MaxInstances, BackupsRequired: e.BackupsRequired}
	for _, s := range Sizes() {
		if slices.Contains(e.AllowedSizes, s) {
			o.Sizes = append(o.Sizes, s)
		}
	}
	for _, l := range Loads() {
		if slices.Contains(e.AllowedSizes, p.Loads[l]) {
			o.Loads = append(o.Loads, l)
		}
	}
	for _, s := range Schedules() {
		if s != NoBackups || !e.BackupsRequired {
			o.Schedules = append(o.Schedules, s)
		}
	}
	return o, true
}

// HasEnvironment reports whether env is one of the policy's environments.
func (p *Policy) HasEnvironment(env string) bool {
	_, ok := p.Environments[env]
	return ok
}

// LoadSize is the preset an expected load picks; empty for a load the
// request model does not have.
func (p *Policy) LoadSize(l Load) Size { return p.Loads[l] }

// Profile is what a client type gets by default in an environment: its
// instances and backup schedule, and its retention, which is the
// platform's default retention where the profile names none (what Resolve
// fills in). ok is false when the policy has no profile for the pair.
func (p *Policy) Profile(ct ClientType, env string) (prof Profile, ok bool) {
	prof, ok = p.ClientTypes[ct][env]
	if !ok {
		return Profile{}, false
	}
	if prof.Retention == "" {
		prof.Retention = p.Defaults.Retention
	}
	return prof, true
}
