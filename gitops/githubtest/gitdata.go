package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"
)

// The Git Data API: refs, blobs, trees and commits.

// --- refs ---

func (s *Server) handleGetRef() http.Handler {
	const doc = "https://docs.github.com/rest/git/refs#get-a-reference"
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.Reference, error) {
		return s.getRef("refs/" + r.PathValue("ref"))
	})
}

func (s *Server) getRef(ref string) (*github.Reference, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.git.refSHA(ref)
	if err != nil {
		return nil, err
	}
	if sha == "" {
		return nil, notFound()
	}
	return s.refJSON(ref, sha), nil
}

func (s *Server) handleCreateRef() http.Handler {
	const doc = "https://docs.github.com/rest/git/refs#create-a-reference"
	type request struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.Reference, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.Ref == nil:
			return nil, missing("ref")
		case req.SHA == nil:
			return nil, missing("sha")
		}
		return s.createRef(actorFrom(r.Context()), *req.Ref, *req.SHA)
	})
}

func (s *Server) createRef(who actor, ref, sha string) (*github.Reference, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		return nil, newError(http.StatusUnprocessableEntity, "ref must start with 'refs' and have at least two slashes.")
	}
	if !s.git.validRefName(ref) {
		return nil, newError(http.StatusUnprocessableEntity, "Reference name is invalid")
	}
	if ok, err := s.git.hasObject(sha, "commit"); err != nil || !ok {
		return nil, orError(err, newError(http.StatusUnprocessableEntity, "Object does not exist"))
	}
	old, err := s.git.refSHA(ref)
	if err != nil {
		return nil, err
	}
	if old != "" {
		return nil, newError(http.StatusUnprocessableEntity, "Reference already exists")
	}
	if err := s.git.updateRef(ref, sha, "", "create ref by "+who.login); err != nil {
		// refs/heads/a next to refs/heads/a/b: git cannot store both.
		return nil, newError(http.StatusUnprocessableEntity, "Reference update failed")
	}
	return s.refJSON(ref, sha), nil
}

func (s *Server) handleUpdateRef() http.Handler {
	const doc = "https://docs.github.com/rest/git/refs#update-a-reference"
	type request struct {
		SHA   *string `json:"sha"`
		Force bool    `json:"force"`
	}
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.Reference, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.SHA == nil:
			return nil, missing("sha")
		}
		return s.updateRef(actorFrom(r.Context()), "refs/"+r.PathValue("ref"), *req.SHA, req.Force)
	})
}

