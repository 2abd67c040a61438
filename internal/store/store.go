// Package store owns every SQL statement: it keeps projects, identity
// secrets (sealed), events, profiles, rejections, counters, admins, sessions
// and the audit log in one database, SQLite (the default, in the data
// directory) or PostgreSQL (shared by several instances).
//
// Callers never see the dialect: one API, one SQL text per query with $N
// placeholders (modernc SQLite reads them positionally too). What differs is
// confined to files named for their dialect: sqlite.go and postgres.go (open,
// errors, locking), events_sqlite.go and events_postgres.go (the event
// insert), and db/migrations/{sqlite,postgres}.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
)

// Coded errors callers test with errors.Is.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique value (a project name, an admin email) is taken.
	ErrConflict = errors.New("already exists")
)

// Store is the database.
//
// On SQLite it holds one writer connection, so writes never wait on
// SQLite's lock inside the process, beside a pool of readers that WAL lets
// run while the writer commits. On PostgreSQL, w and r are one pool.
type Store struct {
	w    *sql.DB // SQLite: one connection, every transaction BEGIN IMMEDIATE
	r    *sql.DB // SQLite: read-only pool; PostgreSQL: the same pool as w
	d    *dialect
	path string // the SQLite file; "" on PostgreSQL
	pg   *pgConfig

	// Statements of the ingestion hot path, prepared once on the writer
	// connection; transactions reuse them through Tx.StmtContext.
	upsertProfile, updateProfile, insertRejection, addCount *sql.Stmt
	insertMany                                              [insertChunk + 1]*sql.Stmt // [n] inserts n events

	// SQLite only: the dedup index (dedup_sqlite.go), loaded by the first
	// write of events or by StartIngest. PostgreSQL dedups with its unique
	// index, which every instance shares.
	dedupMu sync.Mutex
	dedup   *dedupIndex

	// countShard is the shard of the per-minute counters this process adds
	// to (migration 00010): drawn at open on PostgreSQL, so that instances
	// do not queue on one counter row; 0 on SQLite.
	countShard int16

	// SQLite only, while a server ingests: checkpoints beside the writer
	// (checkpoint_sqlite.go).
	ckpt *checkpointer
}

// dedupIndex returns SQLite's dedup index, loading it on first use, or nil
// on PostgreSQL. Only the process that ingests loads it: CLI commands never
// write events.
func (s *Store) dedupIndex(ctx context.Context) (*dedupIndex, error) {
	return s.loadDedup(ctx, IngestOptions{})
}

func (s *Store) loadDedup(ctx context.Context, opt IngestOptions) (*dedupIndex, error) {
	if s.d != sqliteDialect {
		return nil, nil
	}
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	if s.dedup == nil {
		d, err := openDedup(ctx, s.w, cmp.Or(opt.DedupMemtable, DefaultDedupMemtable))
		if err != nil {
			return nil, err
		}
		s.dedup = d
	}
	return s.dedup, nil
}

// IngestOptions tunes what writing events keeps in memory.
type IngestOptions struct {
	// DedupMemtable is how many keys of recent events SQLite's dedup index
	// keeps in memory before writing them as a run; 0 takes
	// DefaultDedupMemtable.
	DedupMemtable int
}

// StartIngest loads what writing events needs (SQLite's dedup index), so
// that the first request does not pay for it, and says what it loaded. The
// server calls it before it listens.
func (s *Store) StartIngest(ctx context.Context, opt IngestOptions) (DedupInfo, error) {
	d, err := s.loadDedup(ctx, opt)
	if err != nil || d == nil {
		return DedupInfo{}, err
	}
	if err := s.startCheckpointer(ctx); err != nil {
		return DedupInfo{}, err
	}
	return d.info(), nil
}

// MaintainIngest does one bounded step of background work for ingestion
// (SQLite's dedup index: writing a full memtable as a run, merging runs) and
// reports whether more remains. The group-commit writer calls it between
// commits. On PostgreSQL there is none.
func (s *Store) MaintainIngest(ctx context.Context) (more bool, err error) {
	d, err := s.dedupIndex(ctx)
	if err != nil || d == nil {
		return false, err
	}
	return d.maintain(ctx, s.w)
}

