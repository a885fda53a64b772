package api

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/clustropg/clustro/request"
)

// OwnerNamespace is the catalog namespace of the groups that own
// databases. A database's entity is written with owner group:<team>
// (catalog.Settings.For), which Backstage reads in the entity's own
// namespace, default: a group of another namespace cannot own it.
const OwnerNamespace = "default"

// ownerPattern is the owner field's pattern: a group entity ref in
// OwnerNamespace whose name is a team name, with the kind and the
// namespace optional as Backstage writes refs (billing, group:billing,
// default/billing, group:default/billing).
var ownerPattern = `^(group:)?(` + OwnerNamespace + `/)?` + strings.TrimPrefix(teamNamePattern(), "^")

// teamNamePattern is teamPattern with the team's length in it.
func teamNamePattern() string {
	return fmt.Sprintf(`^[a-z0-9]([-a-z0-9]{0,%d}[a-z0-9])?$`, request.MaxTeamLength-2)
}

var ownerRE = regexp.MustCompile(ownerPattern)

// OwnerSchema is the schema of an owner: a group entity ref, as
// Backstage's owner picker gives it, of a group of OwnerNamespace.
func OwnerSchema() *Schema {
	return &Schema{Type: "string", Title: "Owner",
		Description: fmt.Sprintf("The owning team's Backstage group as an entity ref (billing, group:billing or group:%s/billing), as Backstage's owner picker gives it. "+
			"When given, it must name the team, in namespace %s: the database's catalog entity is owned by group:%s/<team>.", OwnerNamespace, OwnerNamespace, OwnerNamespace),
		Pattern: ownerPattern}
}

// checkOwner reports an owner that is not the team's group in
// OwnerNamespace, saying which part is wrong. An owner of another
// namespace is refused, never read as the same name in OwnerNamespace.
func checkOwner(owner *string, team string) request.Problems {
	if owner == nil {
		return nil
	}
	ref := *owner
	kind, rest, hasKind := strings.Cut(ref, ":")
	if !hasKind {
		kind, rest = "group", ref
	}
	ns, name, hasNS := strings.Cut(rest, "/")
	if !hasNS {
		ns, name = OwnerNamespace, rest
	}
	var msg string
	switch {
	case !strings.EqualFold(kind, "group"):
		msg = fmt.Sprintf("%q is not a group: the owner is the team's group, like group:%s", ref, team)
	case !strings.EqualFold(ns, OwnerNamespace):
		msg = fmt.Sprintf("%q is a group of namespace %q: databases are owned by groups of namespace %s (the catalog entity's owner is group:%s/<team>); pick the team's group in namespace %s",
			ref, ns, OwnerNamespace, OwnerNamespace, OwnerNamespace)
	case !ownerRE.MatchString(ref):
		msg = fmt.Sprintf("%q is not a group entity ref like group:billing or group:%s/billing (the name a team name: at most %d lowercase letters, digits and '-')",
			ref, OwnerNamespace, request.MaxTeamLength)
	case name != team:
		msg = fmt.Sprintf("%q names team %s, but team is %q: give the team's own group", ref, name, team)
	default:
		return nil
	}
	return request.Problems{{Field: "owner", Message: msg}}
}
