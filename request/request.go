package request

import "time"

// ClientType is who the database is for; with the environment it picks the
// default number of instances and the backup defaults.
type ClientType string

// The client types a request may name.
const (
	Startup    ClientType = "startup"
	SME        ClientType = "sme"
	Enterprise ClientType = "enterprise"
)

// ClientTypes lists the client types in the order they are offered.
func ClientTypes() []ClientType { return []ClientType{Startup, SME, Enterprise} }

// Load is the expected load; the policy maps it to a Size.
type Load string

// The expected loads a request may name.
const (
	Small   Load = "small"
	Medium  Load = "medium"
	Big     Load = "big"
	VeryBig Load = "very-big"
)

// Loads lists the loads in increasing order.
func Loads() []Load { return []Load{Small, Medium, Big, VeryBig} }

// Size is a sizing preset: CPU, memory, storage and PostgreSQL parameters
// come from the policy's table for it.
type Size string

// The sizing presets.
const (
	SizeS  Size = "S"
	SizeM  Size = "M"
	SizeL  Size = "L"
	SizeXL Size = "XL"
)

// Sizes lists the presets in increasing order.
func Sizes() []Size { return []Size{SizeS, SizeM, SizeL, SizeXL} }

// Schedule is how often continuous backups take a base backup.
type Schedule string

// The backup schedules. None turns backups (base backups and WAL archiving) off.
const (
	NoBackups Schedule = "none"
	Hourly    Schedule = "hourly"
	Daily     Schedule = "daily"
	Weekly    Schedule = "weekly"
)

// Schedules lists the backup schedules.
func Schedules() []Schedule { return []Schedule{NoBackups, Hourly, Daily, Weekly} }

// Kind is what a change does to a database: every change, the first one
// included, is its own request with its own pull request.
type Kind string

// The kinds of change.
const (
	Create  Kind = "create"
	Resize  Kind = "resize"
	Backup  Kind = "backups"
	Destroy Kind = "delete"
)

// Kinds lists the kinds of change.
func Kinds() []Kind { return []Kind{Create, Resize, Backup, Destroy} }

// Backups configures continuous backups (WAL archiving plus scheduled base
// backups through the Barman Cloud plugin).
type Backups struct {
	// Schedule is none, hourly, daily or weekly.
	Schedule Schedule `json:"schedule,omitempty"`
	// Hour is the hour of day (0-23, UTC) of daily and weekly backups; nil
	// takes the policy's default.
	Hour *int `json:"hour,omitempty"`
	// Retention is how long backups are kept, as the Barman Cloud plugin
	// reads it: a number and d, w or m ("14d").
	Retention string `json:"retention,omitempty"`
}

// Enabled reports whether continuous backups are on.
func (b Backups) Enabled() bool { return b.Schedule != "" && b.Schedule != NoBackups }

// Spec is what a workspace describes: the part of a request that is rendered
// into Terraform and that a reviewer may see and edit. A resolved Spec has
// every field set.
type Spec struct {
	Name        string `json:"name"`
	Team        string `json:"team"`
	Environment string `json:"environment"`
	Size        Size   `json:"size,omitempty"`
	Instances   int    `json:"instances,omitempty"`
	// PostgresVersion is the major version (16, 17, ...).
	PostgresVersion int `json:"postgresVersion,omitempty"`
	// Storage overrides the preset's data volume size ("100Gi"); empty keeps it.
	Storage       string   `json:"storage,omitempty"`
	Backups       Backups  `json:"backups"`
	LogicalBackup bool     `json:"logicalBackup,omitempty"`
	Databases     []string `json:"databases,omitempty"`
	// Restore, when set, makes the new database from the backups of
	// another one of the same environment and team; nil starts it empty.
	Restore *Restore `json:"restore,omitempty"`
}

// Origin is where a request came from.
type Origin struct {
	// Kind is slack, api, cli or github.
	Kind         string `json:"kind"`
	SlackTeam    string `json:"slackTeam,omitempty"`
	SlackChannel string `json:"slackChannel,omitempty"`
	SlackThread  string `json:"slackThread,omitempty"`
	// APIClient is the name of the API token used.
	APIClient string `json:"apiClient,omitempty"`
}

// The origin kinds.
const (
	OriginSlack  = "slack"
	OriginAPI    = "api"
	OriginCLI    = "cli"
	OriginGitHub = "github"
)

// Requester is the person who asked.
type Requester struct {
	// ID is the Slack user id, the Backstage user ref or the CLI user.
	ID string `json:"id"`
	// Name is for display only.
	Name string `json:"name,omitempty"`
}

// DatabaseRequest is one change asked for a database: the questions the
// requester answered (client type, expected load) and the Spec, plus who
// asked and from where. Resolve fills the Spec's unset fields from policy.
type DatabaseRequest struct {
	ID         string     `json:"id,omitempty"`
	Kind       Kind       `json:"kind,omitempty"`
	ClientType ClientType `json:"clientType,omitempty"`
	Load       Load       `json:"load,omitempty"`
	Spec
	Requester Requester `json:"requester"`
	Origin    Origin    `json:"origin"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// Key identifies a database across its changes: environment, team, name.
func (s Spec) Key() string { return s.Environment + "/" + s.Team + "/" + s.Name }
