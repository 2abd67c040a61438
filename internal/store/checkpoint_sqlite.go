package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// SQLite's WAL is copied back into the database file by checkpoints. By
// default the connection whose commit takes the WAL past 1,000 pages does
// it, inside that commit: under heavy ingestion the group-commit writer
// stopped every ~4 MiB of WAL to write them to the database file and fsync
// it, and the requests queued behind that commit waited for it.
//
// While a server ingests, a checkpointer does that work on its own
// connection instead, beside the writer (in WAL mode a passive checkpoint
// and a writer run at once), a few times a second. The writer keeps an
// automatic checkpoint only as a bound on the WAL's size
// (walCheckpointPages): when it runs, nearly every page is already in the
// database file, so it is short, and it lets the next transaction start
// the WAL over from its beginning, which a checkpoint running beside a
// busy writer rarely can.

// walCheckpointPages is the WAL size (pages of 4 KiB: 64 MiB) at which the
// writer checkpoints itself. It matches journal_size_limit.
const walCheckpointPages = 16384

// checkpointEvery is how often the checkpointer copies the WAL.
const checkpointEvery = 100 * time.Millisecond

type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done sync.WaitGroup
}

// startCheckpointer moves the WAL's checkpoints off the writer connection.
func (s *Store) startCheckpointer(ctx context.Context) error {
	if s.d != sqliteDialect || s.ckpt != nil {
		return nil
	}
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("store: checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	// A checkpoint that finds a reader or the other checkpoint in its way
	// copies what it can and returns; it never waits.
	if _, err := db.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		db.Close()
		return fmt.Errorf("store: checkpointer: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walCheckpointPages)); err != nil {
		db.Close()
		return fmt.Errorf("store: checkpointer: %w", err)
	}
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	s.ckpt = c
	return nil
}

func (c *checkpointer) run() {
	defer c.done.Done()
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		// Errors (SQLITE_BUSY while a backup starts, a full disk) leave
		// the pages in the WAL, where they are safe; the writer's own
		// checkpoint bounds it.
		var busy, logPages, done int
		c.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done)
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
