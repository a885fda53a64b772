package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/clustropg/clustro/internal/pgtest"
)

func TestStartServer(t *testing.T) {
	ctx := context.Background()
	s, err := pgtest.StartServer("")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()

	dsn, err := s.CreateDatabase(ctx, "suite_one")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, version string
	if err := db.QueryRowContext(ctx, "SELECT current_database(), current_setting('server_version_num')").Scan(&name, &version); err != nil {
		t.Fatal(err)
	}
	if name != "suite_one" || version[:2] != "15" {
		t.Errorf("connected to %s on server %s, want suite_one on 15", name, version)
	}
}

func TestStart(t *testing.T) {
	dsn := pgtest.Start(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}
