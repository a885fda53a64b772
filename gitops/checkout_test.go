package gitops

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one member of a crafted tarball: size bytes of zeros unless
// data is set.
type entry struct {
	name     string
	typeflag byte
	size     int64
	data     []byte
	linkname string
}

// tarball writes entries under GitHub's top-level directory, gzipped.
func tarball(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "acme-infra-0123abc/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for _, e := range entries {
		h := &tar.Header{Name: "acme-infra-0123abc/" + e.name, Typeflag: e.typeflag, Mode: 0o644, Linkname: e.linkname}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = e.size
			if e.data != nil {
				h.Size = int64(len(e.data))
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.data != nil {
			tw.Write(e.data)
			continue
		}
		for left := h.Size; left > 0; {
			n := min(left, int64(len(zeros)))
			if _, err := tw.Write(zeros[:n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// treeSize adds up the sizes of the files under dir, and counts them.
func treeSize(t *testing.T, dir string) (size int64, files int) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			size += info.Size()
			files++
		}
		return err
	})
	return size, files
}

// TestExtractLimits: a tarball over a checkout limit is refused with an
// error naming the limit, having written no more than the limit allows.
// The limits are small here; Checkout uses the defaults.
func TestExtractLimits(t *testing.T) {
	lim := checkoutLimits{tarball: 64 << 10, tree: 1 << 20, file: 512 << 10, entries: 20}
	random := make([]byte, 100<<10)
	rand.Read(random)
	many := make([]entry, 30)
	for i := range many {
		many[i] = entry{name: "databases/dev/t/x" + strings.Repeat("x", i) + ".tf", data: []byte("# x\n")}
	}
	tests := []struct {
		name    string
		entries []entry
		limit   string // "" when the tarball is within the limits
		want    string // in the error
	}{
		{"within the limits", []entry{{name: "modules/m/", typeflag: tar.TypeDir}, {name: "modules/m/main.tf", data: []byte("# m\n")}, {name: "README.md", size: 400 << 10}}, "", ""},
		// 1.6 MiB of zeros in four files, each within the per-file limit,
		// compressed to a few KiB: a zip bomb against the extracted size.
		{"zeros beyond the extracted size", []entry{{name: "a.bin", size: 400 << 10}, {name: "b.bin", size: 400 << 10}, {name: "c.bin", size: 400 << 10}, {name: "d.bin", size: 400 << 10}},
			"tree size", "the tree's files add up to more than 1 MiB at c.bin (checkout limit on the extracted size)"},
		{"one file beyond the per-file size", []entry{{name: "modules/m/big.tf", size: 2 << 20}},
			"file size", "modules/m/big.tf is larger than 512 KiB (checkout limit per file)"},
		{"too many files", many,
			"entries", "the tree has more than 20 files and directories at databases/dev/t/x" + strings.Repeat("x", 20) + ".tf (checkout limit on entries)"},
		{"a download beyond the tarball size", []entry{{name: "noise.bin", data: random}},
			"tarball size", "the tarball is larger than 64 KiB (checkout limit on the download)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz := tarball(t, tt.entries...)
			dir := filepath.Join(t.TempDir(), "checkout")
			err := extract(bytes.NewReader(tgz), dir, lim)
			size, files := treeSize(t, dir)
			if size > lim.tree || files > lim.entries {
				t.Errorf("wrote %d bytes in %d files: over the limits", size, files)
			}
			if tt.limit == "" {
				if err != nil {
					t.Fatal(err)
				}
				if files != 2 {
					t.Errorf("%d files written, want 2", files)
				}
				return
			}
			var le *CheckoutLimitError
			if !errors.As(err, &le) || le.Limit != tt.limit {
				t.Fatalf("err = %v, want the %s limit", err, tt.limit)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err, tt.want)
			}
		})
	}
	if bomb := tarball(t, tests[1].entries...); len(bomb) > 16<<10 {
		t.Errorf("the zip bomb is %d bytes compressed: not much of a bomb", len(bomb))
	}
}

// TestExtractPaths: only regular files and directories are written, inside
// the checkout; a path leaving it fails the checkout.
func TestExtractPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checkout")
	err := extract(bytes.NewReader(tarball(t,
		entry{name: "modules/m/main.tf", data: []byte("# m\n")},
		entry{name: "modules/m/link", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"},
		entry{name: "modules/m/hard", typeflag: tar.TypeLink, linkname: "acme-infra-0123abc/modules/m/main.tf"},
	)), dir, defaultCheckoutLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link", "hard"} {
		if _, err := os.Lstat(filepath.Join(dir, "modules", "m", name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was written: %v", name, err)
		}
	}
	err = extract(bytes.NewReader(tarball(t, entry{name: "../../../escape.tf", data: []byte("x")})), filepath.Join(t.TempDir(), "c"), defaultCheckoutLimits)
	if err == nil || !strings.Contains(err.Error(), "leaves the checkout") {
		t.Errorf("a path leaving the checkout: %v", err)
	}
}

// TestCheckoutRefusesOversizedFile: Checkout itself works under the default
// limits and says which one a tree went over (here a 33 MiB file of zeros,
// 33 KiB on the wire).
func TestCheckoutRefusesOversizedFile(t *testing.T) {
	bomb := tarball(t, entry{name: "modules/cnpg-database/main.tf", data: []byte("# m\n")}, entry{name: "modules/cnpg-database/zeros.tf", size: maxFileBytes + 1<<20})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repos/acme/infra/tarball/0123abc":
			http.Redirect(w, r, "http://"+r.Host+"/codeload/acme-infra.tar.gz", http.StatusFound)
		case "/codeload/acme-infra.tar.gz":
			io.Copy(w, bytes.NewReader(bomb))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := NewClient(Options{APIURL: srv.URL + "/", Repo: "acme/infra", Auth: Auth{Token: "test-token"}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Checkout(context.Background(), "0123abc", filepath.Join(t.TempDir(), "checkout"))
	var le *CheckoutLimitError
	if !errors.As(err, &le) || le.Limit != "file size" {
		t.Fatalf("err = %v, want the file size limit", err)
	}
	if want := "unpack tarball of 0123abc: modules/cnpg-database/zeros.tf is larger than 32 MiB (checkout limit per file)"; err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}