// updateRef moves ref to sha, only forward unless force, and has the pull
// requests whose head it is follow (a synchronize webhook each).
func (s *Server) updateRef(who actor, ref, sha string, force bool) (*github.Reference, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.git.refSHA(ref)
	if err != nil {
		return nil, err
	}
	if old == "" {
		return nil, newError(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if ok, err := s.git.hasObject(sha, "commit"); err != nil || !ok {
		return nil, orError(err, newError(http.StatusUnprocessableEntity, "Object does not exist"))
	}
	if !force {
		ff, err := s.git.isAncestor(old, sha)
		if err != nil {
			return nil, err
		}
		if !ff {
			return nil, newError(http.StatusUnprocessableEntity, "Update is not a fast forward")
		}
	}
	if err := s.moveRef(&out, who.login, ref, sha, old); err != nil {
		return nil, err
	}
	return s.refJSON(ref, sha), nil
}

// moveRef points ref at sha (from old) and sends synchronize for every open
// pull request whose head branch it is. Callers hold s.mu.
func (s *Server) moveRef(out *outbox, sender, ref, sha, old string) error {
	if err := s.git.updateRef(ref, sha, old, "update by "+sender); err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok || sha == old {
		return nil
	}
	for _, p := range s.sortedPulls() {
		if p.state != "open" || p.head != branch {
			continue
		}
		before := p.headSHA
		p.headSHA = sha
		p.updated = s.now()
		err := s.emitPull(out, "synchronize", p, sender, func(e *github.PullRequestEvent) {
			e.Before, e.After = ptr(before), ptr(sha)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) handleDeleteRef() http.Handler {
	const doc = "https://docs.github.com/rest/git/refs#delete-a-reference"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.deleteRef(actorFrom(r.Context()), "refs/"+r.PathValue("ref")); err != nil {
			writeError(w, r, err, doc)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// deleteRef deletes ref; deleting a branch closes the open pull requests
// from or into it, as GitHub does.
func (s *Server) deleteRef(who actor, ref string) error {
	var out outbox
	defer s.deliver(&out)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.git.refSHA(ref)
	if err != nil {
		return err
	}
	if old == "" {
		return newError(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if err := s.git.deleteRef(ref, old); err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return nil
	}
	for _, p := range s.sortedPulls() {
		if p.state == "open" && (p.head == branch || p.base == branch) {
			if err := s.closePull(&out, p, who.login); err != nil {
				return err
			}
		}
	}
	return nil
}

// orError returns err if it is set, else fallback.
func orError(err error, fallback *Error) error {
	if err != nil {
		return err
	}
	return fallback
}

// --- blobs ---

func (s *Server) handleCreateBlob() http.Handler {
	const doc = "https://docs.github.com/rest/git/blobs#create-a-blob"
	type request struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.Blob, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.Content == nil:
			return nil, missing("content")
		}
		data := []byte(*req.Content)
		switch req.Encoding {
		case "", "utf-8":
		case "base64":
			if data, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(*req.Content)); err != nil {
				return nil, invalid(FieldError{Resource: "Blob", Field: "content", Code: "invalid"})
			}
		default:
			return nil, invalid(FieldError{Resource: "Blob", Field: "encoding", Code: "invalid"})
		}
		return s.createBlob(data)
	})
}

func (s *Server) createBlob(data []byte) (*github.Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.git.writeBlob(data)
	if err != nil {
		return nil, err
	}
	return &github.Blob{SHA: ptr(sha), URL: ptr(s.apiURL("/git/blobs/" + sha))}, nil
}

func (s *Server) handleGetBlob() http.Handler {
	const doc = "https://docs.github.com/rest/git/blobs#get-a-blob"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		blob, data, err := s.getBlob(r.PathValue("sha"))
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		if wantsRaw(r) {
			writeRaw(w, data)
			return
		}
		writeJSON(w, http.StatusOK, blob)
	})
}

// getBlob returns the blob sha as GitHub describes it, and its content.
func (s *Server) getBlob(sha string) (*github.Blob, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := s.git.readBlob(sha)
	if errors.Is(err, errNoObject) {
		return nil, nil, notFound()
	}
	if err != nil {
		return nil, nil, err
	}
	return &github.Blob{
		SHA:      ptr(sha),
		NodeID:   ptr(nodeID("Blob", fmt.Sprintf("%d:%s", repoID, sha))),
		Size:     ptr(len(data)),
		URL:      ptr(s.apiURL("/git/blobs/" + sha)),
		Content:  ptr(base64Lines(data)),
		Encoding: ptr("base64"),
	}, data, nil
}

// base64Lines encodes data as GitHub does: base64 in lines of 60 characters,
// each ending in a newline.
func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	return b.String()
}

// --- trees ---

// entryType is the object type a tree entry mode holds, or "" for a mode
// git does not store.
func entryType(mode string) string {
	switch mode {
	case "100644", "100755", "120000":
		return "blob"
	case "040000":
		return "tree"
	case "160000":
		return "commit"
	}
	return ""
}

// treeEntryRequest is one entry of POST /git/trees.
type treeEntryRequest struct {
	Path    string          `json:"path"`
	Mode    string          `json:"mode"`
	Type    string          `json:"type"`
	SHA     json.RawMessage `json:"sha"` // absent, null (delete the path) or a string
	Content *string         `json:"content"`
}

// edit validates the i-th entry as GitHub does and turns it into an edit.
func (e treeEntryRequest) edit(i int) (treeEdit, error) {
	problem := func(field, format string, args ...any) error {
		return invalid(FieldError{Resource: "Tree", Field: field, Code: "invalid",
			Message: fmt.Sprintf("tree[%d].%s ", i, field) + fmt.Sprintf(format, args...)})
	}
	if !validPath(e.Path) {
		return treeEdit{}, problem("path", "%q is not a valid path", e.Path)
	}
	mode := normalMode(e.Mode)
	typ := entryType(mode)
	if typ == "" {
		return treeEdit{}, problem("mode", "must be one of 100644, 100755, 040000, 160000, 120000")
	}
	if e.Type != typ {
		return treeEdit{}, problem("type", "must be %q for mode %s", typ, e.Mode)
	}
	edit := treeEdit{Path: e.Path, Mode: mode, Type: typ}
	var sha *string
	if len(e.SHA) > 0 && string(e.SHA) != "null" {
		if err := json.Unmarshal(e.SHA, &sha); err != nil {
			return treeEdit{}, problem("sha", "must be a string or null")
		}
	}
	switch {
	case sha != nil && e.Content != nil:
		return treeEdit{}, problem("sha", "and content cannot both be set")
	case e.Content != nil && typ != "blob":
		return treeEdit{}, problem("content", "is only valid for blobs")
	case e.Content != nil:
		edit.Content = e.Content
	case sha != nil:
		edit.SHA = *sha
	case string(e.SHA) == "null":
		edit.Delete = true
	default:
		return treeEdit{}, problem("sha", "or content must be supplied")
	}
	return edit, nil
}

func (s *Server) handleCreateTree() http.Handler {
	const doc = "https://docs.github.com/rest/git/trees#create-a-tree"
	type request struct {
		BaseTree string              `json:"base_tree"`
		Tree     *[]treeEntryRequest `json:"tree"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.Tree, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.Tree == nil:
			return nil, missing("tree")
		}
		edits := make([]treeEdit, len(*req.Tree))
		for i, e := range *req.Tree {
			if edits[i], err = e.edit(i); err != nil {
				return nil, err
			}
		}
		return s.createTree(req.BaseTree, edits)
	})
}

// normalMode accepts GitHub's spelling of a directory mode with or without
// the leading zero.
func normalMode(mode string) string {
	if mode == "40000" {
		return "040000"
	}
	return mode
}

// createTree writes the tree of edits over base (a tree-ish, or ""),
// storing the content of the edits that came with text as blobs first.
func (s *Server) createTree(base string, edits []treeEdit) (*github.Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if base != "" {
		tree, err := s.git.resolveTree(base)
		if errors.Is(err, errNoObject) {
			return nil, invalid(FieldError{Resource: "Tree", Field: "base_tree", Code: "invalid",
				Message: fmt.Sprintf("base_tree %s is not a valid tree oid", base)})
		}
		if err != nil {
			return nil, err
		}
		base = tree
	}
	for i := range edits {
		e := &edits[i]
		if e.Content != nil {
			sha, err := s.git.writeBlob([]byte(*e.Content))
			if err != nil {
				return nil, err
			}
			e.SHA = sha
			continue
		}
		if e.Delete || e.Type == "commit" {
			continue
		}
		if ok, err := s.git.hasObject(e.SHA, e.Type); err != nil || !ok {
			return nil, orError(err, invalid(FieldError{Resource: "Tree", Field: "sha", Code: "invalid",
				Message: fmt.Sprintf("tree.sha %s is not a valid %s", e.SHA, e.Type)}))
		}
	}
	sha, err := s.git.editTree(base, edits)
	if err != nil {
		return nil, err
	}
	return s.treeJSON(sha, false)
}

func (s *Server) handleGetTree() http.Handler {
	const doc = "https://docs.github.com/rest/git/trees#get-a-tree"
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.Tree, error) {
		return s.getTree(r.PathValue("sha"), r.URL.Query().Has("recursive"))
	})
}

func (s *Server) getTree(treeish string, recursive bool) (*github.Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.git.resolveTree(treeish)
	if errors.Is(err, errNoObject) {
		return nil, notFound()
	}
	if err != nil {
		return nil, err
	}
	return s.treeJSON(sha, recursive)
}

func (s *Server) treeJSON(sha string, recursive bool) (*github.Tree, error) {
	entries, err := s.git.lsTree(sha, recursive)
	if err != nil {
		return nil, err
	}
	out := make([]*github.TreeEntry, 0, len(entries))
	for _, e := range entries {
		te := &github.TreeEntry{Path: ptr(e.Path), Mode: ptr(e.Mode), Type: ptr(e.Type), SHA: ptr(e.SHA)}
		switch e.Type {
		case "blob":
			te.Size = ptr(e.Size)
			te.URL = ptr(s.apiURL("/git/blobs/" + e.SHA))
		case "tree":
			te.URL = ptr(s.apiURL("/git/trees/" + e.SHA))
		}
		out = append(out, te)
	}
	return &github.Tree{SHA: ptr(sha), Entries: out, Truncated: ptr(false)}, nil
}

// --- commits ---

func (s *Server) handleCreateCommit() http.Handler {
	const doc = "https://docs.github.com/rest/git/commits#create-a-commit"
	type request struct {
		Message   *string              `json:"message"`
		Tree      *string              `json:"tree"`
		Parents   []string             `json:"parents"`
		Author    *github.CommitAuthor `json:"author"`
		Committer *github.CommitAuthor `json:"committer"`
		Signature string               `json:"signature"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.Commit, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.Message == nil:
			return nil, missing("message")
		case req.Tree == nil:
			return nil, missing("tree")
		}
		c := commitObject{Tree: *req.Tree, Parents: req.Parents, Message: *req.Message, Signature: req.Signature}
		return s.createCommit(actorFrom(r.Context()), c, req.Author, req.Committer)
	})
}

