package request

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// Change is what a requester asks of an existing database: a resize, a
// backup change or a deletion. Zero fields keep the database's value.
type Change struct {
	Kind Kind
	// Environment, Team and Name name the database.
	Environment string
	Team        string
	Name        string
	// Size, Instances and Storage resize (Kind Resize, or a combined
	// change from the API).
	Size      Size
	Instances int
	Storage   string
	// Backups changes the backups when not nil.
	Backups *BackupsChange
	// Requester and Origin are who asks, and through which entry point.
	Requester Requester
	Origin    Origin
}

// Key names the database as Spec.Key does: environment/team/name.
func (c Change) Key() string { return c.Environment + "/" + c.Team + "/" + c.Name }

// BackupsChange is a change of backups; zero fields keep the current value,
// or take the policy's default when backups are turned on.
type BackupsChange struct {
	Schedule  Schedule
	Hour      *int
	Retention string
}

// ErrNoChange means a change would leave the database as it is.
var ErrNoChange = errors.New("nothing changes: the database already has these settings")

// ApplyChange returns the request that a change of prev (the database's
// live request) makes: prev's spec with the change applied, backups filled
// as for a new request (turning backups on takes the default hour and the
// client type's retention for the environment; turning them off clears
// both), validated, asked by the change's requester. It returns Problems
// naming the change's fields, or ErrNoChange. A deletion takes prev's spec
// as it is.
func (p *Policy) ApplyChange(prev DatabaseRequest, c Change) (DatabaseRequest, error) {
	if c.Key() != "//" && c.Key() != prev.Key() {
		return DatabaseRequest{}, fmt.Errorf("apply a change of %s to %s", c.Key(), prev.Key())
	}
	out := DatabaseRequest{Kind: c.Kind, ClientType: prev.ClientType, Load: prev.Load, Spec: cloneSpec(prev.Spec),
		Requester: c.Requester, Origin: c.Origin}
	switch c.Kind {
	case Resize, Backup:
	case Destroy:
		return out, nil
	default:
		return DatabaseRequest{}, Problems{{Field: "kind", Message: fmt.Sprintf("%q is not a change of an existing database; allowed: resize, backups, delete", c.Kind)}}
	}
	s := &out.Spec
	if c.Size != "" {
		s.Size = c.Size
	}
	if c.Instances != 0 {
		s.Instances = c.Instances
	}
	if c.Storage != "" {
		s.Storage = c.Storage
	}
	if b := c.Backups; b != nil {
		if b.Schedule != "" {
			s.Backups.Schedule = b.Schedule
		}
		if !s.Backups.Enabled() {
			s.Backups.Hour, s.Backups.Retention = nil, ""
		}
		if b.Hour != nil {
			h := *b.Hour
			s.Backups.Hour = &h
		}
		if b.Retention != "" {
			s.Backups.Retention = b.Retention
		}
		p.fillBackups(&s.Backups, out.ClientType, s.Environment)
	}
	if reflect.DeepEqual(*s, prev.Spec) {
		return DatabaseRequest{}, ErrNoChange
	}
	if pr := p.validate(*s); len(pr) > 0 {
		return DatabaseRequest{}, pr
	}
	return out, nil
}

// fillBackups gives backups that are on what they leave unset: the
// platform's hour, and the client type's retention in the environment.
func (p *Policy) fillBackups(b *Backups, ct ClientType, env string) {
	if !b.Enabled() {
		return
	}
	if b.Hour == nil {
		h := p.Defaults.BackupHour
		b.Hour = &h
	}
	if b.Retention == "" {
		b.Retention = p.defaultRetention(ct, env)
	}
}

// defaultRetention is how long backups are kept when a request does not
// say: the client type's for the environment, else the platform's.
func (p *Policy) defaultRetention(ct ClientType, env string) string {
	if r := p.ClientTypes[ct][env].Retention; r != "" {
		return r
	}
	return p.Defaults.Retention
}

func cloneSpec(s Spec) Spec {
	s.Databases = slices.Clone(s.Databases)
	if s.Backups.Hour != nil {
		h := *s.Backups.Hour
		s.Backups.Hour = &h
	}
	return s
}
