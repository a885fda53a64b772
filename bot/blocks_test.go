package bot

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
)

func sectionTexts(t *testing.T, blocks []slack.Block) []string {
	t.Helper()
	var out []string
	for _, b := range blocks {
		s, ok := b.(*slack.SectionBlock)
		if !ok {
			t.Fatalf("%T is not a section", b)
		}
		out = append(out, s.Text.Text)
	}
	return out
}

// TestSections: long text becomes sections of at most 3,000 characters,
// cut at line ends, a line longer than that cut within, and a code block
// that spans sections closed and opened again, so that each renders; the
// text is all there, in order.
func TestSections(t *testing.T) {
	lines := strings.Repeat("a line of some length, like a database in a list\n", 200)
	code := "Plan:\n```" + strings.Repeat("  + resource \"kubectl_manifest\" \"cluster\" {\n", 150) + "```\nDone."
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"short", "hello"},
		{"exactly one section", strings.Repeat("x", blockkit.MaxSectionText-4)},
		{"many lines", lines},
		{"one very long line", strings.Repeat("é", 7000)},
		{"a code block across sections", code},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			texts := sectionTexts(t, sections(tc.in))
			var joined []string
			for i, s := range texts {
				if n := utf8.RuneCountInString(s); n > blockkit.MaxSectionText || n == 0 {
					t.Errorf("section %d has %d characters", i, n)
				}
				if strings.Count(s, "```")%2 != 0 {
					t.Errorf("section %d leaves a code block open:\n%s", i, s)
				}
				joined = append(joined, s)
			}
			all := strings.Join(joined, "\n")
			// The fences added at the cuts aside, the text is the same.
			if got := strings.ReplaceAll(strings.ReplaceAll(all, "\n```\n```\n", "\n"), "\n", ""); got != strings.ReplaceAll(strings.TrimSpace(tc.in), "\n", "") && tc.in != "" {
				t.Errorf("the sections do not hold the text: %d characters, want %d", utf8.RuneCountInString(got), utf8.RuneCountInString(tc.in))
			}
		})
	}
	if n := len(sections(lines)); n != 4 {
		t.Errorf("10,000 characters in %d sections, want 4", n)
	}
}

func TestClip(t *testing.T) {
	if got := clip("ééééé", 3); got != "éé…" {
		t.Errorf("clip = %q", got)
	}
	if got := clip("abc", 3); got != "abc" {
		t.Errorf("clip = %q", got)
	}
	body, cut := clipLines("one\ntwo\nthree\nfour", 12)
	if body != "one\ntwo\n…" || cut != 11 {
		t.Errorf("clipLines = %q, %d", body, cut)
	}
}
