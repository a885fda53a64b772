package store

import (
	"testing"

	"github.com/clustropg/clustro/request"
)

func TestSummarize(t *testing.T) {
	rec := func(id string, s request.State, f *request.Failure) Record {
		return Record{Request: request.DatabaseRequest{ID: id}, State: s, Failure: f}
	}
	retryable := &request.Failure{Step: "applying", Retryable: true}
	closed := &request.Failure{Step: "applying", Retryable: false}
	tests := []struct {
		name         string
		recs         []Record // newest first
		latest, live string
		exists, busy bool
	}{
		{"nothing", nil, "", "", false, false},
		{"being created", []Record{rec("a", request.Planned, nil)}, "a", "", true, true},
		{"ready", []Record{rec("a", request.Ready, nil)}, "a", "a", true, false},
		{"a resize in flight", []Record{rec("b", request.Applying, nil), rec("a", request.Ready, nil)}, "b", "a", true, true},
		{"a cancelled resize", []Record{rec("b", request.Cancelled, nil), rec("a", request.Ready, nil)}, "a", "a", true, false},
		{"a failed resize, retryable", []Record{rec("b", request.Failed, retryable), rec("a", request.Ready, nil)}, "b", "a", true, true},
		{"a failed resize, closed", []Record{rec("b", request.Failed, closed), rec("a", request.Ready, nil)}, "a", "a", true, false},
		{"a create that failed, closed", []Record{rec("a", request.Failed, closed)}, "", "", false, false},
		{"deleted", []Record{rec("c", request.Deleted, nil), rec("a", request.Ready, nil)}, "c", "", false, false},
		{"created again after a deletion", []Record{rec("d", request.Ready, nil), rec("c", request.Deleted, nil), rec("a", request.Ready, nil)}, "d", "d", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := Summarize(tc.recs)
			id := func(r *Record) string {
				if r == nil {
					return ""
				}
				return r.ID()
			}
			if id(db.Latest) != tc.latest || id(db.Live) != tc.live || db.Exists() != tc.exists || db.Busy() != tc.busy {
				t.Errorf("latest %q live %q exists %v busy %v; want %q %q %v %v",
					id(db.Latest), id(db.Live), db.Exists(), db.Busy(), tc.latest, tc.live, tc.exists, tc.busy)
			}
		})
	}
}
