package terraform

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Workspace is a root module to run: a directory of a checked-out
// infrastructure repository.
type Workspace struct {
	// Root is the repository's directory. The runner only reads it.
	Root string
	// Dir is the workspace's directory relative to Root, slash-separated,
	// e.g. databases/prod/billing/ledger. It names the workspace in locks,
	// logs and errors.
	Dir string
}

// String returns Dir.
func (w Workspace) String() string { return w.Dir }

// check returns w with Dir cleaned, or why it cannot be run.
func (w Workspace) check() (Workspace, error) {
	if w.Root == "" {
		return w, fmt.Errorf("workspace %q: no repository root", w.Dir)
	}
	dir := path.Clean(filepath.ToSlash(w.Dir))
	if w.Dir == "" || dir == "." || !fs.ValidPath(dir) {
		return w, fmt.Errorf("workspace %q: not a directory inside the repository", w.Dir)
	}
	w.Dir = dir
	return w, nil
}

// skipDirs are never copied: terraform's local cache and git's data.
var skipDirs = map[string]bool{".terraform": true, ".git": true}

// copyWorkspace copies the workspace, and every local module it calls
// directly or through other modules, from the repository at root into dst,
// keeping their places relative to each other so that relative module
// sources still resolve. It refuses symlinks, files that are neither
// regular nor directories, and module sources outside the repository.
func copyWorkspace(root, dir, dst string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("open repository: %w", err)
	}
	defer r.Close()
	fsys := r.FS()

	dirs, err := moduleDirs(r, fsys, dir)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := copyTree(fsys, d, dst); err != nil {
			return err
		}
	}
	return nil
}

// moduleDirs returns dir and the directories of the local modules it calls,
// transitively, leaving out those inside another one returned.
func moduleDirs(r *os.Root, fsys fs.FS, dir string) ([]string, error) {
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := checkDir(r, d); err != nil {
			return nil, err
		}
		sources, err := localSources(fsys, d)
		if err != nil {
			return nil, err
		}
		for _, src := range sources {
			m := path.Join(d, src)
			if !fs.ValidPath(m) {
				return nil, fmt.Errorf("module source %q in %s is outside the repository", src, d)
			}
			if m == "." {
				return nil, fmt.Errorf("module source %q in %s is the whole repository: refused", src, d)
			}
			queue = append(queue, m)
		}
	}

	all := make([]string, 0, len(seen))
	for d := range seen {
		all = append(all, d)
	}
	slices.Sort(all) // a parent sorts before its children
	var tops []string
	for _, d := range all {
		if !slices.ContainsFunc(tops, func(t string) bool { return strings.HasPrefix(d, t+"/") }) {
			tops = append(tops, d)
		}
	}
	return tops, nil
}

// checkDir makes sure every element of dir is a real directory, not a
// symlink.
func checkDir(r *os.Root, dir string) error {
	p := ""
	for _, elem := range strings.Split(dir, "/") {
		p = path.Join(p, elem)
		fi, err := r.Lstat(p)
		if err != nil {
			return fmt.Errorf("directory %s: %w", dir, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink: refused", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// localSources returns the local paths (./ or ../) the module blocks of the
// configuration files in dir take their source from.
func localSources(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	parser := hclparse.NewParser()
	var sources []string
	for _, e := range entries {
		name := e.Name()
		var parse func([]byte, string) (*hcl.File, hcl.Diagnostics)
		switch {
		case strings.HasSuffix(name, ".tf"), strings.HasSuffix(name, ".tofu"):
			parse = parser.ParseHCL
		case strings.HasSuffix(name, ".tf.json"), strings.HasSuffix(name, ".tofu.json"):
			parse = parser.ParseJSON
		default:
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symlink: refused", path.Join(dir, name))
		}
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file: refused", path.Join(dir, name))
		}
		p := path.Join(dir, name)
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		f, diags := parse(src, p)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", p, diags.Error())
		}
		content, _, diags := f.Body.PartialContent(&hcl.BodySchema{
			Blocks: []hcl.BlockHeaderSchema{{Type: "module", LabelNames: []string{"name"}}},
		})
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", p, diags.Error())
		}
		for _, b := range content.Blocks {
			attrs, _, diags := b.Body.PartialContent(&hcl.BodySchema{
				Attributes: []hcl.AttributeSchema{{Name: "source"}},
			})
			if diags.HasErrors() {
				return nil, fmt.Errorf("parse %s: %s", p, diags.Error())
			}
			a, ok := attrs.Attributes["source"]
			if !ok {
				continue
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
				return nil, fmt.Errorf("%s: module %q: source is not a literal string", p, b.Labels[0])
			}
			s := v.AsString()
			if strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
				sources = append(sources, s)
			}
		}
	}
	return sources, nil
}

// copyTree copies dir from fsys to the same relative place under dst.
func copyTree(fsys fs.FS, dir, dst string) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink: refused", p)
		case d.IsDir():
			if skipDirs[d.Name()] && p != dir {
				return fs.SkipDir
			}
			return os.MkdirAll(target, 0o700)
		case t.IsRegular():
			return copyFile(fsys, p, target)
		default:
			return fmt.Errorf("%s is not a regular file: refused", p)
		}
	})
}

func copyFile(fsys fs.FS, p, target string) (err error) {
	in, err := fsys.Open(p)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: refused", p)
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()|0o600)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("copy %s: %w", p, cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	return nil
}
