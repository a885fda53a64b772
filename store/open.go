package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// DefaultPath is the SQLite file `clustro serve` uses when given no DSN.
const DefaultPath = "./clustro.db"

// dialect is the SQL backend. The queries are written once, with ?
// placeholders, and differ only where the dialect methods say.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

func (d dialect) String() string {
	if d == postgresDialect {
		return "postgres"
	}
	return "sqlite"
}

// sqlStore implements Store on database/sql for both backends.
type sqlStore struct {
	dialect dialect
	// w runs every transaction. On SQLite it has one connection, so writers
	// queue in the pool instead of failing with SQLITE_BUSY.
	w *sql.DB
	// r runs plain reads; on SQLite it is a separate read-only pool (WAL
	// lets readers run beside the writer), on PostgreSQL it is w.
	r   *sql.DB
	cfg config
	// locks are SQLite's in-process workspace locks.
	locks *keyedMutex
}

// Open opens the store at dsn and brings its schema up to date: a
// postgres:// or postgresql:// URL opens PostgreSQL, anything else is the
// path of a SQLite file (created if missing; its directory must exist).
func Open(ctx context.Context, dsn string, opts ...Option) (Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	var (
		s   *sqlStore
		err error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s, err = openPostgres(ctx, dsn)
	} else {
		s, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	s.cfg = cfg
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	return &sqlStore{dialect: postgresDialect, w: db, r: db}, nil
}

func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("store: open sqlite: need a file path, got %q (an in-memory database is not shared between connections)", path)
	}
	withParams := func(params string) string {
		if strings.Contains(path, "?") {
			return path + "&" + params
		}
		return path + "?" + params
	}
	// The writer begins every transaction IMMEDIATE: it takes the write
	// lock up front, so that another process's writer makes it wait
	// (busy_timeout) rather than fail when a read turns into a write.
	w, err := sql.Open("sqlite", withParams("_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", withParams("_busy_timeout=10000&_foreign_keys=1&_query_only=1"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return &sqlStore{dialect: sqliteDialect, w: w, r: r, locks: newKeyedMutex()}, nil
}

func (s *sqlStore) Backend() string { return s.dialect.String() }

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.dialect, err)
	}
	return nil
}

func (s *sqlStore) Close() error {
	var errs []error
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// q adapts a query written with ? placeholders to the dialect: PostgreSQL
// numbers them ($1, $2, ...). No query has a ? inside a string literal.
func (s *sqlStore) q(query string) string {
	if s.dialect != postgresDialect {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// forUpdate is the row-locking suffix of a SELECT inside a transaction.
// SQLite needs none: its transactions hold the database's write lock.
func (s *sqlStore) forUpdate(suffix string) string {
	if s.dialect != postgresDialect {
		return ""
	}
	return " " + suffix
}

// now is the store's clock at the precision both backends keep.
func (s *sqlStore) now() time.Time { return s.cfg.now().UTC().Truncate(time.Microsecond) }

// ts encodes a time as the dialect stores it: timestamptz on PostgreSQL,
// microseconds since the epoch on SQLite (integers compare correctly, text
// timestamps of varying precision do not). The zero time is NULL.
func (s *sqlStore) ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if s.dialect == postgresDialect {
		return t
	}
	return t.UnixMicro()
}

// tsCol scans a time column of either dialect; NULL is the zero time.
type tsCol struct{ t *time.Time }

func (c tsCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

// tx runs fn in a transaction on the writer and commits it if fn returns nil.
func (s *sqlStore) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
