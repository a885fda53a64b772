package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
)

// filesOutside lists the files of a pull request's file list outside the
// workspace dir (a rename counts by both its names): the one rule a push
// and a merge are held to.
func filesOutside(files []gitops.File, dir string) []string {
	var outside []string
	for _, f := range files {
		for _, name := range []string{f.Path, f.PreviousPath} {
			if name != "" && path.Dir(name) != dir {
				outside = append(outside, name)
			}
		}
	}
	return outside
}

// changedOutside lists the files that differ between the checkouts a and
// b outside the workspace dir. Files are compared a chunk at a time, two
// open at once: neither tree is read into memory, only its file names.
func changedOutside(a, b, dir string) ([]string, error) {
	as, err := checkoutFilesOutside(a, dir)
	if err != nil {
		return nil, err
	}
	bs, err := checkoutFilesOutside(b, dir)
	if err != nil {
		return nil, err
	}
	var changed []string
	for len(as) > 0 || len(bs) > 0 {
		switch {
		case len(bs) == 0 || (len(as) > 0 && as[0] < bs[0]):
			changed, as = append(changed, as[0]), as[1:] // removed
		case len(as) == 0 || bs[0] < as[0]:
			changed, bs = append(changed, bs[0]), bs[1:] // added
		default:
			same, err := sameFile(filepath.Join(a, filepath.FromSlash(as[0])), filepath.Join(b, filepath.FromSlash(bs[0])))
			if err != nil {
				return nil, err
			}
			if !same {
				changed = append(changed, as[0])
			}
			as, bs = as[1:], bs[1:]
		}
	}
	return changed, nil
}

// checkoutFilesOutside lists the files of a checkout outside the workspace
// dir, by slash path, sorted.
func checkoutFilesOutside(root, dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); path.Dir(rel) != dir {
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// sameFile reports whether two files hold the same bytes, reading both a
// chunk at a time.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if ia.Size() != ib.Size() {
		return false, nil
	}
	const chunk = 32 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		endA := ea == io.EOF || ea == io.ErrUnexpectedEOF
		endB := eb == io.EOF || eb == io.ErrUnexpectedEOF
		switch {
		case ea != nil && !endA:
			return false, ea
		case eb != nil && !endB:
			return false, eb
		case endA || endB:
			return endA && endB, nil
		}
	}
}

// prFilesOutside lists the files pull request number changed outside dir,
// from GitHub's list of its files (every commit, whatever the merge
// method). GitHub lists at most 3000: a list shorter than changed (the
// pull request's changed_files) cannot be checked, a permanent error.
func (p *Pipeline) prFilesOutside(ctx context.Context, number, changed int, dir string) ([]string, error) {
	files, err := p.github.ChangedFiles(ctx, number)
	if err != nil {
		return nil, err
	}
	if len(files) < changed {
		return nil, engine.Permanent(fmt.Errorf("GitHub lists %d of the %d files pull request #%d changed, so they cannot all be checked: nothing was applied",
			len(files), changed, number))
	}
	return filesOutside(files, dir), nil
}