// createCommit writes c; author and committer default to the caller, now.
func (s *Server) createCommit(who actor, c commitObject, author, committer *github.CommitAuthor) (*github.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, err := s.git.hasObject(c.Tree, "tree"); err != nil || !ok {
		return nil, orError(err, newError(http.StatusUnprocessableEntity, "Tree SHA does not exist"))
	}
	for _, p := range c.Parents {
		if ok, err := s.git.hasObject(p, "commit"); err != nil || !ok {
			return nil, orError(err, newError(http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object"))
		}
	}
	if !utf8.ValidString(c.Message) {
		return nil, invalid(FieldError{Resource: "Commit", Field: "message", Code: "invalid"})
	}
	def := s.signatureOf(who.login)
	var err error
	if c.Author, err = commitSignature(author, def, "author"); err != nil {
		return nil, err
	}
	if c.Committer, err = commitSignature(committer, c.Author, "committer"); err != nil {
		return nil, err
	}
	sha, err := s.git.writeCommit(c)
	if err != nil {
		return nil, err
	}
	c.SHA = sha
	return s.commitJSON(c), nil
}

// commitSignature is the signature a request's author or committer asks
// for, def where it says nothing.
func commitSignature(a *github.CommitAuthor, def signature, field string) (signature, error) {
	if a == nil {
		return def, nil
	}
	sig := signature{Name: a.GetName(), Email: a.GetEmail(), When: def.When}
	if sig.Name == "" || sig.Email == "" {
		return signature{}, invalid(FieldError{Resource: "Commit", Field: field, Code: "missing_field",
			Message: field + " must have a name and an email"})
	}
	if strings.ContainsAny(sig.Name+sig.Email, "<>\n") {
		return signature{}, invalid(FieldError{Resource: "Commit", Field: field, Code: "invalid"})
	}
	if a.Date != nil {
		sig.When = a.Date.Time
	}
	return sig, nil
}

func (s *Server) handleGetCommit() http.Handler {
	const doc = "https://docs.github.com/rest/git/commits#get-a-commit-object"
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.Commit, error) {
		return s.getCommit(r.PathValue("sha"))
	})
}

func (s *Server) getCommit(sha string) (*github.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.git.readCommit(sha)
	if errors.Is(err, errNoObject) {
		return nil, notFound()
	}
	if err != nil {
		return nil, err
	}
	return s.commitJSON(c), nil
}

// sortedPulls lists the pull requests by number. Callers hold s.mu.
func (s *Server) sortedPulls() []*pull {
	out := make([]*pull, 0, len(s.pulls))
	for _, p := range s.pulls {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out
}
