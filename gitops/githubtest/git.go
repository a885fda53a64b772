package githubtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// zeroSHA is the object name git uses for "no object" (a ref that must not
// exist yet, a file that did not exist before).
const zeroSHA = "0000000000000000000000000000000000000000"

// emptyTreeSHA is the name of the empty tree object.
const emptyTreeSHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

var hexSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// errNoObject reports an object name that does not exist in the repository.
var errNoObject = errors.New("object does not exist")

// gitRepo drives a bare repository through the git command line. It holds no
// state of its own: every method is one or a few git invocations, and the
// caller serialises writes.
type gitRepo struct {
	bin string
	dir string
	env []string
}

// gitError is a failed git invocation with what git wrote on stderr.
type gitError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: exit %d: %s", strings.Join(e.args, " "), e.code, strings.TrimSpace(e.stderr))
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns the exit status of a failed git command, or -1.
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

// gitEnv is the environment of every git command: the process environment
// without any GIT_* variable that could point git elsewhere, and without the
// user's or the system's configuration.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_LITERAL_PATHSPECS=1",
		"LC_ALL=C",
	)
}

// initBareRepo creates a bare repository in dir with branch as HEAD.
func initBareRepo(bin, dir, branch string) (*gitRepo, error) {
	g := &gitRepo{bin: bin, dir: dir, env: gitEnv()}
	cmd := exec.Command(bin, "init", "--quiet", "--bare", "--initial-branch="+branch, dir)
	cmd.Env = g.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init %s: %w: %s", dir, err, bytes.TrimSpace(out))
	}
	return g, nil
}

// run runs git against the repository and returns its standard output.
func (g *gitRepo) run(stdin []byte, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	if err := g.stream(&stdout, &stderr, stdin, args...); err != nil {
		return stdout.Bytes(), err
	}
	return stdout.Bytes(), nil
}

// stream runs git with its standard output going to w.
func (g *gitRepo) stream(w io.Writer, stderr *bytes.Buffer, stdin []byte, args ...string) error {
	full := append([]string{"--git-dir=" + g.dir}, args...)
	cmd := exec.Command(g.bin, full...)
	cmd.Env = g.env
	cmd.Stdout = w
	cmd.Stderr = stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return &gitError{args: args, code: code, stderr: stderr.String(), err: err}
	}
	return nil
}

