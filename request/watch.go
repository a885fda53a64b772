package request

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Notice kinds of day two: what the watch, the drift check and reconcile
// tell a ready database's thread.
const (
	// NoticeUnhealthy: the cluster left the healthy phase, its Ready
	// condition turned false or fewer instances are ready than asked for.
	NoticeUnhealthy = "unhealthy"
	// NoticeRecovered: the cluster is healthy again (or exists again).
	NoticeRecovered = "recovered"
	// NoticeFailover: the primary instance changed.
	NoticeFailover = "failover"
	// NoticeGone: the Cluster object disappeared while the request says ready.
	NoticeGone = "gone"
	// NoticeDrift: the live objects differ from the reviewed code.
	NoticeDrift = "drift"
	// NoticeDriftResolved: they agree again.
	NoticeDriftResolved = "drift_resolved"
	// NoticeReconcilePlan: the plan a reconcile would apply, to confirm.
	NoticeReconcilePlan = "reconcile_plan"
	// NoticeReconciled: a reconcile applied the reviewed code.
	NoticeReconciled = "reconciled"
	// NoticeReconcileFailed: a reconcile did not apply (it failed, or
	// the plan changed since it was confirmed).
	NoticeReconcileFailed = "reconcile_failed"
	// NoticeArchivingFailed: WAL archiving stopped working (the
	// ContinuousArchiving condition turned false): the recovery window
	// no longer grows.
	NoticeArchivingFailed = "archiving_failed"
	// NoticeArchivingRecovered: WAL archiving works again.
	NoticeArchivingRecovered = "archiving_recovered"
	// NoticeBackupFailed: a base backup failed.
	NoticeBackupFailed = "backup_failed"
	// NoticeBackupRecovered: a base backup succeeded after one failed.
	NoticeBackupRecovered = "backup_recovered"
)

// WAL archiving states of a Health.
const (
	ArchivingOK      = "ok"
	ArchivingFailing = "failing"
)

