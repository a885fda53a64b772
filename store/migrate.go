package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrations holds the schema, one directory per dialect, one file per
// version: NNNN_what.sql. A released file is never edited; a change of
// schema is a new file in both directories.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the dialect's migrations in version order.
func loadMigrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version: %w", e.Name(), err)
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date in one transaction, recording each
// version applied in schema_migrations, and refuses a database written by a
// newer clustro: its schema may mean things this binary would get wrong.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return fmt.Errorf("store: load migrations: %w", err)
	}
	known := len(ms)
	var tooNew error
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == postgresDialect {
			// Replicas starting together migrate one after the other.
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7243017390145301)"); err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		ddl := "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
		if s.dialect == postgresDialect {
			ddl = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at timestamptz NOT NULL)"
		}
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > known {
			tooNew = fmt.Errorf("store: database schema is version %d but this clustro knows up to %d; upgrade clustro", current, known)
			return tooNew
		}
		for _, m := range ms[current:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), m.version, m.name, s.ts(s.now())); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
		}
		return nil
	})
	if tooNew != nil {
		return tooNew
	}
	if err != nil {
		return fmt.Errorf("store: migrate %s schema: %w", s.dialect, err)
	}
	return nil
}
