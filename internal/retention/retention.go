// Package retention deletes events older than the configured age, in the
// background, a small batch at a time, so the group-commit writer never
// waits long for the database's one writer connection.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// Defaults for Options' zero values.
const (
	// DefaultBatch is the most rows one DELETE looks at. Where messageIds
	// start with a time, 1,000 rows take 2–7 ms; with random ones (whose
	// unique-index entries are scattered) 14–25 ms, so the sweeper shrinks
	// its batches towards targetBatchTime.
	DefaultBatch = 1000
	// DefaultEvery is the time between sweeps. Retention is measured in
	// days; a minute late is nothing, and a sweep with nothing to delete
	// is one indexed read.
	DefaultEvery = time.Minute
)

// targetBatchTime is how long one DELETE should hold the writer
// connection: about one group commit of a busy server.
const targetBatchTime = 5 * time.Millisecond

// minBatch is the fewest rows a DELETE looks at, however slow.
const minBatch = 50

// Options configures a Sweeper. MaxAge is required; other zero values take
// defaults.
type Options struct {
	// MaxAge is how long events are kept, measured from when the server
	// received them.
	MaxAge time.Duration
	// Batch is the most rows one DELETE looks at; the sweeper halves it
	// while statements take much longer than a few milliseconds and grows
	// it back when they are quick.
	Batch int
	Every time.Duration
	// Pause between two batches of one sweep, as a multiple of the time the
	// last batch took; 1 (the default when zero) keeps a sweep to about
	// half of the writer connection's time even when years of events
	// expire at once. Negative means no pause (tests).
	Pause float64
	Now   func() time.Time
	Log   *slog.Logger
	// OnSweep, when set, is told after each sweep how many events it
	// deleted, how long it took and whether it failed (for metrics).
	OnSweep func(deleted int64, d time.Duration, err error)
}

// Sweeper deletes expired events.
type Sweeper struct {
	st  *store.Store
	opt Options
}

// New returns a Sweeper over st. It panics when MaxAge is not positive:
// the caller decides whether retention is on at all.
func New(st *store.Store, opt Options) *Sweeper {
	if opt.MaxAge <= 0 {
		panic("retention: MaxAge must be positive")
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Every <= 0 {
		opt.Every = DefaultEvery
	}
	if opt.Pause == 0 {
		opt.Pause = 1
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{st: st, opt: opt}
}

// Run sweeps at once and then every Options.Every until ctx ends. A failed
// sweep is logged and tried again at the next interval.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.opt.Every)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := s.Sweep(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.opt.OnSweep != nil {
			s.opt.OnSweep(n, time.Since(start), err)
		}
		if err != nil {
			s.opt.Log.Error("retention: delete old events", "err", err, "deleted", n)
		} else if n > 0 {
			s.opt.Log.Info("retention: deleted old events", "deleted", n, "older_than", s.opt.MaxAge.String(), "duration", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes every event received more than MaxAge before now, a batch
// at a time, oldest first, and returns how many it deleted.
//
// It walks windows of Batch ids from the oldest and stops at the first
// window where nothing was old enough: ids grow with arrival, so past that
// window every event is newer. An event that arrived a little out of order
// (its request was slow) is left for a later sweep.
func (s *Sweeper) Sweep(ctx context.Context) (int64, error) {
	cutoff := s.opt.Now().Add(-s.opt.MaxAge)
	oldest, ok, err := s.st.OldestEventReceivedAt(ctx)
	if err != nil || !ok || !oldest.Before(cutoff) {
		return 0, err
	}
	var total, after int64
	batch := s.opt.Batch
	for {
		start := time.Now()
		n, last, err := s.st.DeleteEventsBefore(ctx, cutoff, after, batch)
		took := time.Since(start)
		total += n
		if err != nil {
			return total, err
		}
		if last == 0 || n == 0 {
			return total, nil
		}
		after = last
		batch = nextBatch(batch, s.opt.Batch, took)
		if err := s.pause(ctx, took); err != nil {
			return total, err
		}
	}
}

// nextBatch sizes the next DELETE from how long the last one took.
func nextBatch(batch, most int, took time.Duration) int {
	switch {
	case took > 2*targetBatchTime:
		return max(minBatch, batch/2)
	case took < targetBatchTime/2:
		return min(most, batch*2)
	}
	return batch
}

// pause gives the writer connection back for about as long as the last
// batch held it.
func (s *Sweeper) pause(ctx context.Context, took time.Duration) error {
	if s.opt.Pause < 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(took) * s.opt.Pause))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
