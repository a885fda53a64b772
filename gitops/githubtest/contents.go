package githubtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/google/go-github/v62/github"
)

// The repository contents API and archive (tarball) downloads.

func (s *Server) handleGetContents() http.Handler {
	const doc = "https://docs.github.com/rest/repos/contents#get-repository-content"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, dir, err := s.getContents(r.PathValue("path"), r.URL.Query().Get("ref"))
		switch {
		case err != nil:
			writeError(w, r, err, doc)
		case file != nil && wantsRaw(r):
			data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*file.Content, "\n", ""))
			if err != nil {
				writeError(w, r, err, doc)
				return
			}
			writeRaw(w, data)
		case file != nil:
			writeJSON(w, http.StatusOK, file)
		default:
			writeJSON(w, http.StatusOK, dir)
		}
	})
}

// getContents returns the file at p (content base64-encoded), or the
// listing of the directory at p, at ref (default: the default branch).
func (s *Server) getContents(p, ref string) (*github.RepositoryContent, []*github.RepositoryContent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref == "" {
		ref = s.opts.DefaultBranch
	}
	commit, err := s.resolveRef(ref)
	if err != nil {
		return nil, nil, err
	}
	tree := commit
	if p != "" {
		if !validPath(p) {
			return nil, nil, notFound()
		}
		entries, err := s.git.lsTree(commit, false, p)
		if err != nil {
			return nil, nil, err
		}
		if len(entries) != 1 || entries[0].Path != p {
			return nil, nil, notFound()
		}
		e := entries[0]
		if e.Type != "tree" {
			data, err := s.git.readBlob(e.SHA)
			if errors.Is(err, errNoObject) {
				return nil, nil, notFound() // a submodule
			}
			if err != nil {
				return nil, nil, err
			}
			c := s.contentJSON(e, ref)
			c.Encoding, c.Content = ptr("base64"), ptr(base64Lines(data))
			return c, nil, nil
		}
		tree = e.SHA
	}
	entries, err := s.git.lsTree(tree, false)
	if err != nil {
		return nil, nil, err
	}
	dir := make([]*github.RepositoryContent, 0, len(entries))
	for _, e := range entries {
		e.Path = path.Join(p, e.Path)
		dir = append(dir, s.contentJSON(e, ref))
	}
	return nil, dir, nil
}

// contentJSON describes one tree entry as the contents API does.
func (s *Server) contentJSON(e treeEntry, ref string) *github.RepositoryContent {
	typ, size, gitURL := "file", e.Size, s.apiURL("/git/blobs/"+e.SHA)
	switch {
	case e.Type == "tree":
		typ, size, gitURL = "dir", 0, s.apiURL("/git/trees/"+e.SHA)
	case e.Type == "commit":
		typ, size = "submodule", 0
	case e.Mode == "120000":
		typ = "symlink"
	}
	q := "?ref=" + url.QueryEscape(ref)
	c := &github.RepositoryContent{
		Type:    ptr(typ),
		Name:    ptr(path.Base(e.Path)),
		Path:    ptr(e.Path),
		SHA:     ptr(e.SHA),
		Size:    ptr(size),
		URL:     ptr(s.apiURL("/contents/" + e.Path + q)),
		GitURL:  ptr(gitURL),
		HTMLURL: ptr(s.webURL("/blob/" + ref + "/" + e.Path)),
	}
	if typ == "dir" {
		c.HTMLURL = ptr(s.webURL("/tree/" + ref + "/" + e.Path))
	}
	if typ == "file" || typ == "symlink" {
		c.DownloadURL = ptr(s.baseURL + "/raw/" + s.opts.Owner + "/" + s.opts.Repo + "/" + ref + "/" + e.Path)
	}
	return c
}

func (s *Server) handleTarball() http.Handler {
	const doc = "https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		location, err := s.tarballLink(r.PathValue("ref"))
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusFound)
	})
}

// tarballLink resolves ref (default: the default branch) and returns a
// download URL for its tarball, with a token as codeload's carry.
func (s *Server) tarballLink(ref string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref == "" {
		ref = s.opts.DefaultBranch
	}
	sha, err := s.resolveRef(ref)
	if err != nil {
		return "", err
	}
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	token := hex.EncodeToString(b[:])
	s.downloads[token] = sha
	return s.baseURL + "/codeload/" + s.opts.Owner + "/" + s.opts.Repo + "/legacy.tar.gz/" + sha + "?token=" + token, nil
}

// handleCodeload serves the tarball a tarball link points to: a gzipped tar
// of the commit whose top directory is named like GitHub's,
// "{owner}-{repo}-{short sha}/".
func (s *Server) handleCodeload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sha := r.PathValue("sha")
		s.mu.Lock()
		ok := s.downloads[r.URL.Query().Get("token")] == sha && sha != ""
		s.mu.Unlock()
		if !ok || !hexSHA.MatchString(sha) {
			http.Error(w, "404: Not Found", http.StatusNotFound)
			return
		}
		name := s.opts.Owner + "-" + s.opts.Repo + "-" + sha[:7]
		w.Header().Set("Content-Type", "application/x-gzip")
		w.Header().Set("Content-Disposition", "attachment; filename="+name+".tar.gz")
		if err := s.git.archive(w, sha, name+"/"); err != nil {
			// Too late for a status code once bytes went out; the
			// truncated gzip stream fails the client's read.
			markUnexpected(r, "internal error: "+err.Error())
		}
	})
}
