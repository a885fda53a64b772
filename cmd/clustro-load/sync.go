package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/loadrun"
	"github.com/clustropg/clustro/store"
)

// syncPasses is how many of serve's Sync passes each size waits for: the
// first after a start reads in full, the next finds nothing changed.
const syncPasses = 2

// syncInterval is how often serve runs Sync (cmd/clustro/serve.go; not
// configurable): a pass is awaited for up to this and a margin.
const syncInterval = time.Minute

// syncScenario serves, for each size, N requests in pr_open whose pull
// requests are open on the GitHub emulator (and a few others closed), and
// counts the emulator's calls in each of serve's Sync passes. The sizes
// run at once: each waits for serve's own passes, a minute apart.
func (s *suite) syncScenario(ctx context.Context) measure {
	cases := make([]*syncCase, len(s.o.syncSizes))
	errs := make([]error, len(s.o.syncSizes))
	var wg sync.WaitGroup
	for i, n := range s.o.syncSizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cases[i], errs[i] = s.syncSetup(ctx, n)
		}()
	}
	wg.Wait()
	return func(ctx context.Context) []row {
		rows := make([]row, len(s.o.syncSizes))
		var wg sync.WaitGroup
		for i, n := range s.o.syncSizes {
			rows[i].name = fmt.Sprintf("Sync, %d open requests, nothing changed", n)
			if errs[i] != nil {
				rows[i] = failed(rows[i].name, errs[i])
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cases[i].emu.Close()
				if err := s.syncPassCalls(ctx, &rows[i], cases[i]); err != nil {
					rows[i] = failed(rows[i].name, err)
				}
			}()
		}
		wg.Wait()
		return rows
	}
}

// syncClosed is how many other pull requests are closed on the emulator,
// so that the list Sync reads is not empty.
const syncClosed = 3

// syncCase is one size's emulator and store, ready to serve.
type syncCase struct {
	n   int
	dir string
	emu *githubtest.Server
}

func (s *suite) syncSetup(ctx context.Context, n int) (*syncCase, error) {
	dir, err := s.scratch(fmt.Sprintf("sync-%d", n))
	if err != nil {
		return nil, err
	}
	emu, err := githubtest.New(githubtest.Options{Owner: "clustro-load", Repo: "infra", Dir: filepath.Join(dir, "infra.git")})
	if err != nil {
		return nil, err
	}
	began := time.Now()
	prs, err := openPulls(ctx, emu, n+syncClosed)
	if err == nil {
		for _, pr := range prs[n:] {
			if err = emu.ClosePull(pr.Number, "octocat"); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = seedOpen(ctx, loadrun.StorePath(dir), prs[:n])
	}
	if err != nil {
		emu.Close()
		return nil, err
	}
	s.logf("sync: %d pull requests opened on the emulator and their requests stored in %s", n, time.Since(began).Round(time.Millisecond))
	return &syncCase{n: n, dir: dir, emu: emu}, nil
}

// syncPassCalls serves c and counts the emulator's calls in each of
// serve's Sync passes.
func (s *suite) syncPassCalls(ctx context.Context, r *row, c *syncCase) error {
	emu, dir, n := c.emu, c.dir, c.n
	env, err := loadrun.GitHubEnv(dir, emu.URL()+"/", emu.Owner()+"/"+emu.Repo(), emu.Token(), randomHex(16))
	if err != nil {
		return err
	}
	before := len(emu.Requests())
	srv, err := loadrun.Start(ctx, s.o.clustro, dir, env...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	started := time.Now()

	// A pass is a burst of calls: it ends when none came for quietFor.
	const quietFor = 5 * time.Second
	var passes []string
	seen, last := before, time.Time{}
	for len(passes) < syncPasses && ctx.Err() == nil {
		if time.Since(started) > syncPasses*syncInterval+30*time.Second {
			break
		}
		time.Sleep(250 * time.Millisecond)
		reqs := emu.Requests()
		if len(reqs) > seen {
			seen, last = len(reqs), time.Now()
			continue
		}
		if last.IsZero() || time.Since(last) < quietFor {
			continue
		}
		pass := reqs[before:seen]
		passes = append(passes, describeCalls(pass))
		s.logf("sync: %d open requests, pass %d (%s after start): %s", n, len(passes), last.Sub(started).Round(time.Second), describeCalls(pass))
		before, last = seen, time.Time{}
	}
	if len(passes) < syncPasses {
		r.note = fmt.Sprintf("%d of %d passes seen within %s", len(passes), syncPasses, time.Since(started).Round(time.Second))
	} else {
		r.note = "pass 1 right after a start (full read), pass 2 a minute later"
	}
	r.github = strings.Join(passes, "; ")
	r.rss = rss(srv)
	return nil
}

// describeCalls is "2 calls (1 answered 304)", naming any call that was
// not a list of pull requests.
func describeCalls(reqs []githubtest.Request) string {
	notModified := 0
	var other []string
	for _, q := range reqs {
		if q.StatusCode == http.StatusNotModified {
			notModified++
		}
		if !strings.HasSuffix(q.Path, "/pulls") {
			other = append(other, q.Method+" "+q.Path)
		}
	}
	calls := "calls"
	if len(reqs) == 1 {
		calls = "call"
	}
	out := fmt.Sprintf("%d %s (%d answered 304)", len(reqs), calls, notModified)
	if len(other) > 0 {
		out += ", incl. " + strings.Join(other, ", ")
	}
	return out
}

// openPulls opens n pull requests on the emulator, each from its own
// branch at one commit on top of the default branch.
func openPulls(ctx context.Context, emu *githubtest.Server, n int) ([]store.PullRequest, error) {
	gh := emu.Client()
	owner, repo, base := emu.Owner(), emu.Repo(), emu.DefaultBranch()
	tip, err := emu.Resolve(base)
	if err != nil {
		return nil, err
	}
	if _, _, err := gh.Git.CreateRef(ctx, owner, repo, &github.Reference{Ref: github.String("refs/heads/load/base"), Object: &github.GitObject{SHA: github.String(tip)}}); err != nil {
		return nil, fmt.Errorf("create load/base: %w", err)
	}
	head, err := emu.PushCommit("load/base", map[string][]byte{"load.txt": []byte("clustro-load\n")}, nil, "clustro-load")
	if err != nil {
		return nil, err
	}
	prs := make([]store.PullRequest, 0, n)
	for i := range n {
		branch := fmt.Sprintf("load/pr-%05d", i)
		if _, _, err := gh.Git.CreateRef(ctx, owner, repo, &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(head)}}); err != nil {
			return nil, fmt.Errorf("create %s: %w", branch, err)
		}
		pr, _, err := gh.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{Title: github.String(branch), Head: github.String(branch), Base: github.String(base)})
		if err != nil {
			return nil, fmt.Errorf("open a pull request from %s: %w", branch, err)
		}
		prs = append(prs, store.PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL()})
	}
	return prs, nil
}
