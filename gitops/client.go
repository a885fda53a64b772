package gitops

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
)

// Client works on one repository: the infra repo.
type Client struct {
	gh          *github.Client
	owner, repo string
	base        string

	pageSize int

	etagMu sync.Mutex
	etags  map[string]string // request URL -> ETag of its last 200, for If-None-Match
}

// Auth is how the client authenticates: a token, or a GitHub App
// installation (AppID, InstallationID and the App's private key file).
type Auth struct {
	Token          string
	AppID          int64
	InstallationID int64
	PrivateKeyFile string
}

// Options configure NewClient.
type Options struct {
	// APIURL is the API root: empty for github.com, https://<host>/api/v3/
	// for GitHub Enterprise Server, or an emulator's URL.
	APIURL string
	// Repo is owner/name.
	Repo string
	// BaseBranch is where pull requests go (default main).
	BaseBranch string
	Auth       Auth
	// Transport is the underlying HTTP transport (default http.DefaultTransport).
	Transport http.RoundTripper
	// MaxWait is the longest a call waits for GitHub's rate limit: while
	// the budget is spent (until X-RateLimit-Reset) or after a secondary
	// limit (Retry-After), calls wait, and a call GitHub refused for a
	// limit is retried. A longer wait fails the call at once with
	// *RateLimitError. Default DefaultMaxWait; negative never waits.
	MaxWait time.Duration
	// PageSize is how many pull requests a page of RecentlyClosed lists.
	// Default (and most): 100, GitHub's maximum.
	PageSize int
	// OnRate, if set, is called with the REST API's rate limit as each
	// answer reports it (for the clustro_github_rate_limit_remaining gauge).
	OnRate func(Rate)
}

// NewClient makes a client for the infra repository.
func NewClient(o Options) (*Client, error) {
	owner, repo, ok := strings.Cut(o.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("github repo %q is not owner/name", o.Repo)
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	api := o.APIURL
	if api == "" {
		api = "https://api.github.com/"
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	base, err := url.Parse(api)
	if err != nil {
		return nil, fmt.Errorf("github API URL %q: %w", o.APIURL, err)
	}
	maxWait := o.MaxWait
	switch {
	case maxWait == 0:
		maxWait = DefaultMaxWait
	case maxWait < 0:
		maxWait = 0
	}
	// The limiter is outermost: it sees the API's answers, and never the
	// App's token exchange, which has its own budget. The timeout bounds a
	// call, its waits for rate limits included.
	hc := &http.Client{Transport: newLimiter(tr, maxWait, o.OnRate), Timeout: 60*time.Second + (limitedRetries+1)*maxWait}
	var gh *github.Client
	switch {
	case o.Auth.Token != "":
		gh = github.NewClient(hc).WithAuthToken(o.Auth.Token)
	case o.Auth.AppID != 0:
		itr, err := ghinstallation.NewKeyFromFile(tr, o.Auth.AppID, o.Auth.InstallationID, o.Auth.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("github app %d: %w", o.Auth.AppID, err)
		}
		itr.BaseURL = strings.TrimSuffix(api, "/")
		hc.Transport = newLimiter(itr, maxWait, o.OnRate)
		gh = github.NewClient(hc)
	default:
		return nil, errors.New("github: no token and no GitHub App configured")
	}
	// Set directly: WithEnterpriseURLs would append /api/v3/ to an emulator's URL.
	gh.BaseURL = base
	branch := o.BaseBranch
	if branch == "" {
		branch = "main"
	}
	pageSize := o.PageSize
	if pageSize <= 0 || pageSize > 100 {
		pageSize = 100
	}
	return &Client{gh: gh, owner: owner, repo: repo, base: branch, pageSize: pageSize, etags: map[string]string{}}, nil
}

// Repo is owner/name.
func (c *Client) Repo() string { return c.owner + "/" + c.repo }

// BaseBranch is the branch pull requests target.
func (c *Client) BaseBranch() string { return c.base }

// wrap adds what was being done, and GitHub's message when it gave one.
func wrap(what string, err error) error {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) {
		return fmt.Errorf("%s: github answered %d: %s", what, ge.Response.StatusCode, ge.Message)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isStatus reports whether err is a GitHub error response with code.
func isStatus(err error, code int) bool {
	var ge *github.ErrorResponse
	return errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == code
}
