package barman

import "testing"

func TestLastArchiveError(t *testing.T) {
	log := `2026-12-02 18:07:50.001 UTC [21600] LOG:  database system is ready to accept connections
2026-12-02 18:07:57,326 [21665] ERROR: Barman cloud WAL archiver exception: An error occurred (403) when calling the HeadBucket operation: Forbidden
2026-12-02 18:07:58.363 UTC [21660] LOG:  archive command failed with exit code 4
2026-12-02 18:07:58.363 UTC [21660] DETAIL:  The failed archive command was: /usr/bin/barman-cloud-wal-archive ...
`
	want := "ERROR: Barman cloud WAL archiver exception: An error occurred (403) when calling the HeadBucket operation: Forbidden (archive command failed with exit code 4)"
	if got := lastArchiveError(log); got != want {
		t.Errorf("lastArchiveError = %q\nwant %q", got, want)
	}
	if got := lastArchiveError("2026-12-02 18:07:50.001 UTC [1] LOG:  ready\n"); got != "" {
		t.Errorf("no failure: %q", got)
	}
}
