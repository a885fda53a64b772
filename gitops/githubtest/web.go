package githubtest

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/google/go-github/v62/github"
)

// A minimal web UI: the page a pull request's html_url points to, with the
// buttons a reviewer needs in a demo (merge, close, reopen, comment). It acts
// as Options.Reviewer and needs no token, like a logged-in browser.

var pullPage = template.Must(template.New("pull").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.PR.GetTitle}} · Pull Request #{{.PR.GetNumber}}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{background:#f6f8fa;padding:1em;overflow:auto}
.state{padding:.2em .6em;border-radius:1em;color:#fff;background:{{if .PR.GetMerged}}#8250df{{else if eq .PR.GetState "open"}}#1f883d{{else}}#cf222e{{end}}}</style>
</head><body>
<h1>{{.PR.GetTitle}} <small>#{{.PR.GetNumber}}</small></h1>
<p><span class="state">{{if .PR.GetMerged}}Merged{{else}}{{.PR.GetState}}{{end}}</span>
{{.PR.GetUser.GetLogin}} wants to merge {{.PR.GetCommits}} commit(s) into <code>{{.PR.GetBase.GetRef}}</code> from <code>{{.PR.GetHead.GetRef}}</code>
({{.PR.GetHead.GetSHA}}){{if .PR.GetMerged}}; merged by {{.PR.GetMergedBy.GetLogin}} as {{.PR.GetMergeCommitSHA}}{{end}}</p>
<pre>{{.PR.GetBody}}</pre>
{{range .Statuses}}<p>{{.GetContext}}: <b>{{.GetState}}</b> {{.GetDescription}}</p>{{end}}
<h2>Files changed ({{len .Files}})</h2>
{{range .Files}}<h3>{{.GetFilename}} <small>{{.GetStatus}} +{{.GetAdditions}} −{{.GetDeletions}}</small></h3><pre>{{.GetPatch}}</pre>{{end}}
<h2>Conversation</h2>
{{range .Comments}}<div><b>{{.GetUser.GetLogin}}</b> <small>{{.GetCreatedAt}}</small><pre>{{.GetBody}}</pre></div>{{end}}
<form method="post" action="{{.Path}}/comment"><textarea name="body" rows="4" cols="80"></textarea><br>
<button>Comment as {{.Reviewer}}</button></form>
{{if eq .PR.GetState "open"}}
<form method="post" action="{{.Path}}/merge"><select name="merge_method"><option value="merge">Create a merge commit</option><option value="squash">Squash and merge</option><option value="rebase">Rebase and merge</option></select> <button>Merge pull request</button></form>
<form method="post" action="{{.Path}}/close"><button>Close pull request</button></form>
{{else if not .PR.GetMerged}}
<form method="post" action="{{.Path}}/reopen"><button>Reopen pull request</button></form>
{{end}}
</body></html>`))

// webRepo checks a web path names the served repository.
func (s *Server) webRepo(r *http.Request) bool {
	return strings.EqualFold(r.PathValue("owner"), s.opts.Owner) && strings.EqualFold(r.PathValue("repo"), s.opts.Repo)
}

func (s *Server) handlePullPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil || !s.webRepo(r) {
			http.NotFound(w, r)
			return
		}
		pr, err := s.getPull(n)
		if err != nil {
			webError(w, r, err)
			return
		}
		files, err := s.listPullFiles(n)
		if err != nil {
			webError(w, r, err)
			return
		}
		data := struct {
			PR       *github.PullRequest
			Files    []*github.CommitFile
			Comments []*github.IssueComment
			Statuses []*github.RepoStatus
			Path     string
			Reviewer string
		}{pr, files, s.Comments(n), s.latestStatusesJSON(pr.GetHead().GetSHA()), r.URL.Path, s.opts.Reviewer}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := pullPage.Execute(w, data); err != nil {
			markUnexpected(r, "internal error: render pull request page: "+err.Error())
		}
	})
}

func (s *Server) latestStatusesJSON(sha string) []*github.RepoStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*github.RepoStatus
	for _, st := range s.latestStatuses(sha) {
		out = append(out, s.statusJSON(st))
	}
	return out
}

func (s *Server) handlePullAction() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil || !s.webRepo(r) {
			http.NotFound(w, r)
			return
		}
		who := s.opts.Reviewer
		switch r.PathValue("action") {
		case "merge":
			method := r.FormValue("merge_method")
			if method == "" {
				method = "merge"
			}
			_, err = s.MergeWith(n, who, method)
		case "close":
			err = s.ClosePull(n, who)
		case "reopen":
			err = s.ReopenPull(n, who)
		case "comment":
			_, err = s.Comment(n, who, r.FormValue("body"))
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			webError(w, r, err)
			return
		}
		http.Redirect(w, r, strings.TrimSuffix(r.URL.Path, "/"+r.PathValue("action")), http.StatusSeeOther)
	})
}

// webError shows an operation's error as a plain page with its status.
func webError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		markUnexpected(r, "internal error: "+err.Error())
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Error(w, err.Error(), e.StatusCode)
}
