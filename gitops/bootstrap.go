package gitops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Bootstrap describes what `clustro bootstrap` found.
type Bootstrap struct {
	// PR is the pull request opened (or found open) for the update; zero
	// when the repository was up to date.
	PR PR
	// Changed lists the paths the pull request writes or deletes.
	Changed []string
}

// Bootstrap makes the infra repository's module directory hold exactly
// files (paths relative to dir, e.g. modules/cnpg-database), and adds the
// README files in extra when they are missing (an existing README is the
// repository's own and is left alone). When anything differs it opens one
// pull request; its branch is named after the content, so running it again
// finds the same pull request instead of opening another.
func (c *Client) Bootstrap(ctx context.Context, dir string, files map[string][]byte, extra map[string][]byte) (Bootstrap, error) {
	root, err := os.MkdirTemp("", "clustro-bootstrap-")
	if err != nil {
		return Bootstrap{}, fmt.Errorf("bootstrap: %w", err)
	}
	defer os.RemoveAll(root)
	head, err := c.branchHead(ctx, c.base)
	if err != nil {
		return Bootstrap{}, err
	}
	if head == "" {
		return Bootstrap{}, fmt.Errorf("bootstrap: base branch %s does not exist in %s", c.base, c.Repo())
	}
	if err := c.Checkout(ctx, head, root); err != nil {
		return Bootstrap{}, err
	}
	ch := Change{Files: map[string][]byte{}}
	for name, want := range files {
		p := path.Join(dir, name)
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, want) {
			ch.Files[p] = want
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && !e.IsDir() {
			ch.Delete = append(ch.Delete, path.Join(dir, e.Name()))
		}
	}
	for p, b := range extra {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); os.IsNotExist(err) {
			ch.Files[p] = b
		}
	}
	var out Bootstrap
	for p := range ch.Files {
		out.Changed = append(out.Changed, p)
	}
	out.Changed = append(out.Changed, ch.Delete...)
	sort.Strings(out.Changed)
	if len(out.Changed) == 0 {
		return out, nil
	}
	h := sha256.New()
	for _, p := range out.Changed {
		fmt.Fprintf(h, "%s\x00%s\x00", p, ch.Files[p])
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	ch.Branch = "clustro/bootstrap-" + sum
	ch.Title = "clustro: bootstrap " + dir
	ch.Message = "clustro: bootstrap " + dir + "\n\nWritten by `clustro bootstrap` from the embedded module and the platform config."
	ch.Labels = []string{LabelClustro, "clustro:bootstrap"}
	ch.Body = "ClustroPG's Terraform module, from the running version and the platform config (sizing table, images, object store, Grafana in `platform.tf`). " +
		"Every database workspace uses it: review it like any change to shared infrastructure. Nothing is applied when it merges; the next plan of each database uses it.\n\n" +
		"Changed:\n\n- `" + strings.Join(out.Changed, "`\n- `") + "`\n"
	pr, err := c.OpenPR(ctx, ch)
	if err != nil {
		return out, fmt.Errorf("bootstrap: %w", err)
	}
	out.PR = pr
	return out, nil
}
