package githubtest

import (
	"errors"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// The commit statuses API.

// validState reports whether state is one a commit status can have.
func validState(state string) bool {
	switch state {
	case "error", "failure", "pending", "success":
		return true
	}
	return false
}

func (s *Server) handleCreateStatus() http.Handler {
	const doc = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
	type request struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.RepoStatus, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case !validState(req.State):
			return nil, invalid(FieldError{Resource: "Status", Field: "state", Code: "custom",
				Message: "state is not included in the list"})
		}
		st := status{state: req.State, targetURL: req.TargetURL, description: req.Description, context: req.Context}
		return s.createStatus(actorFrom(r.Context()).login, r.PathValue("sha"), st)
	})
}

// createStatus records a status on the commit sha (a full object name, as
// GitHub requires).
func (s *Server) createStatus(creator, sha string, st status) (*github.RepoStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, err := s.git.hasObject(sha, "commit"); err != nil || !ok {
		return nil, orError(err, newError(http.StatusUnprocessableEntity, "No commit found for SHA: "+sha))
	}
	if st.context == "" {
		st.context = "default"
	}
	if len([]rune(st.description)) > 140 {
		return nil, invalid(FieldError{Resource: "Status", Field: "description", Code: "custom",
			Message: "description is too long (maximum is 140 characters)"})
	}
	st.id, st.sha, st.creator, st.created = s.newID(statusBase), sha, creator, s.now()
	s.statuses[sha] = append(s.statuses[sha], &st)
	return s.statusJSON(&st), nil
}

func (s *Server) handleCombinedStatus() http.Handler {
	const doc = "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference"
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.CombinedStatus, error) {
		return s.combinedStatus(r.PathValue("ref"))
	})
}

func (s *Server) combinedStatus(ref string) (*github.CombinedStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.resolveRef(ref)
	if err != nil {
		return nil, err
	}
	latest := s.latestStatuses(sha)
	out := make([]*github.RepoStatus, 0, len(latest))
	for _, st := range latest {
		out = append(out, s.statusJSON(st))
	}
	return &github.CombinedStatus{
		State:         ptr(s.combinedState(sha)),
		SHA:           ptr(sha),
		TotalCount:    ptr(len(out)),
		Statuses:      out,
		CommitURL:     ptr(s.apiURL("/commits/" + sha)),
		RepositoryURL: ptr(s.apiURL("")),
	}, nil
}

// resolveRef resolves a branch, tag or commit name for the endpoints that
// take one: GitHub's 404 (with its message) when it names nothing. Callers
// hold s.mu.
func (s *Server) resolveRef(ref string) (string, error) {
	sha, err := s.git.resolve(ref)
	if errors.Is(err, errNoObject) {
		return "", newError(http.StatusNotFound, "No commit found for the ref "+ref)
	}
	return sha, err
}

// latestStatuses is the newest status of each context on sha, in the order
// the contexts first appeared. Callers hold s.mu.
func (s *Server) latestStatuses(sha string) []*status {
	var order []string
	latest := make(map[string]*status)
	for _, st := range s.statuses[sha] {
		if _, seen := latest[st.context]; !seen {
			order = append(order, st.context)
		}
		latest[st.context] = st
	}
	out := make([]*status, 0, len(order))
	for _, c := range order {
		out = append(out, latest[c])
	}
	return out
}

// combinedState follows GitHub: failure if any context's latest status is
// error or failure, pending if there is none or one is pending, else
// success. Callers hold s.mu.
func (s *Server) combinedState(sha string) string {
	latest := s.latestStatuses(sha)
	if len(latest) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range latest {
		switch st.state {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

func (s *Server) handleListStatuses() http.Handler {
	const doc = "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference"
	return handleList(doc, s.baseURL, func(r *http.Request) ([]*github.RepoStatus, error) {
		return s.listStatuses(r.PathValue("ref"))
	})
}

// listStatuses lists every status on ref's commit, newest first.
func (s *Server) listStatuses(ref string) ([]*github.RepoStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.resolveRef(ref)
	if err != nil {
		return nil, err
	}
	all := s.statuses[sha]
	out := make([]*github.RepoStatus, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		out = append(out, s.statusJSON(all[i]))
	}
	return out, nil
}