// dialect is what differs between SQLite and PostgreSQL beyond the
// open functions.
type dialect struct {
	name       string // "sqlite" or "postgres"
	goose      goose.Dialect
	migrations fs.FS
	// forUpdate ends a SELECT whose rows the transaction must hold until it
	// commits, so that concurrent changes from other instances queue: " FOR
	// UPDATE" on PostgreSQL; nothing on SQLite, where BEGIN IMMEDIATE already
	// holds the database's one write lock.
	forUpdate string
	// serializeSQL takes a lock named by $1 until the transaction ends, for
	// invariants over many rows ("never two first admins"); "" on SQLite.
	serializeSQL string
	// notifySQL announces a change to other servers when the transaction
	// commits ($1: the change counter); "" when the dialect has no
	// notifications (SQLite: servers read the counter once a second).
	notifySQL string
	// insertSuffix ends the multi-row event insert.
	insertSuffix string
	// isUnique reports a UNIQUE constraint violation.
	isUnique func(error) bool
	// insertEvents inserts events and reports which were new.
	insertEvents func(s *Store, ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool) error
}

// Dialect returns "sqlite" or "postgres", for logs and messages.
func (s *Store) Dialect() string { return s.d.name }

// prepare readies the hot path's statements on the writer connection.
func (s *Store) prepare(ctx context.Context) error {
	type prep struct {
		dst  **sql.Stmt
		text string
	}
	preps := []prep{
		{&s.upsertProfile, upsertProfileSQL},
		{&s.updateProfile, updateProfileSQL},
		{&s.insertRejection, insertRejectionSQL},
		{&s.addCount, addCountSQL},
	}
	for n := 1; n <= insertChunk; n++ {
		preps = append(preps, prep{&s.insertMany[n], s.insertManySQL(n)})
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

// Path returns the SQLite database file's path, or "" on PostgreSQL.
func (s *Store) Path() string { return s.path }

// Location names the database for people: the SQLite file's path, or the
// PostgreSQL URL without its password.
func (s *Store) Location() string {
	if s.pg != nil {
		return s.pg.redacted
	}
	return s.path
}

// Reopen opens a second, independent handle on the same database, as
// another process (the CLI, another instance) would.
func (s *Store) Reopen(ctx context.Context) (*Store, error) {
	if s.pg != nil {
		return OpenPostgres(ctx, s.pg.url, s.pg.opt)
	}
	return Open(ctx, s.path)
}

// Close closes the database. On SQLite, closing the writer last lets it
// checkpoint the WAL into the main file.
func (s *Store) Close() error {
	var ckptErr error
	if s.ckpt != nil {
		ckptErr = s.ckpt.close()
		s.ckpt = nil // a second Close (tests close a store early) must not close it again
	}
	for _, st := range []*sql.Stmt{s.upsertProfile, s.updateProfile, s.insertRejection, s.addCount} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range s.insertMany {
		if st != nil {
			st.Close()
		}
	}
	if s.r == s.w {
		return errors.Join(ckptErr, s.w.Close())
	}
	return errors.Join(ckptErr, s.r.Close(), s.w.Close())
}

// Ping checks that the database answers a read, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// pgWriteTimeout bounds a write transaction on PostgreSQL that has no
// deadline of its own (the group commit's): a server that stops answering
// without closing the connection (a frozen host, a network partition)
// would otherwise hold every waiting request until TCP gives up, minutes
// later. Past it pgx cancels the transaction and drops the connection, and
// the writer answers 503 OVERLOADED, which clients retry (their messageIds
// keep a commit that did land from being stored twice). SQLite's
// busy_timeout plays this part there.
const pgWriteTimeout = 15 * time.Second

// tx runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if _, ok := ctx.Deadline(); !ok && s.pg != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pgWriteTimeout)
		defer cancel()
	}
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

// serialize makes the transaction the only one holding the named lock
// until it ends, so that checks over several rows hold across instances.
// SQLite's write transactions are already serial.
func (s *Store) serialize(ctx context.Context, tx *sql.Tx, name string) error {
	if s.d.serializeSQL == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.serializeSQL, name)
	return err
}

// isUnique reports whether err is a UNIQUE constraint violation.
func (s *Store) isUnique(err error) bool { return err != nil && s.d.isUnique(err) }

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
