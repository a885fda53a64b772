package githubtest

import (
	"reflect"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    map[string]string // nil: no match
	}{
		{"repos/{owner}/{repo}/pulls/{number}", "repos/o/r/pulls/1", map[string]string{"owner": "o", "repo": "r", "number": "1"}},
		{"repos/{owner}/{repo}/pulls/{number}", "repos/o/r/pulls/1/files", nil},
		{"repos/{owner}/{repo}/pulls/{number}", "repos/o/r/pulls", nil},
		{"repos/{owner}/{repo}/git/ref/{ref...}", "repos/o/r/git/ref/heads/feature/x", map[string]string{"owner": "o", "repo": "r", "ref": "heads/feature/x"}},
		{"repos/{owner}/{repo}/git/ref/{ref...}", "repos/o/r/git/ref", nil},
		{"repos/{owner}/{repo}/commits/{ref...}/status", "repos/o/r/commits/feature/x/status", map[string]string{"owner": "o", "repo": "r", "ref": "feature/x"}},
		{"repos/{owner}/{repo}/commits/{ref...}/status", "repos/o/r/commits/status", nil},
		{"repos/{owner}/{repo}/commits/{ref...}/status", "repos/o/r/commits/main/statuses", nil},
		{"repos/{owner}/{repo}/issues/comments/{comment_id}", "repos/o/r/issues/comments/5", map[string]string{"owner": "o", "repo": "r", "comment_id": "5"}},
		{"repos/{owner}/{repo}/issues/{number}/comments", "repos/o/r/issues/comments/5", nil},
		{"repos/{owner}/{repo}/issues/{number}/comments", "repos/o/r/issues//comments", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			got, ok := match(strings.Split(tt.pattern, "/"), strings.Split(tt.path, "/"))
			if !ok {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBase64Lines(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"hi", "aGk=\n"},
		{strings.Repeat("a", 45), strings.Repeat("YWFh", 15) + "\n"},
		{strings.Repeat("a", 46), strings.Repeat("YWFh", 15) + "\nYQ==\n"},
	}
	for _, tt := range tests {
		if got := base64Lines([]byte(tt.in)); got != tt.want {
			t.Errorf("base64Lines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
