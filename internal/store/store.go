// Package store owns every SQL statement: it keeps projects, identity
// secrets (sealed), events, profiles, rejections, counters, admins, sessions
// and the audit log in one database. SQLite is the default; what is
// SQLite-specific lives in sqlite.go.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Coded errors callers test with errors.Is.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique value (a project name, an admin email) is taken.
	ErrConflict = errors.New("already exists")
)

// Store is the database. It holds one writer connection, so writes never
// wait on SQLite's lock inside the process, beside a pool of readers that
// WAL lets run while the writer commits.
type Store struct {
	w    *sql.DB // one connection; every transaction BEGIN IMMEDIATE
	r    *sql.DB // read-only pool
	path string

	// Statements of the ingestion hot path, prepared once on the writer
	// connection; transactions reuse them through Tx.StmtContext.
	upsertProfile, insertRejection, addCount *sql.Stmt
	insertMany                               [insertChunk + 1]*sql.Stmt // [n] inserts n events
}

// prepare readies the hot path's statements on the writer connection.
func (s *Store) prepare(ctx context.Context) error {
	type prep struct {
		dst  **sql.Stmt
		text string
	}
	preps := []prep{
		{&s.upsertProfile, upsertProfileSQL},
		{&s.insertRejection, insertRejectionSQL},
		{&s.addCount, addCountSQL},
	}
	for n := 1; n <= insertChunk; n++ {
		preps = append(preps, prep{&s.insertMany[n], insertManySQL(n)})
	}
	for _, p := range preps {
		st, err := s.w.PrepareContext(ctx, p.text)
		if err != nil {
			return fmt.Errorf("store: prepare %q: %w", p.text, err)
		}
		*p.dst = st
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes both pools. Closing the writer last lets SQLite checkpoint
// the WAL into the main file.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.upsertProfile, s.insertRejection, s.addCount} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range s.insertMany {
		if st != nil {
			st.Close()
		}
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the database answers a read, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// tx runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ms converts a time to the stored form, Unix milliseconds.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts stored Unix milliseconds back to a UTC time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nullString maps "" to NULL.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
