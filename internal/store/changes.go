package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Changes to what servers cache (identity secrets, strict mode, schemes,
// public keys, allowed origins, projects) bump one counter in the same
// transaction, so every server learns of a change made anywhere (another
// instance, the CLI) within a second: it reads the counter once a second,
// and on PostgreSQL the transaction also NOTIFYs the servers LISTENing on
// ChangesChannel, which then read it at once. A server whose counter moved
// drops its caches; the next event reloads them.

// ChangesChannel is the PostgreSQL notification channel of changes.
const ChangesChannel = "sendora_changes"

// bumpChanges counts a change in tx (and, on PostgreSQL, notifies the
// listeners when tx commits).
func (s *Store) bumpChanges(ctx context.Context, tx *sql.Tx) error {
	var seq int64
	// An upsert, so a counter row lost to a hand-made repair never blocks
	// every rotation.
	if err := tx.QueryRowContext(ctx, `
		INSERT INTO changes (id, seq) VALUES (1, 1)
		ON CONFLICT (id) DO UPDATE SET seq = changes.seq + 1 RETURNING seq`).Scan(&seq); err != nil {
		return fmt.Errorf("count the change: %w", err)
	}
	if s.d.notifySQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.notifySQL, strconv.FormatInt(seq, 10)); err != nil {
			return fmt.Errorf("notify the change: %w", err)
		}
	}
	return nil
}

// ChangeSeq returns the change counter.
func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: read the change counter: %w", err)
	}
	return seq, nil
}

// ChangeWatcher tells this process when the change counter moves.
type ChangeWatcher struct {
	s        *Store
	onChange func()

	mu   sync.Mutex
	last int64
	// wake has a value when a notification asks for a read now.
	wake chan struct{}
}

// WatchChanges returns a watcher that calls onChange whenever it finds the
// change counter moved since it last looked (starting from now). Poll
// looks once; Run looks at every tick and, on PostgreSQL, at every
// notification.
func (s *Store) WatchChanges(ctx context.Context, onChange func()) (*ChangeWatcher, error) {
	last, err := s.ChangeSeq(ctx)
	if err != nil {
		return nil, err
	}
	return &ChangeWatcher{s: s, onChange: onChange, last: last, wake: make(chan struct{}, 1)}, nil
}

// Poll reads the counter once and calls onChange if it moved.
func (w *ChangeWatcher) Poll(ctx context.Context) error {
	seq, err := w.s.ChangeSeq(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	moved := seq != w.last
	w.last = seq
	w.mu.Unlock()
	if moved {
		w.onChange()
	}
	return nil
}

// Run polls at every tick and, on PostgreSQL, whenever a notification
// arrives, until ctx ends. It tells report when reading the counter, or
// listening for notifications, starts failing (the database is down: the
// caches then live until their TTL) and when it works again, once each
// way, not at every tick.
func (w *ChangeWatcher) Run(ctx context.Context, ticks <-chan time.Time, report func(msg string, err error)) {
	if report == nil {
		report = func(string, error) {}
	}
	var wg sync.WaitGroup
	if w.s.pg != nil {
		wg.Go(func() { w.listen(ctx, report) })
	}
	defer wg.Wait()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		case <-w.wake:
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.Poll(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			report("cannot read the change counter: changes made elsewhere apply within --secret-cache-ttl until it can", err)
		case err == nil && failing:
			failing = false
			report("reading the change counter again", nil)
		}
	}
}

// poke asks Run for a read now.
func (w *ChangeWatcher) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
