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

// Checkout limits. The infra repository holds small text files: a tree
// beyond any of these is refused, before it fills the disk, rather than
// written out.
const (
	// maxTarballBytes caps the tarball as downloaded (gzip-compressed).
	maxTarballBytes = 256 << 20
	// maxTreeBytes caps the extracted files' sizes added up: a small
	// tarball can expand a thousandfold.
	maxTreeBytes = 512 << 20
	// maxFileBytes caps one extracted file.
	maxFileBytes = 32 << 20
	// maxTreeEntries caps the tarball's entries: files, directories, and
	// the links and devices that are skipped.
	maxTreeEntries = 100_000
)

// checkoutLimits are the caps one extraction works under.
type checkoutLimits struct {
	tarball, tree, file int64
	entries             int
}

var defaultCheckoutLimits = checkoutLimits{tarball: maxTarballBytes, tree: maxTreeBytes, file: maxFileBytes, entries: maxTreeEntries}

// CheckoutLimitError reports a tree over one of the checkout limits. A
// retry fetches the same tree: it fails the same way.
type CheckoutLimitError struct {
	// Limit is what went over: "tarball size", "tree size", "file size"
	// or "entries".
	Limit string
	// Max is the limit, in bytes or entries.
	Max int64
	// Path is the file over the per-file limit, or the entry that went
	// over the tree limits, as a path in the repository.
	Path string
}

func (e *CheckoutLimitError) Error() string {
	switch e.Limit {
	case "tarball size":
		return fmt.Sprintf("the tarball is larger than %s (checkout limit on the download)", sizeOf(e.Max))
	case "tree size":
		return fmt.Sprintf("the tree's files add up to more than %s at %s (checkout limit on the extracted size)", sizeOf(e.Max), e.Path)
	case "file size":
		return fmt.Sprintf("%s is larger than %s (checkout limit per file)", e.Path, sizeOf(e.Max))
	default:
		return fmt.Sprintf("the tree has more than %d files and directories at %s (checkout limit on entries)", e.Max, e.Path)
	}
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Checkout writes the tree of a commit into dir (which must be empty or
// missing), from the repository's tarball. Only regular files and
// directories are written: links and devices are skipped, and a path
// leaving dir fails the checkout. A tree over the checkout limits (download
// size, extracted size, file size, number of entries) fails with a
// *CheckoutLimitError; dir may then hold part of the tree.
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
	if err := extract(resp.Body, dir, defaultCheckoutLimits); err != nil {
		return fmt.Errorf("unpack tarball of %s: %w", sha, err)
	}
	return nil
}

// cappedReader fails once more than max bytes were read: unlike
// io.LimitReader, which ends the stream quietly and leaves gzip to report
// an unexpected EOF.
type cappedReader struct {
	r    io.Reader
	read int64
	max  int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.max {
		return n, &CheckoutLimitError{Limit: "tarball size", Max: c.max}
	}
	return n, err
}

// extract unpacks a GitHub tarball, dropping its top-level directory,
// within lim.
func extract(r io.Reader, dir string, lim checkoutLimits) error {
	zr, err := gzip.NewReader(&cappedReader{r: r, max: lim.tarball})
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var (
		entries int
		written int64
	)
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
		if entries++; entries > lim.entries {
			return &CheckoutLimitError{Limit: "entries", Max: int64(lim.entries), Path: rel}
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size > lim.file {
				return &CheckoutLimitError{Limit: "file size", Max: lim.file, Path: rel}
			}
			if written+h.Size > lim.tree {
				return &CheckoutLimitError{Limit: "tree size", Max: lim.tree, Path: rel}
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			n, err := writeFile(target, tr, lim.file)
			written += n
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

// writeFile creates target (which must not exist) with what r holds, at
// most max bytes: tar returns no more than the header's size, checked
// against the limits before, and the cap holds even if it did.
func writeFile(target string, r io.Reader, max int64) (int64, error) {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, max))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Parents returns the parents of a commit, first parent first: for a merge
// commit, the base branch as it was before the merge, then the head merged.
func (c *Client) Parents(ctx context.Context, sha string) ([]string, error) {
	commit, _, err := c.gh.Git.GetCommit(ctx, c.owner, c.repo, sha)
	if err != nil {
		return nil, wrap("read commit "+sha, err)
	}
	parents := make([]string, len(commit.Parents))
	for i, p := range commit.Parents {
		parents[i] = p.GetSHA()
	}
	return parents, nil
}

// BaseHead returns the sha the base branch points at.
func (c *Client) BaseHead(ctx context.Context) (string, error) {
	sha, err := c.branchHead(ctx, c.base)
	if err == nil && sha == "" {
		err = fmt.Errorf("base branch %s does not exist in %s", c.base, c.Repo())
	}
	return sha, err
}
