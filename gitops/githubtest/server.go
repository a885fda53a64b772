package githubtest

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"
)

// Options configures a Server. The zero value is usable: it serves
// clustropg/infra with a README on main, accepts DefaultToken, and sends no
// webhooks until SetWebhook is called.
type Options struct {
	// Owner and Repo name the one repository served. Defaults: "clustropg",
	// "infra".
	Owner string
	Repo  string
	// DefaultBranch is the branch of the initial commit. Default: "main".
	DefaultBranch string
	// Files are the initial commit's files, by slash-separated path.
	// Default: a README.md.
	Files map[string][]byte
	// Dir is where the bare repository is created; it must not exist or be
	// empty. Default: a temporary directory that Close removes.
	Dir string
	// Addr is the listen address. Default: "127.0.0.1:0".
	Addr string

	// Token is the personal access token every API call must present as
	// "Authorization: Bearer <token>" or "token <token>". Default:
	// DefaultToken.
	Token string
	// TokenLogin is the user the Token authenticates as (who opens the pull
	// requests and writes the comments). Default: "clustro-bot".
	TokenLogin string
	// App, if set, also accepts installation tokens minted by
	// POST /app/installations/{id}/access_tokens for a JWT signed with the
	// App's key, and puts the installation in webhook payloads.
	App *AppOptions

	// WebhookURL receives the webhooks; empty records them without sending.
	WebhookURL string
	// WebhookSecret signs deliveries (X-Hub-Signature-256 and
	// X-Hub-Signature); empty sends them unsigned, as GitHub does.
	WebhookSecret string
	// WebhookEvents are the events the hook is subscribed to. Default:
	// "pull_request" and "issue_comment". "*" subscribes to all.
	WebhookEvents []string
	// WebhookTimeout bounds one delivery. Default: 10s, GitHub's.
	WebhookTimeout time.Duration
	// SyncWebhooks makes a state change (an API call, Merge, Comment...)
	// return only once its webhooks were delivered. By default they are
	// delivered in order by a background sender, as GitHub does; Flush waits
	// for them.
	SyncWebhooks bool

	// Reviewer is the person PushCommit and the web pages act as. Default:
	// "octocat".
	Reviewer string
	// Associations gives logins their author_association ("OWNER",
	// "MEMBER", "COLLABORATOR"...). Default: "OWNER" for Owner, "NONE"
	// otherwise.
	Associations map[string]string
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// PullFilesLimit is the most files GET /pulls/{n}/files lists, however
	// many a pull request changes (changed_files counts them all). Default:
	// 3000, GitHub's.
	PullFilesLimit int

	// RateLimit is how many API calls the budget allows per
	// RateLimitWindow (X-RateLimit-Limit). Once they are spent, calls answer
	// GitHub's 403 "API rate limit exceeded" until the window resets; a 304
	// is not counted. Default: 5000, GitHub's for a token.
	RateLimit int
	// RateLimitWindow is how long a budget lasts, from the first call of a
	// window (X-RateLimit-Reset is its end). Default: one hour.
	RateLimitWindow time.Duration
}

// AppOptions describes the GitHub App whose installation may call the API.
type AppOptions struct {
	// ID is the App ID, the JWT's "iss".
	ID int64
	// Slug names the App's bot user, "<slug>[bot]". Default: "clustro".
	Slug string
	// InstallationID is the one installation, on the served repository.
	InstallationID int64
	// PrivateKeyPEM is the App's private key (PKCS#1 or PKCS#8 PEM), whose
	// public half verifies the JWTs.
	PrivateKeyPEM []byte
}

// DefaultToken is the token accepted when Options.Token is empty.
const DefaultToken = "githubtest-token"

