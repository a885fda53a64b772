package gitops

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
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
		return fmt.Errorf("download tarball of %s: %w", sha, err)
	}
	resp, err := c.gh.Client().Do(req)
	if err != nil {
		return fmt.Errorf("download tarball of %s: %w", sha, err)
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
