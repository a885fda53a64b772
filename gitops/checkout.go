package gitops

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v62/github"
)

// maxCheckoutBytes caps the size of a fetched tree: the infra repo holds
// small text files.
const maxCheckoutBytes = 256 << 20

// Checkout writes the tree of a commit into dir (which must be empty or
// missing), from the repository's tarball. Only regular files and
// directories are written: links and devices are skipped, and a path
// leaving dir fails the checkout.
func (c *Client) Checkout(ctx context.Context, sha, dir string) error {
	link, _, err := c.gh.Repositories.GetArchiveLink(ctx, c.owner, c.repo, github.Tarball, &github.RepositoryContentGetOptions{Ref: sha}, 3)
	if err != nil {
		return wrap("find tarball of "+sha, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link.String(), nil)
	if err != nil {
		return fmt.Errorf("download tarball of %s: bad link", sha)
	}
	resp, err := c.gh.Client().Do(req)
	if err != nil {
		// The link may carry a short-lived token in its query: keep it out of errors.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("download tarball of %s from %s: %w", sha, link.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download tarball of %s: %s", sha, resp.Status)
	}
	if err := extract(io.LimitReader(resp.Body, maxCheckoutBytes), dir); err != nil {
		return fmt.Errorf("unpack tarball of %s: %w", sha, err)
	}
	return nil
}

// extract unpacks a GitHub tarball, dropping its top-level directory.
func extract(r io.Reader, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := path.Clean(h.Name)
		_, rel, ok := strings.Cut(name, "/")
		if !ok || rel == "" {
			continue // the top-level directory itself
		}
		if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%q leaves the checkout", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			// Links and devices are not written: nothing ClustroPG runs may
			// point outside the checkout. A workspace or module that needs
			// one fails verification or init, visibly.
		}
	}
}

// FirstParent returns the first parent of a commit: for a merge commit,
// the base branch as it was before the merge.
func (c *Client) FirstParent(ctx context.Context, sha string) (string, error) {
	commit, _, err := c.gh.Git.GetCommit(ctx, c.owner, c.repo, sha)
	if err != nil {
		return "", wrap("read commit "+sha, err)
	}
	if len(commit.Parents) == 0 {
		return "", fmt.Errorf("commit %s has no parent", sha)
	}
	return commit.Parents[0].GetSHA(), nil
}

// BaseHead returns the sha the base branch points at.
func (c *Client) BaseHead(ctx context.Context) (string, error) {
	sha, err := c.branchHead(ctx, c.base)
	if err == nil && sha == "" {
		err = fmt.Errorf("base branch %s does not exist in %s", c.base, c.Repo())
	}
	return sha, err
}
