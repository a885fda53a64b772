package terraform

import (
	"fmt"

	tfjson "github.com/hashicorp/terraform-json"
)

// Action is what a plan does to one resource instance.
type Action string

// The actions a ResourceChange can have. Reads, data sources and no-ops are
// not changes.
const (
	ActionCreate           Action = "create"
	ActionUpdate           Action = "update"
	ActionDelete           Action = "delete"
	ActionDeleteThenCreate Action = "delete-then-create" // replace, the default way
	ActionCreateThenDelete Action = "create-then-delete" // replace with create_before_destroy
	ActionForget           Action = "forget"             // removed from state, left in place
	ActionCreateThenForget Action = "create-then-forget"
	ActionImport           Action = "import" // imported with no other change
)

// Replace reports whether a is one of the two ways of replacing.
func (a Action) Replace() bool {
	return a == ActionDeleteThenCreate || a == ActionCreateThenDelete
}

// ResourceChange is one resource instance a plan changes.
type ResourceChange struct {
	// Address is the instance's address, e.g. module.db.terraform_data.x["a"].
	Address string
	Action  Action
	// Importing is true when the instance is imported, whatever Action
	// does besides.
	Importing bool
}

// Summary counts a plan's changes as Terraform does: a replacement counts
// once to add and once to destroy.
type Summary struct {
	Import  int
	Add     int
	Change  int
	Destroy int
	Forget  int
	// Outputs is the number of root outputs that change.
	Outputs int
	// DestroyMode is set for the plan of a Destroy.
	DestroyMode bool
}

// Changed reports whether the plan changes any resource.
func (s Summary) Changed() bool {
	return s.Import+s.Add+s.Change+s.Destroy+s.Forget > 0
}

// String returns Terraform's own summary line, e.g. "Plan: 4 to add, 0 to
// change, 0 to destroy.", or its "No changes." line.
func (s Summary) String() string {
	switch {
	case !s.Changed() && s.Outputs > 0:
		return "You can apply this plan to save these new output values to the Terraform state, without changing any real infrastructure."
	case !s.Changed() && s.DestroyMode:
		return "No changes. No objects need to be destroyed."
	case !s.Changed():
		return "No changes. Your infrastructure matches the configuration."
	case s.Import > 0 && s.Forget > 0:
		return fmt.Sprintf("Plan: %d to import, %d to add, %d to change, %d to destroy, %d to forget.", s.Import, s.Add, s.Change, s.Destroy, s.Forget)
	case s.Import > 0:
		return fmt.Sprintf("Plan: %d to import, %d to add, %d to change, %d to destroy.", s.Import, s.Add, s.Change, s.Destroy)
	case s.Forget > 0:
		return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy, %d to forget.", s.Add, s.Change, s.Destroy, s.Forget)
	default:
		return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Destroy)
	}
}

// summarize lists and counts the changes of a plan, skipping what Terraform
// does not count: no-ops (unless imported), reads and data sources.
func summarize(p *tfjson.Plan) (Summary, []ResourceChange) {
	var s Summary
	var changes []ResourceChange
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		acts := rc.Change.Actions
		importing := rc.Change.Importing != nil
		var a Action
		switch {
		case acts.Create():
			a = ActionCreate
			s.Add++
		case acts.Update():
			a = ActionUpdate
			s.Change++
		case acts.Delete():
			a = ActionDelete
			s.Destroy++
		case acts.DestroyBeforeCreate():
			a = ActionDeleteThenCreate
			s.Add++
			s.Destroy++
		case acts.CreateBeforeDestroy():
			a = ActionCreateThenDelete
			s.Add++
			s.Destroy++
		case acts.Forget():
			a = ActionForget
			s.Forget++
		case len(acts) == 2 && acts[0] == tfjson.ActionCreate && acts[1] == tfjson.ActionForget:
			a = ActionCreateThenForget
			s.Add++
			s.Forget++
		case acts.NoOp() && importing:
			a = ActionImport
		default: // no-op, read
			continue
		}
		if importing {
			s.Import++
		}
		changes = append(changes, ResourceChange{Address: rc.Address, Action: a, Importing: importing})
	}
	for _, oc := range p.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() && len(oc.Actions) > 0 {
			s.Outputs++
		}
	}
	return s, changes
}
