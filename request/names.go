package request

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Names are the names a database derives from its identity (environment,
// team, name). They are computed in one place so that validation can check
// every one of them and the module, the renderer and the readiness check
// agree.
type Names struct {
	Cluster         string // the CNPG Cluster, also its PodMonitor
	RW, RO, R       string // services: primary, replicas, any instance
	AppSecret       string // <cluster>-app, written by the operator
	ObjectStore     string // Barman Cloud plugin ObjectStore
	LogicalBackup   string // pg_dump CronJob
	ScheduledBackup string // <cluster>-<schedule>
	// Qualified is <name>.<team>.<env>: the database's identity as one
	// string, used as the Terraform state secret's suffix and the Backstage
	// entity name. See QualifiedName.
	Qualified string
}

// NamesOf returns the names a Spec derives.
func NamesOf(s Spec) Names {
	n := NamesFor(s.Name, s.Backups.Schedule)
	n.Qualified = QualifiedName(s.Environment, s.Team, s.Name)
	return n
}

// QualifiedName is the one string that stands for a database across the
// platform: <name>.<team>.<env>. None of the three parts may contain '.', so
// two different databases never share it (a '-' joiner would make team
// "billing-ops" with name "ledger" and team "billing" with name "ops-ledger"
// the same). The most specific part comes first, as in DNS, and the string
// ends with the environment, which never ends in "-<digits>": Terraform's
// kubernetes backend refuses such a secret_suffix, since it numbers the
// secrets of a large state that way.
func QualifiedName(env, team, name string) string {
	return name + "." + team + "." + env
}

// NamesFor returns the names derived from a database name and its backup schedule.
func NamesFor(name string, schedule Schedule) Names {
	n := Names{
		Cluster:       name,
		RW:            name + "-rw",
		RO:            name + "-ro",
		R:             name + "-r",
		AppSecret:     name + "-app",
		ObjectStore:   name + "-backups",
		LogicalBackup: name + "-pgdump",
	}
	if schedule != "" && schedule != NoBackups {
		n.ScheduledBackup = name + "-" + string(schedule)
	}
	return n
}

// DatabaseObjectName is the name of the CNPG Database object for an extra
// database (PostgreSQL allows "_", Kubernetes names do not). Extra database
// names have no '-' and no "_db_", so no two (cluster, database) pairs of a
// namespace share a name.
func DatabaseObjectName(cluster, db string) string {
	return cluster + "-db-" + strings.ReplaceAll(db, "_", "-")
}

// Kubernetes limits beyond apimachinery's own checks: a CronJob name at most
// 52 characters so that its Jobs' names fit; the operator names instance
// pods, PVCs and jobs "<cluster>-<n>-<suffix>" with suffixes up to
// "-snapshot-recovery" (18), and up to 9 instances; the kubernetes state
// backend names its secret tfstate-<workspace>-<suffix> (workspace
// "default") and labels it with the suffix.
const (
	maxLabel       = validation.DNS1123LabelMaxLength
	maxCronJobName = 52
	instanceSuffix = len("-9-snapshot-recovery")
	stateSecret    = "tfstate-default-"
)

// EntityNameMaxLength is Backstage's limit for metadata.name.
const EntityNameMaxLength = 63

// entityNameRE is Backstage's own rule for metadata.name
// (KubernetesValidatorFunctions.isValidObjectName in @backstage/catalog-model):
// letters and digits at both ends, letters, digits, '-', '_' and '.' between.
var entityNameRE = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

// IsEntityName reports whether s is a valid Backstage entity name.
func IsEntityName(s string) bool {
	return len(s) <= EntityNameMaxLength && entityNameRE.MatchString(s)
}

// derivedName is a name Kubernetes (or Backstage) will be given, the request
// field it comes from, and the rule that must accept it.
type derivedName struct {
	field, what, value string
	check              func(string) []string
}

func maxLen(n int, check func(string) []string) func(string) []string {
	return func(s string) []string {
		errs := check(s)
		if len(s) > n {
			errs = append(errs, validation.MaxLenError(n))
		}
		return errs
	}
}

func entityName(s string) []string {
	if IsEntityName(s) {
		return nil
	}
	return []string{fmt.Sprintf("Backstage allows at most %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit", EntityNameMaxLength)}
}

// derivedNames lists every name a Spec gives to an object outside
// ClustroPG, each with the rule of the system that will receive it, so that
// what passes validation always applies and catalogs.
func (p *Policy) derivedNames(s Spec) []derivedName {
	n := NamesOf(s)
	longest := NamesFor(s.Name, Weekly) // the longest schedule suffix
	ns := p.NamespaceFor(s)
	out := []derivedName{
		{"team", "the namespace", ns, validation.IsDNS1123Label},
		{"team", "the label clustropg.io/team", s.Team, validation.IsValidLabelValue},
		{"name", "the Cluster", n.Cluster, validation.IsDNS1035Label},
		{"name", "instance pod and volume names", s.Name + strings.Repeat("x", instanceSuffix), validation.IsDNS1123Label},
		{"name", "the service", n.RW, validation.IsDNS1035Label},
		{"name", "the service", n.RO, validation.IsDNS1035Label},
		{"name", "the app secret", n.AppSecret, validation.IsDNS1123Subdomain},
		{"name", "the ScheduledBackup", longest.ScheduledBackup, validation.IsDNS1123Subdomain},
		{"name", "the ObjectStore", n.ObjectStore, validation.IsDNS1123Subdomain},
		{"name", "the pg_dump CronJob", n.LogicalBackup, maxLen(maxCronJobName, validation.IsDNS1123Subdomain)},
		{"name", "the Terraform state secret", stateSecret + n.Qualified, validation.IsDNS1123Subdomain},
		{"name", "the Terraform state secret's label and the catalog entity name", n.Qualified, validation.IsValidLabelValue},
		{"name", "the catalog entity name", n.Qualified, entityName},
	}
	for _, db := range s.Databases {
		// Kept to a label's length, as before: the operator may label with it.
		out = append(out, derivedName{"databases", "the Database object for " + db, DatabaseObjectName(s.Name, db), maxLen(maxLabel, validation.IsDNS1123Subdomain)})
	}
	return out
}

// checkDerivedNames reports, once per field, the first derived name that
// Kubernetes or Backstage would refuse. It runs after the fields' own
// format checks, on fields that passed them.
func (p *Policy) checkDerivedNames(s Spec, skip func(field string) bool) Problems {
	var pr Problems
	for _, d := range p.derivedNames(s) {
		if skip(d.field) || pr.Has(d.field) {
			continue
		}
		if errs := d.check(d.value); len(errs) > 0 {
			pr.add(d.field, "%s %q would be refused: %s", d.what, d.value, strings.Join(errs, "; "))
		}
	}
	for i := range pr {
		if pr[i].Field == "name" {
			pr[i].Message += fmt.Sprintf("; use at most %d characters (with team %s in %s)",
				min(MaxNameLength(), maxLabel-len(QualifiedName(s.Environment, s.Team, ""))), s.Team, s.Environment)
		}
	}
	return pr
}

// MaxNameLength is the longest database name whose derived object names
// all stay valid (the team and environment, and extra databases, may
// shorten it further).
func MaxNameLength() int {
	return min(maxLabel-instanceSuffix, maxLabel-len("-backups"), maxCronJobName-len("-pgdump"))
}