// TB is the part of testing.TB that NewT uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	git     *gitRepo
	tmpDir  string // removed by Close, if the Server made it
	baseURL string
	appKey  *rsa.PublicKey
	created time.Time
	http    *http.Server
	hooks   *hookQueue

	mu         sync.Mutex // guards what follows, and serialises git writes
	pulls      map[int]*pull
	nextNumber int
	comments   []*comment
	statuses   map[string][]*status
	labels     map[string]*label // by lower-case name
	users      map[string]int64
	tokens     map[string]time.Time // installation token -> expiry
	downloads  map[string]string    // codeload token -> commit
	nextID     int64
	requests   []Request
	rateUsed   int              // calls counted in the current window
	rateReset  time.Time        // end of the current window
	secondary  []secondaryLimit // calls to refuse with a secondary limit

	closeOnce sync.Once
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (o Options) withDefaults() Options {
	o.Files = maps.Clone(o.Files)
	o.Associations = maps.Clone(o.Associations)
	o.WebhookEvents = slices.Clone(o.WebhookEvents)
	if o.Owner == "" {
		o.Owner = "clustropg"
	}
	if o.Repo == "" {
		o.Repo = "infra"
	}
	if o.DefaultBranch == "" {
		o.DefaultBranch = "main"
	}
	if len(o.Files) == 0 {
		o.Files = map[string][]byte{"README.md": []byte("# " + o.Repo + "\n")}
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Token == "" {
		o.Token = DefaultToken
	}
	if o.TokenLogin == "" {
		o.TokenLogin = "clustro-bot"
	}
	if len(o.WebhookEvents) == 0 {
		o.WebhookEvents = []string{"pull_request", "issue_comment"}
	}
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = 10 * time.Second
	}
	if o.Reviewer == "" {
		o.Reviewer = "octocat"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PullFilesLimit <= 0 {
		o.PullFilesLimit = 3000
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 5000
	}
	if o.RateLimitWindow <= 0 {
		o.RateLimitWindow = time.Hour
	}
	if o.App != nil {
		app := *o.App
		if app.Slug == "" {
			app.Slug = "clustro"
		}
		o.App = &app
	}
	return o
}

// problems lists everything wrong with o (after defaults).
func (o Options) problems() []error {
	var errs []error
	if !namePattern.MatchString(o.Owner) {
		errs = append(errs, fmt.Errorf("owner %q: want letters, digits, '-', '_' or '.'", o.Owner))
	}
	if !namePattern.MatchString(o.Repo) {
		errs = append(errs, fmt.Errorf("repo %q: want letters, digits, '-', '_' or '.'", o.Repo))
	}
	for path := range o.Files {
		if !validPath(path) {
			errs = append(errs, fmt.Errorf("file %q: not a clean relative path", path))
		}
	}
	if o.App != nil {
		if o.App.ID <= 0 {
			errs = append(errs, errors.New("app: ID is required"))
		}
		if o.App.InstallationID <= 0 {
			errs = append(errs, errors.New("app: InstallationID is required"))
		}
		if len(o.App.PrivateKeyPEM) == 0 {
			errs = append(errs, errors.New("app: PrivateKeyPEM is required"))
		}
	}
	return errs
}

// validPath reports whether p is a clean, relative, slash-separated path that
// git can store.
func validPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") || strings.ContainsRune(part, 0) {
			return false
		}
	}
	return true
}

// New creates the repository, commits opts.Files to the default branch and
// starts serving. Close stops it.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if errs := opts.problems(); len(errs) > 0 {
		return nil, fmt.Errorf("githubtest: invalid options: %w", errors.Join(errs...))
	}
	bin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("githubtest: the git command line is required: %w", err)
	}
	s := &Server{
		opts:       opts,
		pulls:      make(map[int]*pull),
		nextNumber: 1,
		statuses:   make(map[string][]*status),
		labels:     make(map[string]*label),
		users:      make(map[string]int64),
		tokens:     make(map[string]time.Time),
		downloads:  make(map[string]string),
		nextID:     1,
	}
	s.created = s.now()
	if opts.App != nil {
		if s.appKey, err = parseAppKey(opts.App.PrivateKeyPEM); err != nil {
			return nil, fmt.Errorf("githubtest: app private key: %w", err)
		}
	}
	dir := opts.Dir
	if dir == "" {
		if s.tmpDir, err = os.MkdirTemp("", "githubtest-"); err != nil {
			return nil, fmt.Errorf("githubtest: %w", err)
		}
		dir = filepath.Join(s.tmpDir, opts.Owner, opts.Repo+".git")
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("githubtest: repository directory %s is not empty", dir)
	}
	if err := s.start(bin, dir); err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("githubtest: %w", err)
	}
	return s, nil
}

