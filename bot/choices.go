package bot

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clustropg/clustro/request"
)

// The thread's buttons and the form's selects offer, for the chosen
// environment, only what its policy allows: the sizes it allows, the
// loads that pick one of them, its instance range, and "No backups" only
// where backups are not required. The thread asks the environment before
// the load and the backups; the form is rebuilt (views.update) when its
// environment changes. Validation (request.Policy.Resolve) still checks
// every answer, and names what is allowed when one does not fit (a value
// typed, or a form submitted before its update arrived).

// allowed is what one environment lets a request choose.
type allowed struct {
	Sizes        []request.Size
	Loads        []request.Load
	MinInstances int
	MaxInstances int
	Schedules    []request.Schedule
}

// allowedIn is what environment env allows, read from the policy's rules
// for it (request.EnvironmentPolicy) and its load table. For an
// environment the policy does not know it allows everything the request
// model has, and ok is false (validation then names the environments).
//
// It decides nothing the policy does not say; it belongs in package
// request, as (*request.Policy).Allowed(env), and moves there once that
// exists.
func allowedIn(p *request.Policy, env string) (a allowed, ok bool) {
	e, ok := p.Environments[env]
	if !ok {
		return allowed{Sizes: request.Sizes(), Loads: request.Loads(), MinInstances: 1, MaxInstances: 9, Schedules: request.Schedules()}, false
	}
	for _, s := range request.Sizes() {
		if slices.Contains(e.AllowedSizes, s) {
			a.Sizes = append(a.Sizes, s)
		}
	}
	for _, l := range request.Loads() {
		if slices.Contains(e.AllowedSizes, p.Loads[l]) {
			a.Loads = append(a.Loads, l)
		}
	}
	a.MinInstances, a.MaxInstances = e.MinInstances, e.MaxInstances
	for _, s := range request.Schedules() {
		if s != request.NoBackups || !e.BackupsRequired {
			a.Schedules = append(a.Schedules, s)
		}
	}
	return a, true
}

// choice is one button of a question, or one option of a select.
type choice struct{ label, value string }

func environmentChoices(p *request.Policy, format string) []choice {
	var cs []choice
	for _, env := range p.EnvironmentNames() {
		label := env
		if d := p.Environments[env].Description; d != "" {
			label = fmt.Sprintf(format, env, d)
		}
		cs = append(cs, choice{label, env})
	}
	return cs
}

func clientTypeChoices() []choice {
	return []choice{{"Startup", "startup"}, {"SME", "sme"}, {"Enterprise", "enterprise"}}
}

func loadChoices(p *request.Policy, a allowed) []choice {
	var cs []choice
	for _, l := range a.Loads {
		cs = append(cs, choice{fmt.Sprintf("%s (%s)", strings.ReplaceAll(string(l), "-", " "), p.Loads[l]), string(l)})
	}
	return cs
}

func sizeChoices(p *request.Policy, a allowed) []choice {
	var cs []choice
	for _, s := range a.Sizes {
		label := string(s)
		if sp, ok := p.Preset(s); ok {
			label = fmt.Sprintf("%s: %s CPU, %s memory, %s", s, sp.CPU.Request, sp.Memory.Request, sp.Storage)
		}
		cs = append(cs, choice{label, string(s)})
	}
	return cs
}

func scheduleChoices(a allowed) []choice {
	labels := map[request.Schedule]string{request.NoBackups: "No backups", request.Hourly: "Hourly", request.Daily: "Daily", request.Weekly: "Weekly"}
	var cs []choice
	for _, s := range a.Schedules {
		cs = append(cs, choice{labels[s], string(s)})
	}
	return cs
}