// Health is what ClustroPG last saw of a ready database's CloudNativePG
// Cluster.
type Health struct {
	// Found is false when the Cluster object does not exist.
	Found bool `json:"found"`
	// Phase and Reason are status.phase and status.phaseReason.
	Phase  string `json:"phase,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Ready is the Ready condition's verdict (True), and ReadyReason its
	// reason and message when it is not.
	Ready       bool   `json:"ready"`
	ReadyReason string `json:"readyReason,omitempty"`
	// Instances is the number asked for, ReadyInstances the number ready.
	Instances      int64 `json:"instances"`
	ReadyInstances int64 `json:"readyInstances"`
	// Primary is status.currentPrimary, the instance serving writes.
	Primary string `json:"primary,omitempty"`
	// Since is when the cluster entered this state of health (healthy,
	// unhealthy or gone).
	Since time.Time `json:"since"`
	// Version is the Cluster's resourceVersion when it was seen; empty
	// when unknown (a Cluster found gone). See Stale.
	Version string `json:"version,omitempty"`
	// Archiving is the ContinuousArchiving condition: ArchivingOK,
	// ArchivingFailing (with ArchivingReason), or "" when the cluster
	// does not say (no WAL archiving).
	Archiving       string `json:"archiving,omitempty"`
	ArchivingReason string `json:"archivingReason,omitempty"`
	// LastBackup and LastFailedBackup are when the last base backup
	// succeeded and failed (status.lastSuccessfulBackup and
	// status.lastFailedBackup); zero when none did.
	LastBackup       time.Time `json:"lastBackup,omitzero"`
	LastFailedBackup time.Time `json:"lastFailedBackup,omitzero"`
}

// backupFailing reports whether the last base backup failed.
func (h Health) backupFailing() bool { return h.LastFailedBackup.After(h.LastBackup) }

// Stale reports whether h was seen before o: both carry a version and h's
// is the older. Replicas watch the same Cluster through their own
// informers, and one may deliver an event another has long recorded a
// newer state than; such an observation must change nothing.
// resourceVersion is documented as opaque, but it is the etcd revision
// of the object's last write, one counter for every object, and
// Kubernetes makes it comparable as an integer (KEP-5504); a version
// that is not an integer is never stale.
func (h Health) Stale(o Health) bool {
	a, errA := strconv.ParseUint(h.Version, 10, 64)
	b, errB := strconv.ParseUint(o.Version, 10, 64)
	return errA == nil && errB == nil && a < b
}

// Newer reports whether h carries a version and o's is older or unknown.
func (h Health) Newer(o Health) bool {
	a, err := strconv.ParseUint(h.Version, 10, 64)
	if err != nil {
		return false
	}
	b, err := strconv.ParseUint(o.Version, 10, 64)
	return err != nil || a > b
}

// HealthyPhase is the status.phase of a healthy CloudNativePG Cluster.
const HealthyPhase = "Cluster in healthy state"

// Healthy reports whether the cluster exists, is in the healthy phase
// with its Ready condition true, and has every instance ready. All are
// checked: CloudNativePG has reported the healthy phase while Ready was
// false (cloudnative-pg#4209).
func (h Health) Healthy() bool {
	return h.Found && h.Ready && h.Phase == HealthyPhase && h.Instances > 0 && h.ReadyInstances >= h.Instances
}

// State is "healthy", "unhealthy" or "gone".
func (h Health) State() string {
	switch {
	case !h.Found:
		return "gone"
	case h.Healthy():
		return "healthy"
	default:
		return "unhealthy"
	}
}

// Same reports whether h and o describe the same health (Since and
// Version aside).
func (h Health) Same(o Health) bool {
	if !h.LastBackup.Equal(o.LastBackup) || !h.LastFailedBackup.Equal(o.LastFailedBackup) {
		return false
	}
	for _, x := range []*Health{&h, &o} {
		x.Since, x.Version, x.LastBackup, x.LastFailedBackup = time.Time{}, "", time.Time{}, time.Time{}
	}
	return h == o
}

// String describes the health for people, e.g. `unhealthy: phase "Failing
// over", 2/3 instances ready, primary orders-2`.
func (h Health) String() string {
	if !h.Found {
		return "gone: the Cluster object does not exist"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: phase %q", h.State(), h.Phase)
	if h.Reason != "" {
		fmt.Fprintf(&b, " (%s)", h.Reason)
	}
	fmt.Fprintf(&b, ", %d/%d instances ready", h.ReadyInstances, h.Instances)
	if !h.Ready && h.ReadyReason != "" {
		fmt.Fprintf(&b, ", not Ready: %s", h.ReadyReason)
	}
	if h.Primary != "" {
		fmt.Fprintf(&b, ", primary %s", h.Primary)
	}
	return b.String()
}

// Observe is the health to record when h is seen after prev (nil when
// nothing was recorded yet): h with Since carried over while the state
// stays the same, and set to now when it changes.
func (h Health) Observe(prev *Health, now time.Time) Health {
	h.Since = now
	if prev != nil && prev.State() == h.State() && !prev.Since.IsZero() {
		h.Since = prev.Since
	}
	return h
}

// HealthNotices are what the database db (its Key) hears when its
// cluster goes from prev to cur: one notice per transition, none when
// nothing a person acts on changed (a phase change while unhealthy, say).
func HealthNotices(db string, prev, cur Health) []Notice {
	var out []Notice
	switch {
	case prev.Found && !cur.Found:
		return []Notice{{Kind: NoticeGone, Text: fmt.Sprintf(
			"The CloudNativePG Cluster of %s is gone, while ClustroPG says the database is ready. Nothing brings it back by itself: `/pg reconcile` applies the reviewed code again (a new, empty cluster unless it is restored).", db)}}
	case !prev.Found && cur.Found:
		out = append(out, Notice{Kind: NoticeRecovered, Text: fmt.Sprintf("The Cluster of %s exists again: %s.", db, cur)})
		return out
	case !cur.Found:
		return nil
	}
	if prev.Primary != "" && cur.Primary != "" && prev.Primary != cur.Primary {
		out = append(out, Notice{Kind: NoticeFailover, Text: fmt.Sprintf(
			"The primary of %s changed from %s to %s (a switchover or a failover). Clients of the rw service follow it; open transactions on the old primary were cut.", db, prev.Primary, cur.Primary)})
	}
	out = append(out, backupNotices(db, prev, cur)...)
	switch {
	case prev.Healthy() && !cur.Healthy():
		out = append(out, Notice{Kind: NoticeUnhealthy, Text: fmt.Sprintf("%s is unhealthy: %s.", db, unhealthyDetail(cur))})
	case !prev.Healthy() && !cur.Healthy() && cur.ReadyInstances < prev.ReadyInstances:
		out = append(out, Notice{Kind: NoticeUnhealthy, Text: fmt.Sprintf("%s lost another instance: %s.", db, unhealthyDetail(cur))})
	case !prev.Healthy() && cur.Healthy():
		out = append(out, Notice{Kind: NoticeRecovered, Text: fmt.Sprintf("%s is healthy again: %d/%d instances ready, primary %s.", db, cur.ReadyInstances, cur.Instances, orNone(cur.Primary))})
	}
	return out
}

// backupNotices tell what changed in a cluster's backups: WAL archiving
// failing or working again, a base backup failing, and the first success
// after a failure.
func backupNotices(db string, prev, cur Health) []Notice {
	var out []Notice
	switch {
	case prev.Archiving != ArchivingFailing && cur.Archiving == ArchivingFailing:
		out = append(out, Notice{Kind: NoticeArchivingFailed, Text: fmt.Sprintf(
			"WAL archiving of %s is failing (%s): nothing written from now on can be restored until it works again. Check the object store and its credentials.", db, orNone(cur.ArchivingReason))})
	case prev.Archiving == ArchivingFailing && cur.Archiving == ArchivingOK:
		out = append(out, Notice{Kind: NoticeArchivingRecovered, Text: fmt.Sprintf("WAL archiving of %s works again.", db)})
	}
	switch {
	case cur.LastFailedBackup.After(prev.LastFailedBackup) && cur.backupFailing():
		out = append(out, Notice{Kind: NoticeBackupFailed, Text: fmt.Sprintf(
			"A base backup of %s failed at %s (last good one: %s). `/pg backups` shows them; `/pg backup` takes one now.", db, cur.LastFailedBackup.UTC().Format(time.RFC3339), orNever(cur.LastBackup))})
	case prev.backupFailing() && !cur.backupFailing() && cur.LastBackup.After(prev.LastBackup):
		out = append(out, Notice{Kind: NoticeBackupRecovered, Text: fmt.Sprintf("A base backup of %s succeeded at %s, after the failed one.", db, cur.LastBackup.UTC().Format(time.RFC3339))})
	}
	return out
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func unhealthyDetail(h Health) string {
	s := fmt.Sprintf("phase %q", h.Phase)
	if h.Reason != "" {
		s += " (" + h.Reason + ")"
	}
	s += fmt.Sprintf(", %d/%d instances ready", h.ReadyInstances, h.Instances)
	if !h.Ready {
		s += ", Ready condition false"
		if h.ReadyReason != "" {
			s += " (" + h.ReadyReason + ")"
		}
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Drift is a difference between a database's live objects and the
// reviewed code on the base branch: a non-empty plan.
type Drift struct {
	// Detected is when this drift was first seen, Checked when it was
	// last confirmed.
	Detected time.Time `json:"detected"`
	Checked  time.Time `json:"checked"`
	// Commit is the base branch commit that was planned.
	Commit string `json:"commit"`
	// Summary is the plan's summary line (redacted).
	Summary string `json:"summary"`
	// Resources are the resource changes the plan makes, e.g.
	// "update module.database.kubectl_manifest.cluster".
	Resources []string `json:"resources"`
	// Fingerprint is the same for the same drift (Fingerprint), so a
	// drift is told once.
	Fingerprint string `json:"fingerprint"`
}

// DriftFingerprint identifies a drift by what the plan would do (its
// resource changes and the redacted text of its diff), not by when or
// from which commit it was seen.
func DriftFingerprint(resources []string, planText string) string {
	rs := slices.Clone(resources)
	slices.Sort(rs)
	h := sha256.New()
	for _, r := range rs {
		h.Write([]byte(r))
		h.Write([]byte{0})
	}
	h.Write([]byte(planText))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// DriftNotices are what the database db hears when the drift check finds
// cur after prev (either nil when there is none): a new or different
// drift is told once, and its end once.
func DriftNotices(db string, prev, cur *Drift) []Notice {
	switch {
	case cur != nil && (prev == nil || prev.Fingerprint != cur.Fingerprint):
		return []Notice{{Kind: NoticeDrift, Plan: cur.Summary, Text: fmt.Sprintf(
			"%s drifted from its reviewed code (%s): %s. Someone changed it behind Terraform's back. `/pg reconcile` shows the plan that puts it back and applies it once confirmed.",
			db, cur.Summary, strings.Join(cur.Resources, ", "))}}
	case cur == nil && prev != nil:
		return []Notice{{Kind: NoticeDriftResolved, Text: fmt.Sprintf("%s matches its reviewed code again.", db)}}
	}
	return nil
}

// Reconcile states.
const (
	ReconcilePlanning = "planning"
	ReconcilePlanned  = "planned"
	ReconcileApplying = "applying"
	ReconcileDone     = "done"
	ReconcileFailed   = "failed"
)

// Reconcile is a request to apply a database's reviewed code on the base
// branch again, to undo a drift. It is planned first; the plan is shown
// and applied only once confirmed, and only if applying would do exactly
// what was shown.
type Reconcile struct {
	// ID names this reconcile: confirming means naming it.
	ID    string `json:"id"`
	State string `json:"state"`
	// Requester asked for it, through Origin; Confirmer confirmed it.
	Requester Requester  `json:"requester"`
	Origin    Origin     `json:"origin"`
	Confirmer *Requester `json:"confirmer,omitempty"`
	// Commit is the base branch commit planned (and applied).
	Commit string `json:"commit,omitempty"`
	// Summary, Resources and Fingerprint describe the plan, as for a Drift.
	Summary     string   `json:"summary,omitempty"`
	Resources   []string `json:"resources,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	// Error says why it failed.
	Error     string    `json:"error,omitempty"`
	Requested time.Time `json:"requested"`
	Updated   time.Time `json:"updated"`
}

// Open reports whether the reconcile is still to be planned, confirmed or
// applied: a second one waits for it.
func (r *Reconcile) Open() bool {
	return r != nil && (r.State == ReconcilePlanning || r.State == ReconcilePlanned || r.State == ReconcileApplying)
}
