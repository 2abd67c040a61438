package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsTransient reports whether err says the store could not write right now
// rather than that the data written is at fault: the database was busy or
// locked, out of memory or disk, failed to read or write, or the connection
// or context ended. The same write may succeed later, so the events are
// answered 503 OVERLOADED and the client retries them.
//
// An error that is not transient is deterministic: the same data fails the
// same way every time (a constraint, JSON SQLite's functions refuse, a value
// too big). The ingestion writer then isolates the events that cause it and
// refuses those alone, so one bad event never fails the others.
//
// An error this function does not recognise is taken as transient: a 503
// loses nothing (the client retries), while taking a store fault for the
// data's would refuse, and so lose, good events. A new store backend adds
// its own codes here.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return sqliteTransient(se.Code())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return postgresTransient(pe.Code)
	}
	return true
}

// postgresTransient classifies a PostgreSQL SQLSTATE by its class (the
// first two characters).
func postgresTransient(code string) bool {
	if len(code) < 2 {
		return true
	}
	switch code[:2] {
	case "22", // data exception: invalid JSON text, a character the encoding lacks, a number out of range
		"23", // integrity constraint violation: UNIQUE, CHECK, NOT NULL, foreign key
		"54", // program limit exceeded: a value too deep (stack depth) or too large
		"P0": // raised by a PL/pgSQL function or trigger (json_patch's own checks)
		return false
	}
	// 08 connection, 40 serialization failure or deadlock, 53 insufficient
	// resources (disk full, out of memory), 57 operator intervention (a
	// restart, a cancelled statement), 58 system (I/O) and the rest.
	return true
}

// sqliteTransient classifies a SQLite result code by its primary code (the
// low byte; the extended codes refine it).
func sqliteTransient(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_ERROR, // a statement's runtime error, e.g. json_patch's "malformed JSON"
		sqlite3.SQLITE_CONSTRAINT, // UNIQUE, CHECK, NOT NULL, a trigger's RAISE
		sqlite3.SQLITE_TOOBIG,     // a string or blob over SQLite's limit
		sqlite3.SQLITE_MISMATCH,   // a value of the wrong type for its column
		sqlite3.SQLITE_RANGE:      // a bind index out of range
		return false
	case sqlite3.SQLITE_BUSY, // another connection holds the lock past busy_timeout
		sqlite3.SQLITE_LOCKED,    // a table lock inside this process
		sqlite3.SQLITE_NOMEM,     // out of memory
		sqlite3.SQLITE_READONLY,  // the file or directory turned read-only
		sqlite3.SQLITE_INTERRUPT, // the context ended mid-statement
		sqlite3.SQLITE_IOERR,     // the disk failed a read, write or fsync
		sqlite3.SQLITE_CORRUPT,   // the file is damaged: no event's fault
		sqlite3.SQLITE_FULL,      // the disk is full
		sqlite3.SQLITE_CANTOPEN,  // the file (or its WAL) cannot be opened
		sqlite3.SQLITE_PROTOCOL,  // a WAL locking race
		sqlite3.SQLITE_SCHEMA,    // the schema changed under a prepared statement
		sqlite3.SQLITE_NOTADB:    // the file is not a database (replaced underneath)
		return true
	}
	return true
}
