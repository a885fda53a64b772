package bot

import (
	"fmt"
	"strings"

	"github.com/clustropg/clustro/request"
)

// The thread's buttons and the form's selects offer, for the chosen
// environment, only what its policy allows (request.Policy.Offer): the
// sizes it allows, the loads that pick one of them, its instance range,
// and "No backups" only where backups are not required; for an
// environment the policy does not know, everything the request model has.
// The thread asks the environment before the load and the backups; the
// form is rebuilt (views.update) when its environment changes. Validation
// (request.Policy.Resolve) still checks every answer, and names what is
// allowed when one does not fit (a value typed, or a form submitted before
// its update arrived).

// choice is one button of a question, or one option of a select.
type choice struct{ label, value string }

func environmentChoices(p *request.Policy, format string) []choice {
	var cs []choice
	for _, env := range p.EnvironmentNames() {
		label := env
		if o, _ := p.Offer(env); o.Description != "" {
			label = fmt.Sprintf(format, env, o.Description)
		}
		cs = append(cs, choice{label, env})
	}
	return cs
}

// clientTypeLabels are how the client types read in Slack.
var clientTypeLabels = map[request.ClientType]string{request.Startup: "Startup", request.SME: "SME", request.Enterprise: "Enterprise"}

// clientTypeChoices offers every client type of the request model.
func clientTypeChoices() []choice {
	var cs []choice
	for _, ct := range request.ClientTypes() {
		label := clientTypeLabels[ct]
		if label == "" {
			label = string(ct)
		}
		cs = append(cs, choice{label, string(ct)})
	}
	return cs
}

func loadChoices(p *request.Policy, o request.Offer) []choice {
	var cs []choice
	for _, l := range o.Loads {
		cs = append(cs, choice{fmt.Sprintf("%s (%s)", strings.ReplaceAll(string(l), "-", " "), p.LoadSize(l)), string(l)})
	}
	return cs
}

func sizeChoices(p *request.Policy, o request.Offer) []choice {
	var cs []choice
	for _, s := range o.Sizes {
		label := string(s)
		if sp, ok := p.Preset(s); ok {
			label = fmt.Sprintf("%s: %s CPU, %s memory, %s", s, sp.CPU.Request, sp.Memory.Request, sp.Storage)
		}
		cs = append(cs, choice{label, string(s)})
	}
	return cs
}

func scheduleChoices(o request.Offer) []choice {
	labels := map[request.Schedule]string{request.NoBackups: "No backups", request.Hourly: "Hourly", request.Daily: "Daily", request.Weekly: "Weekly"}
	var cs []choice
	for _, s := range o.Schedules {
		cs = append(cs, choice{labels[s], string(s)})
	}
	return cs
}