func (s *Server) start(bin, dir string) error {
	var err error
	if s.git, err = initBareRepo(bin, dir, s.opts.DefaultBranch); err != nil {
		return err
	}
	if err := s.seed(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.baseURL = "http://" + ln.Addr().String()
	s.hooks = newHookQueue(s.opts, s.now)
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }() // ErrServerClosed once closed
	return nil
}

// seed writes the initial commit.
func (s *Server) seed() error {
	paths := make([]string, 0, len(s.opts.Files))
	for p := range s.opts.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	edits := make([]treeEdit, 0, len(paths))
	for _, p := range paths {
		sha, err := s.git.writeBlob(s.opts.Files[p])
		if err != nil {
			return err
		}
		edits = append(edits, treeEdit{Path: p, Mode: "100644", Type: "blob", SHA: sha})
	}
	tree, err := s.git.editTree("", edits)
	if err != nil {
		return err
	}
	who := s.signatureOf(s.opts.Owner)
	commit, err := s.git.writeCommit(commitObject{Tree: tree, Author: who, Committer: who, Message: "Initial commit\n"})
	if err != nil {
		return err
	}
	return s.git.updateRef("refs/heads/"+s.opts.DefaultBranch, commit, "", "initial commit")
}

// NewT starts a Server for a test and stops it at the test's cleanup, where
// it also fails the test (Errorf) listing every unexpected request: a method
// and path the emulator does not implement, another repository, or an
// internal error. The repository lives in t.TempDir() unless opts.Dir is set.
func NewT(t TB, opts Options) *Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "repo.git")
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("githubtest: %v", err)
		return nil
	}
	t.Cleanup(func() {
		s.Close()
		if bad := s.Unexpected(); len(bad) > 0 {
			var b strings.Builder
			for _, r := range bad {
				fmt.Fprintf(&b, "\n\t%s -> %d (%s)", r, r.StatusCode, r.Reason)
			}
			t.Errorf("githubtest: %d unexpected request(s) to the GitHub emulator:%s", len(bad), b.String())
		}
	})
	return s
}

// Close stops serving and sending webhooks (pending deliveries are dropped)
// and removes the repository if New created it in a temporary directory.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			_ = s.http.Close() // in-flight requests outlived the grace period
		}
		s.hooks.close()
		s.removeTemp()
	})
}

func (s *Server) removeTemp() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir) // best effort: a leftover temp dir is harmless
	}
}

// URL is the emulator's base URL, without a trailing slash. go-github needs
// it with one: BaseURL = URL() + "/".
func (s *Server) URL() string { return s.baseURL }

// Token is the personal access token the API accepts.
func (s *Server) Token() string { return s.opts.Token }

// Owner is the served repository's owner.
func (s *Server) Owner() string { return s.opts.Owner }

// Repo is the served repository's name.
func (s *Server) Repo() string { return s.opts.Repo }

// DefaultBranch is the served repository's default branch.
func (s *Server) DefaultBranch() string { return s.opts.DefaultBranch }

// GitDir is the path of the bare repository, for git commands and go-git.
// Write to it only through the Server, so pull requests follow.
func (s *Server) GitDir() string { return s.git.dir }

// Client returns a go-github client for the emulator, authenticated with the
// Token.
func (s *Server) Client() *github.Client {
	c := github.NewClient(nil).WithAuthToken(s.opts.Token)
	c.BaseURL, _ = url.Parse(s.baseURL + "/")
	return c
}

// now is the clock at GitHub's resolution (seconds, UTC).
func (s *Server) now() time.Time {
	return s.opts.Now().UTC().Truncate(time.Second)
}

// newID hands out the next object ID. Callers hold s.mu.
func (s *Server) newID(base int64) int64 {
	s.nextID++
	return base + s.nextID
}
