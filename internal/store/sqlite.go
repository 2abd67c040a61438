package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sendora/sendora/db/migrations"
)

// sqliteDialect is SQLite's part of the store.
var sqliteDialect = &dialect{
	name:         "sqlite",
	goose:        goose.DialectSQLite3,
	migrations:   migrations.SQLite,
	insertSuffix: "", // no unique index: the dedup index decides (dedup_sqlite.go)
	forUpdate:    "",
	isUnique:     isUniqueSQLite,
	insertEvents: (*Store).insertEventsSQLite,
}

// MinSQLiteVersion is the oldest SQLite the store runs on: 3.51.3 fixes a
// WAL-reset bug that could corrupt a database written by several connections.
const MinSQLiteVersion = "3.51.3"

// FileName is the database's name inside the data directory.
const FileName = "sendora.db"

// Pragmas for every connection, applied by the driver in this order with
// busy_timeout first (modernc sorts the rest).
var pragmas = []string{
	// Wait up to 10 s for another connection's lock (the CLI, a backup)
	// instead of failing at once with SQLITE_BUSY.
	"busy_timeout(10000)",
	// WAL: readers never block the writer nor the writer readers.
	"journal_mode(WAL)",
	// FULL: every commit fsyncs the WAL, so an acknowledged event survives a
	// power cut, not only a crash. Group commit amortises the fsync over
	// many events, which makes FULL affordable (see docs/BENCHMARKS.md).
	"synchronous(FULL)",
	// Enforce the schema's REFERENCES clauses.
	"foreign_keys(ON)",
	// Keep temporary b-trees (sorts, VACUUM INTO) in memory where small.
	"temp_store(MEMORY)",
	// After a checkpoint lets the WAL start over, truncate its file back
	// to 64 MiB (a server checkpoints beside its writer and lets the WAL
	// reach that size: checkpoint_sqlite.go).
	"journal_size_limit(67108864)",
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Writers take the write lock when they begin, not at their first
		// write, so two writers (this server and the CLI) never deadlock
		// upgrading a read lock; busy_timeout then queues them.
		q.Set("_txlock", "immediate")
	}
	return fileURI(path) + "?" + q.Encode()
}

// Open opens (creating when absent) the SQLite database at path, checks the
// SQLite version, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := checkDir(path); err != nil {
		return nil, err
	}
	registerSQLiteFunctions()
	unlock, err := lockMigrations(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := checkVersion(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	s := &Store{w: w, d: sqliteDialect, path: path}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: migrate %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkDir turns a missing or unwritable data directory into one clear
// error instead of SQLite's "unable to open database file".
func checkDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: data directory %s is not a directory", dir)
	}
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return fmt.Errorf("store: database %s: %w", path, err)
	} else {
		f.Close()
	}
	return nil
}

func checkVersion(ctx context.Context, db *sql.DB) error {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return fmt.Errorf("store: open database: %w", err)
	}
	if compareVersions(v, MinSQLiteVersion) < 0 {
		return fmt.Errorf("store: SQLite %s is too old; %s or newer is required (WAL-reset fix)", v, MinSQLiteVersion)
	}
	return nil
}

// compareVersions compares dotted version strings numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// isUniqueSQLite reports whether err is a UNIQUE constraint violation.
func isUniqueSQLite(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok"
// when the file is sound). On PostgreSQL, which checks its own pages, it
// answers "ok" once the database answers.
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	if s.pg != nil {
		if err := s.Ping(ctx); err != nil {
			return "", err
		}
		return "ok", nil
	}
	v, err := integrityCheck(ctx, s.r)
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return v, nil
}
