package request

import (
	"fmt"
	"regexp"
	"strings"
)

// Names are the Kubernetes object names a database derives from its name.
// They are computed in one place so that validation can check every one of
// them and the module, the renderer and the readiness check agree.
type Names struct {
	Cluster         string // the CNPG Cluster, also its PodMonitor
	RW, RO, R       string // services: primary, replicas, any instance
	AppSecret       string // <cluster>-app, written by the operator
	ObjectStore     string // Barman Cloud plugin ObjectStore
	LogicalBackup   string // pg_dump CronJob
	ScheduledBackup string // <cluster>-<schedule>
	// Qualified is <env>-<team>-<name>: unique across the platform, used for
	// the Terraform state secret and the Backstage entity name.
	Qualified string
}

// NamesOf returns the names a Spec derives.
func NamesOf(s Spec) Names {
	n := NamesFor(s.Name, s.Backups.Schedule)
	n.Qualified = s.Environment + "-" + s.Team + "-" + s.Name
	return n
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
// database (PostgreSQL allows "_", Kubernetes names do not).
func DatabaseObjectName(cluster, db string) string {
	return cluster + "-db-" + strings.ReplaceAll(db, "_", "-")
}

// Kubernetes limits: DNS-1035 labels (services) are 63 characters; a CronJob
// name at most 52 so that its Jobs' names fit; the operator names instance
// pods, PVCs and jobs "<cluster>-<n>-<suffix>" with suffixes up to
// "-snapshot-recovery" (18), and up to 9 instances.
const (
	maxLabel       = 63
	maxCronJobName = 52
	instanceSuffix = len("-9-snapshot-recovery")
)

var (
	dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// checkDerivedNames reports the first derived name of n that Kubernetes
// would refuse, and how long the database name may be.
func checkDerivedNames(name string, dbs []string) (problem string, ok bool) {
	type limit struct {
		what, value string
		max         int
	}
	n := NamesFor(name, Weekly) // the longest schedule suffix
	checks := []limit{
		{"instance pod and volume names", name + strings.Repeat("x", instanceSuffix), maxLabel},
		{"the service " + n.RW, n.RW, maxLabel},
		{"the app secret " + n.AppSecret, n.AppSecret, maxLabel},
		{"the ScheduledBackup " + n.ScheduledBackup, n.ScheduledBackup, maxLabel},
		{"the ObjectStore " + n.ObjectStore, n.ObjectStore, maxLabel},
		{"the pg_dump CronJob " + n.LogicalBackup, n.LogicalBackup, maxCronJobName},
	}
	for _, db := range dbs {
		o := DatabaseObjectName(name, db)
		checks = append(checks, limit{"the Database object " + o, o, maxLabel})
	}
	for _, c := range checks {
		if len(c.value) > c.max {
			return fmt.Sprintf("%q is too long: %s would be %d characters (Kubernetes allows %d)", name, c.what, len(c.value), c.max), false
		}
	}
	return "", true
}

// MaxNameLength is the longest database name whose derived names all stay
// valid (extra databases may shorten it further).
func MaxNameLength() int {
	return min(maxLabel-instanceSuffix, maxLabel-len("-backups"), maxCronJobName-len("-pgdump"))
}
