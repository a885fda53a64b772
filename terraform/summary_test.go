package terraform

import (
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// rc is a managed resource change with the given actions.
func rc(addr string, actions ...tfjson.Action) *tfjson.ResourceChange {
	return &tfjson.ResourceChange{Address: addr, Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: actions}}
}

// imported marks a change as an import.
func imported(c *tfjson.ResourceChange) *tfjson.ResourceChange {
	c.Change.Importing = &tfjson.Importing{ID: "id"}
	return c
}

// data is a data source change with the given actions.
func data(addr string, actions ...tfjson.Action) *tfjson.ResourceChange {
	c := rc(addr, actions...)
	c.Mode = tfjson.DataResourceMode
	return c
}

const (
	create = tfjson.ActionCreate
	update = tfjson.ActionUpdate
	del    = tfjson.ActionDelete
	noop   = tfjson.ActionNoop
	read   = tfjson.ActionRead
	forget = tfjson.ActionForget
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		plan    tfjson.Plan
		destroy bool
		want    string
		changes []ResourceChange
	}{
		{
			name: "create",
			plan: tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", create), rc("b", create), rc("c", create), rc("d", create)}},
			want: "Plan: 4 to add, 0 to change, 0 to destroy.",
			changes: []ResourceChange{
				{Address: "a", Action: ActionCreate}, {Address: "b", Action: ActionCreate},
				{Address: "c", Action: ActionCreate}, {Address: "d", Action: ActionCreate},
			},
		},
		{
			name:    "update",
			plan:    tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", update), rc("b", noop)}},
			want:    "Plan: 0 to add, 1 to change, 0 to destroy.",
			changes: []ResourceChange{{Address: "a", Action: ActionUpdate}},
		},
		{
			name: "both kinds of replace count once to add and once to destroy",
			plan: tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", del, create), rc("b", create, del)}},
			want: "Plan: 2 to add, 0 to change, 2 to destroy.",
			changes: []ResourceChange{
				{Address: "a", Action: ActionDeleteThenCreate}, {Address: "b", Action: ActionCreateThenDelete},
			},
		},
		{
			name:    "delete",
			plan:    tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", del)}},
			want:    "Plan: 0 to add, 0 to change, 1 to destroy.",
			changes: []ResourceChange{{Address: "a", Action: ActionDelete}},
		},
		{
			name: "no-ops, reads and data sources are not changes",
			plan: tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
				rc("a", noop), rc("b", read), data("data.c", read), data("data.d", del), data("data.e", noop),
			}},
			want: "No changes. Your infrastructure matches the configuration.",
		},
		{
			name: "nothing at all",
			want: "No changes. Your infrastructure matches the configuration.",
		},
		{
			name:    "nothing to destroy",
			destroy: true,
			want:    "No changes. No objects need to be destroyed.",
		},
		{
			name:    "destroy",
			plan:    tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", del), rc("b", del)}},
			destroy: true,
			want:    "Plan: 0 to add, 0 to change, 2 to destroy.",
			changes: []ResourceChange{{Address: "a", Action: ActionDelete}, {Address: "b", Action: ActionDelete}},
		},
		{
			name: "imports",
			plan: tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{imported(rc("a", noop)), imported(rc("b", update))}},
			want: "Plan: 2 to import, 0 to add, 1 to change, 0 to destroy.",
			changes: []ResourceChange{
				{Address: "a", Action: ActionImport, Importing: true}, {Address: "b", Action: ActionUpdate, Importing: true},
			},
		},
		{
			name:    "forget",
			plan:    tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a", forget)}},
			want:    "Plan: 0 to add, 0 to change, 0 to destroy, 1 to forget.",
			changes: []ResourceChange{{Address: "a", Action: ActionForget}},
		},
		{
			name:    "import and forget",
			plan:    tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{imported(rc("a", noop)), rc("b", forget)}},
			want:    "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy, 1 to forget.",
			changes: []ResourceChange{{Address: "a", Action: ActionImport, Importing: true}, {Address: "b", Action: ActionForget}},
		},
		{
			name: "outputs only",
			plan: tfjson.Plan{OutputChanges: map[string]*tfjson.Change{
				"host": {Actions: tfjson.Actions{update}},
				"same": {Actions: tfjson.Actions{noop}},
			}},
			want: "You can apply this plan to save these new output values to the Terraform state, without changing any real infrastructure.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, changes := summarize(&tt.plan)
			s.DestroyMode = tt.destroy
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if !slices.Equal(changes, tt.changes) {
				t.Errorf("changes %+v, want %+v", changes, tt.changes)
			}
		})
	}
}