// objectType returns "blob", "tree", "commit" or "tag", or errNoObject.
func (g *gitRepo) objectType(sha string) (string, error) {
	if !hexSHA.MatchString(sha) {
		return "", errNoObject
	}
	out, err := g.run(nil, "cat-file", "-t", sha)
	if err != nil {
		if exitCode(err) == 128 {
			return "", errNoObject
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// hasObject reports whether sha names an object of type typ.
func (g *gitRepo) hasObject(sha, typ string) (bool, error) {
	t, err := g.objectType(sha)
	if errors.Is(err, errNoObject) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t == typ, nil
}

// writeBlob stores data as a blob and returns its name.
func (g *gitRepo) writeBlob(data []byte) (string, error) {
	out, err := g.run(data, "hash-object", "-w", "--stdin")
	if err != nil {
		return "", fmt.Errorf("write blob: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// readBlob returns the content of the blob sha.
func (g *gitRepo) readBlob(sha string) ([]byte, error) {
	ok, err := g.hasObject(sha, "blob")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNoObject
	}
	out, err := g.run(nil, "cat-file", "blob", sha)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", sha, err)
	}
	return out, nil
}

// treeEntry is one line of `git ls-tree -l`.
type treeEntry struct {
	Mode string
	Type string
	SHA  string
	Size int // -1 for trees and submodules
	Path string
}

// lsTree lists the tree-ish rev; recursive lists subtrees and their entries
// too (like GitHub's ?recursive=1), and paths limits it to those paths.
func (g *gitRepo) lsTree(rev string, recursive bool, paths ...string) ([]treeEntry, error) {
	args := []string{"ls-tree", "-z", "-l"}
	if recursive {
		args = append(args, "-r", "-t")
	}
	args = append(args, rev, "--")
	args = append(args, paths...)
	out, err := g.run(nil, args...)
	if err != nil {
		return nil, fmt.Errorf("list tree %s: %w", rev, err)
	}
	var entries []treeEntry
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok {
			return nil, fmt.Errorf("list tree %s: malformed line %q", rev, rec)
		}
		f := strings.Fields(meta)
		if len(f) != 4 {
			return nil, fmt.Errorf("list tree %s: malformed line %q", rev, rec)
		}
		size := -1
		if f[3] != "-" {
			if size, err = strconv.Atoi(f[3]); err != nil {
				return nil, fmt.Errorf("list tree %s: size in %q: %w", rev, rec, err)
			}
		}
		entries = append(entries, treeEntry{Mode: f[0], Type: f[1], SHA: f[2], Size: size, Path: path})
	}
	return entries, nil
}

// mktree writes a tree holding exactly entries (names, not paths).
func (g *gitRepo) mktree(entries []treeEntry) (string, error) {
	var in bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&in, "%s %s %s\t%s\x00", e.Mode, e.Type, e.SHA, e.Path)
	}
	out, err := g.run(in.Bytes(), "mktree", "-z")
	if err != nil {
		return "", fmt.Errorf("write tree: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// signature is a commit's author or committer.
type signature struct {
	Name  string
	Email string
	When  time.Time
}

func (s signature) String() string {
	return fmt.Sprintf("%s <%s> %d %s", s.Name, s.Email, s.When.Unix(), s.When.Format("-0700"))
}

// parseSignature reads "Name <email> 1700000000 +0000".
func parseSignature(line string) (signature, error) {
	open := strings.LastIndex(line, " <")
	closing := strings.LastIndex(line, ">")
	if open < 0 || closing < open {
		return signature{}, fmt.Errorf("malformed signature %q", line)
	}
	sig := signature{Name: line[:open], Email: line[open+2 : closing]}
	f := strings.Fields(line[closing+1:])
	if len(f) != 2 {
		return signature{}, fmt.Errorf("malformed signature %q", line)
	}
	secs, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return signature{}, fmt.Errorf("signature time in %q: %w", line, err)
	}
	zone, err := time.Parse("-0700", f[1])
	if err != nil {
		return signature{}, fmt.Errorf("signature zone in %q: %w", line, err)
	}
	sig.When = time.Unix(secs, 0).In(zone.Location())
	return sig, nil
}

// commitObject is a parsed commit.
type commitObject struct {
	SHA       string
	Tree      string
	Parents   []string
	Author    signature
	Committer signature
	Signature string // gpgsig header, if any
	Message   string
}

// writeCommit stores c (its SHA is ignored) and returns the new commit's name.
// The tree and parents must exist: git itself does not check them here.
func (g *gitRepo) writeCommit(c commitObject) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "tree %s\n", c.Tree)
	for _, p := range c.Parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author %s\n", c.Author)
	fmt.Fprintf(&b, "committer %s\n", c.Committer)
	if c.Signature != "" {
		sig := strings.TrimRight(c.Signature, "\n")
		fmt.Fprintf(&b, "gpgsig %s\n", strings.ReplaceAll(sig, "\n", "\n "))
	}
	b.WriteString("\n")
	b.WriteString(c.Message)
	out, err := g.run([]byte(b.String()), "hash-object", "-t", "commit", "-w", "--stdin")
	if err != nil {
		return "", fmt.Errorf("write commit: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// readCommit parses the commit sha.
func (g *gitRepo) readCommit(sha string) (commitObject, error) {
	ok, err := g.hasObject(sha, "commit")
	if err != nil {
		return commitObject{}, err
	}
	if !ok {
		return commitObject{}, errNoObject
	}
	out, err := g.run(nil, "cat-file", "commit", sha)
	if err != nil {
		return commitObject{}, fmt.Errorf("read commit %s: %w", sha, err)
	}
	head, msg, _ := strings.Cut(string(out), "\n\n")
	c := commitObject{SHA: sha, Message: msg}
	var last string
	for _, line := range strings.Split(head, "\n") {
		if strings.HasPrefix(line, " ") && last == "gpgsig" {
			c.Signature += "\n" + line[1:]
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		last = key
		switch key {
		case "tree":
			c.Tree = val
		case "parent":
			c.Parents = append(c.Parents, val)
		case "author":
			if c.Author, err = parseSignature(val); err != nil {
				return commitObject{}, fmt.Errorf("read commit %s: %w", sha, err)
			}
		case "committer":
			if c.Committer, err = parseSignature(val); err != nil {
				return commitObject{}, fmt.Errorf("read commit %s: %w", sha, err)
			}
		case "gpgsig":
			c.Signature = val
		}
	}
	return c, nil
}

// resolve returns the commit a revision names (branch, tag, full or
// abbreviated object name), or errNoObject.
func (g *gitRepo) resolve(rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", errNoObject
	}
	out, err := g.run(nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		if c := exitCode(err); c == 1 || c == 128 {
			return "", errNoObject
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// refSHA returns what the full ref name points to, or "" if it does not exist.
func (g *gitRepo) refSHA(ref string) (string, error) {
	out, err := g.run(nil, "for-each-ref", "--format=%(refname)%00%(objectname)", ref)
	if err != nil {
		return "", fmt.Errorf("read ref %s: %w", ref, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, sha, ok := strings.Cut(line, "\x00")
		if ok && name == ref {
			return sha, nil
		}
	}
	return "", nil
}

// validRefName reports whether git accepts ref as a full ref name.
func (g *gitRepo) validRefName(ref string) bool {
	if strings.HasPrefix(ref, "-") {
		return false
	}
	_, err := g.run(nil, "check-ref-format", ref)
	return err == nil
}

// updateRef points ref at sha if it currently points at old ("" = must not
// exist).
func (g *gitRepo) updateRef(ref, sha, old, reason string) error {
	if old == "" {
		old = zeroSHA
	}
	if _, err := g.run(nil, "update-ref", "-m", reason, ref, sha, old); err != nil {
		return fmt.Errorf("update %s: %w", ref, err)
	}
	return nil
}

// deleteRef removes ref if it currently points at old.
func (g *gitRepo) deleteRef(ref, old string) error {
	if _, err := g.run(nil, "update-ref", "-d", ref, old); err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

// mergeBase returns the best common ancestor of a and b, or "" if none.
func (g *gitRepo) mergeBase(a, b string) (string, error) {
	out, err := g.run(nil, "merge-base", a, b)
	if err != nil {
		if exitCode(err) == 1 {
			return "", nil
		}
		return "", fmt.Errorf("merge-base %s %s: %w", a, b, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// isAncestor reports whether a is an ancestor of (or equal to) b.
func (g *gitRepo) isAncestor(a, b string) (bool, error) {
	_, err := g.run(nil, "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true, nil
	}
	if exitCode(err) == 1 {
		return false, nil
	}
	return false, fmt.Errorf("is-ancestor %s %s: %w", a, b, err)
}

// mergeTree merges the commits ours and theirs as `git merge` would, without
// a work tree, and returns the merged tree; clean is false on conflicts.
func (g *gitRepo) mergeTree(ours, theirs string) (tree string, clean bool, err error) {
	out, err := g.run(nil, "merge-tree", "--write-tree", "--no-messages", "--name-only", ours, theirs)
	first, _, _ := strings.Cut(string(out), "\n")
	switch {
	case err == nil:
		return first, true, nil
	case exitCode(err) == 1 && hexSHA.MatchString(first):
		return first, false, nil
	default:
		return "", false, fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
	}
}

// revCount counts the commits reachable from head but not from base.
func (g *gitRepo) revCount(base, head string) (int, error) {
	out, err := g.run(nil, "rev-list", "--count", head, "^"+base)
	if err != nil {
		return 0, fmt.Errorf("count %s..%s: %w", base, head, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// revList lists the commits reachable from head but not from base, oldest
// first.
func (g *gitRepo) revList(base, head string) ([]string, error) {
	out, err := g.run(nil, "rev-list", "--reverse", head, "^"+base)
	if err != nil {
		return nil, fmt.Errorf("list %s..%s: %w", base, head, err)
	}
	return strings.Fields(string(out)), nil
}

// fileChange is one file in a diff between two commits.
type fileChange struct {
	Path      string
	Status    byte // A, M, D, T
	OldSHA    string
	NewSHA    string
	Additions int
	Deletions int
	Binary    bool
}

// diff lists the files that differ between the commits a and b, by path.
func (g *gitRepo) diff(a, b string) ([]fileChange, error) {
	raw, err := g.run(nil, "diff-tree", "-r", "--no-renames", "-z", "--raw", a, b)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", a, b, err)
	}
	byPath := make(map[string]*fileChange)
	var changes []*fileChange
	recs := strings.Split(string(raw), "\x00")
	for i := 0; i+1 < len(recs); i += 2 {
		f := strings.Fields(strings.TrimPrefix(recs[i], ":"))
		if len(f) != 5 || f[4] == "" {
			return nil, fmt.Errorf("diff %s %s: malformed record %q", a, b, recs[i])
		}
		c := &fileChange{Path: recs[i+1], Status: f[4][0], OldSHA: f[2], NewSHA: f[3]}
		byPath[c.Path] = c
		changes = append(changes, c)
	}
	num, err := g.run(nil, "diff-tree", "-r", "--no-renames", "-z", "--numstat", a, b)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", a, b, err)
	}
	for _, rec := range strings.Split(string(num), "\x00") {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 {
			continue
		}
		c, ok := byPath[f[2]]
		if !ok {
			continue
		}
		if f[0] == "-" {
			c.Binary = true
			continue
		}
		c.Additions, _ = strconv.Atoi(f[0])
		c.Deletions, _ = strconv.Atoi(f[1])
	}
	out := make([]fileChange, len(changes))
	for i, c := range changes {
		out[i] = *c
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// patch returns the hunks of path's diff between a and b, as GitHub's "patch"
// field carries them (from the first "@@", without the file headers), or ""
// for a binary file.
func (g *gitRepo) patch(a, b, path string) (string, error) {
	out, err := g.run(nil, "diff-tree", "-p", "--no-renames", "--no-color", a, b, "--", path)
	if err != nil {
		return "", fmt.Errorf("diff %s %s -- %s: %w", a, b, path, err)
	}
	s := string(out)
	i := strings.Index(s, "\n@@")
	if i < 0 {
		return "", nil
	}
	return strings.TrimSuffix(s[i+1:], "\n"), nil
}

// archive writes a gzipped tar of commit to w, every path under prefix.
func (g *gitRepo) archive(w io.Writer, commit, prefix string) error {
	var stderr bytes.Buffer
	if err := g.stream(w, &stderr, nil, "archive", "--format=tar.gz", "--prefix="+prefix, commit); err != nil {
		return fmt.Errorf("archive %s: %w", commit, err)
	}
	return nil
}

// log lists the commits reachable from rev, newest first.
func (g *gitRepo) log(rev string) ([]commitObject, error) {
	out, err := g.run(nil, "rev-list", rev)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", rev, err)
	}
	var commits []commitObject
	for _, sha := range strings.Fields(string(out)) {
		c, err := g.readCommit(sha)
		if err != nil {
			return nil, fmt.Errorf("log %s: %w", rev, err)
		}
		commits = append(commits, c)
	}
	return commits, nil
}

// resolveTree returns the tree a tree-ish names (a tree, a commit, a
// branch), or errNoObject.
func (g *gitRepo) resolveTree(rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", errNoObject
	}
	out, err := g.run(nil, "rev-parse", "--verify", "--quiet", rev+"^{tree}")
	if err != nil {
		if c := exitCode(err); c == 1 || c == 128 {
			return "", errNoObject
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// rebaseCommits lists the commits a rebase replays: those reachable from
// head but not from base, without merge commits, parents before children.
func (g *gitRepo) rebaseCommits(base, head string) ([]string, error) {
	out, err := g.run(nil, "rev-list", "--reverse", "--topo-order", "--no-merges", head, "^"+base)
	if err != nil {
		return nil, fmt.Errorf("list %s..%s: %w", base, head, err)
	}
	return strings.Fields(string(out)), nil
}

// scratchSignature signs the unreachable commits cherryPick writes.
var scratchSignature = signature{Name: "githubtest", Email: "githubtest@localhost", When: time.Unix(0, 0).UTC()}

// cherryPick applies the change commit c made (against its first parent)
// onto the commit onto, as `git cherry-pick` would, without a work tree,
// and returns the resulting tree; clean is false on conflicts.
//
// git merge-tree learned --merge-base only in 2.40; for 2.38 the merge base
// is made explicit: two unreachable commits holding onto's and c's trees,
// both children of one holding c's parent's tree.
func (g *gitRepo) cherryPick(c commitObject, onto string) (tree string, clean bool, err error) {
	parentTree := emptyTreeSHA
	if len(c.Parents) > 0 {
		p, err := g.readCommit(c.Parents[0])
		if err != nil {
			return "", false, err
		}
		parentTree = p.Tree
	}
	target, err := g.readCommit(onto)
	if err != nil {
		return "", false, err
	}
	scratch := func(tree string, parents ...string) (string, error) {
		return g.writeCommit(commitObject{Tree: tree, Parents: parents, Author: scratchSignature, Committer: scratchSignature, Message: "githubtest: cherry-pick\n"})
	}
	base, err := scratch(parentTree)
	if err != nil {
		return "", false, err
	}
	ours, err := scratch(target.Tree, base)
	if err != nil {
		return "", false, err
	}
	theirs, err := scratch(c.Tree, base)
	if err != nil {
		return "", false, err
	}
	return g.mergeTree(ours, theirs)
}
