package githubtest

import "time"

// pull is a pull request (and the issue GitHub pairs with it).
type pull struct {
	number              int
	title, body         string
	state               string // "open" or "closed"
	draft               bool
	user                string
	head, base          string // branch names
	headSHA, baseSHA    string // last seen tips; frozen once closed
	maintainerCanModify bool
	labels              []string // names, in the order added
	created, updated    time.Time
	closed, merged      time.Time // zero while not
	mergedBy            string
	mergeCommitSHA      string
}

// comment is an issue comment on a pull request.
type comment struct {
	id               int64
	number           int
	user             string
	body             string
	created, updated time.Time
}

// status is a commit status.
type status struct {
	id          int64
	sha         string
	state       string
	targetURL   string
	description string
	context     string
	creator     string
	created     time.Time
}

// label is a repository label.
type label struct {
	id          int64
	name        string
	color       string
	description string
}

// ID bases keep the emulator's IDs apart, so that code mixing up a pull
// request's number, its ID and a comment's ID fails in tests.
const (
	repoID      = 610000001
	pullIDBase  = 1900000000
	issueIDBase = 2300000000
	commentBase = 1400000000
	statusBase  = 3100000000
	labelBase   = 5200000000
	userIDBase  = 9000000
)
