package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresRole is the role the stand-in creates for a Cluster. Several
// clusters share one server, so the role is named after the namespace and
// the cluster, readably and with a hash of both:
// PostgresRole("billing-prod", "ledger") is "billing_prod__ledger_" and ten
// hex digits. The app Secret's username is this role.
func PostgresRole(namespace, cluster string) string {
	return pgIdentifier(namespace, cluster)
}

// PostgresDatabase is the database the stand-in creates on the shared
// server for a database of a Cluster: db "" (or the cluster's
// bootstrap.initdb.database, "app" by default) is the cluster's own
// database, named like its role; an extra database (a CNPG Database object's
// spec.name) is named after the namespace, cluster and db.
func PostgresDatabase(namespace, cluster, db string) string {
	if db == "" {
		return pgIdentifier(namespace, cluster)
	}
	return pgIdentifier(namespace, cluster, db)
}

// maxIdentifier is PostgreSQL's identifier length (NAMEDATALEN-1).
const maxIdentifier = 63

// hashLen is how many hex digits of the parts' hash end an identifier.
const hashLen = 10

// pgIdentifier names a role or database after parts: a lower-case,
// readable [a-z0-9_] form of them joined by "__", cut to fit, then "_" and
// a hash of the exact parts. The readable form alone is not one to one
// ("a--b"/"c" and "a"/"b--c" both read a__b__c): the hash keeps distinct
// clusters apart.
func pgIdentifier(parts ...string) string {
	readable := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		default:
			return '_'
		}
	}, strings.Join(parts, "__"))
	sum := sha256.Sum256([]byte(strings.Join(parts, "/"))) // no part holds '/'
	suffix := "_" + hex.EncodeToString(sum[:])[:hashLen]
	if len(readable) > maxIdentifier-len(suffix) {
		readable = readable[:maxIdentifier-len(suffix)]
	}
	return readable + suffix
}

// pgAdmin provisions roles and databases as a superuser.
type pgAdmin struct {
	pool *pgxpool.Pool
	host string // as the app Secret gives it
	port int
}

func openPostgres(ctx context.Context, dsn string) (*pgAdmin, error) {
	if dsn == "" {
		return nil, errors.New("no PostgreSQL: set OperatorOptions.PostgresDSN (a superuser DSN, e.g. pgtest.Server.DSN())")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &pgAdmin{pool: pool, host: cfg.ConnConfig.Host, port: int(cfg.ConnConfig.Port)}, nil
}

func (a *pgAdmin) close() { a.pool.Close() }

// ensureRole creates a login role with password, or sets the password of
// the existing one (the Secret is the source of truth).
func (a *pgAdmin) ensureRole(ctx context.Context, role, password string) error {
	var exists bool
	if err := a.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	// Utility statements take no parameters: quote the identifier and literal.
	if _, err := a.pool.Exec(ctx, verb+" ROLE "+ident(role)+" WITH LOGIN PASSWORD "+literal(password)); err != nil {
		return fmt.Errorf("%s role %s: %w", strings.ToLower(verb), role, err)
	}
	return nil
}

// ensureDatabase creates db owned by owner unless it exists, then makes
// sure owner owns it.
func (a *pgAdmin) ensureDatabase(ctx context.Context, db, owner string) error {
	var exists bool
	if err := a.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", db, err)
	}
	if !exists {
		_, err := a.pool.Exec(ctx, "CREATE DATABASE "+ident(db)+" OWNER "+ident(owner))
		var pgErr *pgconn.PgError
		if err == nil || errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
			return nil
		}
		return fmt.Errorf("create database %s: %w", db, err)
	}
	if _, err := a.pool.Exec(ctx, "ALTER DATABASE "+ident(db)+" OWNER TO "+ident(owner)); err != nil {
		return fmt.Errorf("set owner of database %s: %w", db, err)
	}
	return nil
}

// dropDatabase drops db, ending its sessions.
func (a *pgAdmin) dropDatabase(ctx context.Context, db string) error {
	if _, err := a.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(db)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	return nil
}

// dropRole drops every database role owns, then the role.
func (a *pgAdmin) dropRole(ctx context.Context, role string) error {
	rows, err := a.pool.Query(ctx, "SELECT d.datname FROM pg_database d JOIN pg_roles r ON d.datdba = r.oid WHERE r.rolname = $1", role)
	if err != nil {
		return fmt.Errorf("list databases of role %s: %w", role, err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list databases of role %s: %w", role, err)
	}
	for _, db := range dbs {
		if err := a.dropDatabase(ctx, db); err != nil {
			return err
		}
	}
	if _, err := a.pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(role)); err != nil {
		return fmt.Errorf("drop role %s: %w", role, err)
	}
	return nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// literal quotes s as an SQL string literal (standard_conforming_strings is on).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
