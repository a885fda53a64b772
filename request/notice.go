package request

// Notice kinds, one per step a requester hears about.
const (
	NoticeReceived  = "received"
	NoticePROpened  = "pr_opened"
	NoticeRefused   = "refused"
	NoticeEdited    = "edited"
	NoticePlanned   = "planned"
	NoticeMerged    = "merged"
	NoticeApplying  = "applying"
	NoticeProgress  = "progress"
	NoticeReady     = "ready"
	NoticeFailed    = "failed"
	NoticeCancelled = "cancelled"
	NoticeDeleted   = "deleted"
)

// Notice is one step of a request told to the requester. It never holds a
// secret: the credentials of a ready database are read from its app secret
// when they are sent privately, never stored.
type Notice struct {
	Kind string `json:"kind"`
	// Text is a one-line summary of the step.
	Text string `json:"text"`
	// Actor is who caused it, when a person did (the reviewer who merged).
	Actor string `json:"actor,omitempty"`
	PRURL string `json:"prUrl,omitempty"`
	// Plan is the plan summary ("Plan: 4 to add, 0 to change, 0 to destroy.").
	Plan string `json:"plan,omitempty"`
	// Next says what to do after a failure.
	Next  string     `json:"next,omitempty"`
	Ready *ReadyInfo `json:"ready,omitempty"`
	// Reconcile is the reconcile a reconcile notice is about: a planned
	// one is shown with a way to confirm it.
	Reconcile *Reconcile `json:"reconcile,omitempty"`
}

// ReadyInfo is how to reach a ready database, without its password.
type ReadyInfo struct {
	Namespace string `json:"namespace"`
	Cluster   string `json:"cluster"`
	RWHost    string `json:"rwHost"`
	ROHost    string `json:"roHost"`
	Port      int    `json:"port"`
	Database  string `json:"database"`
	User      string `json:"user"`
	// Secret is the Kubernetes secret holding the password and URI.
	Secret string `json:"secret"`
	// SecretHint is the kubectl command that prints the URI.
	SecretHint string `json:"secretHint"`
	Grafana    string `json:"grafana,omitempty"`
}
