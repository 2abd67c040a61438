package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// ErrOverloaded means the writer's queue is full: the store is not keeping
// up. Nothing was stored; the client should retry after a pause.
var ErrOverloaded = errors.New("ingest: writer queue full")

// ErrClosed means the writer has stopped (the server is shutting down).
var ErrClosed = errors.New("ingest: writer closed")

// WriterOptions tunes the writer. Zero values take defaults.
type WriterOptions struct {
	// MaxPending bounds the events queued but not yet committed. Past it,
	// Submit fails with ErrOverloaded instead of growing memory.
	MaxPending int
	// MaxCommitEvents bounds one transaction, so a commit's latency stays
	// low under load.
	MaxCommitEvents int
	// FlushEvery is how often rejections and counters are written when no
	// events arrive to carry them.
	FlushEvery time.Duration
	// KeepRejections is how many recent rejections each project keeps.
	KeepRejections int
	// RejectionRate and RejectionBurst bound the detailed rejection rows
	// recorded per project per second; past them only counters grow.
	RejectionRate  float64
	RejectionBurst float64
	// CountRetention is how long per-minute counters are kept.
	CountRetention time.Duration
	Now            func() time.Time
	Log            *slog.Logger
	// OnCommit, when set, observes each commit (for metrics).
	OnCommit func(CommitStats)
}

// CommitStats describes one group commit.
type CommitStats struct {
	Requests, Events, Inserted, Rejections int
	Duration                               time.Duration
	Err                                    error
}

func (o *WriterOptions) defaults() {
	if o.MaxPending <= 0 {
		o.MaxPending = 50_000
	}
	if o.MaxCommitEvents <= 0 {
		o.MaxCommitEvents = 5_000
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 250 * time.Millisecond
	}
	if o.KeepRejections <= 0 {
		o.KeepRejections = 10_000
	}
	if o.RejectionRate <= 0 {
		o.RejectionRate = 200
	}
	if o.RejectionBurst <= 0 {
		o.RejectionBurst = 1_000
	}
	if o.CountRetention <= 0 {
		o.CountRetention = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// job is one request's events waiting for their commit.
type job struct {
	events   []store.EventRow
	inserted []bool
	done     chan error // buffered 1
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan error, 1)} }}

// Writer is the single goroutine that writes events. Requests queue their
// events and wait; the writer takes everything queued, commits it in one
// transaction (group commit: one fsync for many requests), then wakes each
// request with the result. Rejections and counters ride along with the next
// commit, or a timer flushes them.
type Writer struct {
	st  *store.Store
	opt WriterOptions

	queue   chan *job
	pending atomic.Int64 // events queued, not yet committed

	mu        sync.Mutex // guards the fields below, filled by request goroutines
	rejRows   []store.RejectionRow
	rejCounts map[store.CountKey]int64
	buckets   map[int64]*bucket // per-project sampling of rejection rows
	sampled   atomic.Uint64     // rejection rows dropped by sampling

	// submitMu makes "not closing, so enqueue" atomic with respect to
	// Close, so no job is enqueued after the writer's final drain.
	submitMu  sync.RWMutex
	isClosing bool
	closing   chan struct{}
	closed    chan struct{}

	// writer-goroutine state
	sincePrune map[int64]int
	lastPrune  time.Time
}

// NewWriter starts the writer goroutine. Close stops it.
func NewWriter(st *store.Store, opt WriterOptions) *Writer {
	opt.defaults()
	w := &Writer{
		st:         st,
		opt:        opt,
		queue:      make(chan *job, 4096),
		rejCounts:  map[store.CountKey]int64{},
		buckets:    map[int64]*bucket{},
		closing:    make(chan struct{}),
		closed:     make(chan struct{}),
		sincePrune: map[int64]int{},
	}
	go w.loop()
	return w
}

// Pending returns the number of events queued and not yet committed.
func (w *Writer) Pending() int { return int(w.pending.Load()) }

// SampledOut returns how many rejection rows sampling has dropped.
func (w *Writer) SampledOut() uint64 { return w.sampled.Load() }

// Submit queues events and waits until they are committed. inserted[i]
// reports whether events[i] was new (false: a retry of a stored messageId).
// It fails fast with ErrOverloaded when the queue is full. If ctx ends
// first, Submit returns ctx's error, but the events may still be committed.
func (w *Writer) Submit(ctx context.Context, events []store.EventRow, inserted []bool) error {
	n := int64(len(events))
	if n == 0 {
		return nil
	}
	if w.pending.Add(n) > int64(w.opt.MaxPending) {
		w.pending.Add(-n)
		return ErrOverloaded
	}
	j := jobPool.Get().(*job)
	j.events, j.inserted = events, inserted
	if err := w.enqueue(j); err != nil {
		w.pending.Add(-n)
		j.events, j.inserted = nil, nil
		jobPool.Put(j)
		return err
	}
	select {
	case err := <-j.done:
		j.events, j.inserted = nil, nil
		jobPool.Put(j)
		return err
	case <-ctx.Done():
		// The writer still owns j and will send on its buffered channel;
		// it is not returned to the pool.
		return ctx.Err()
	}
}

// Flush waits until everything submitted so far, and every rejection and
// counter recorded so far, is committed.
func (w *Writer) Flush(ctx context.Context) error {
	j := &job{done: make(chan error, 1)}
	w.submitMu.RLock()
	if w.isClosing {
		w.submitMu.RUnlock()
		return ErrClosed
	}
	select {
	case w.queue <- j:
		w.submitMu.RUnlock()
	case <-ctx.Done():
		w.submitMu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) enqueue(j *job) error {
	w.submitMu.RLock()
	defer w.submitMu.RUnlock()
	if w.isClosing {
		return ErrClosed
	}
	select {
	case w.queue <- j:
		return nil
	default:
		return ErrOverloaded
	}
}

// Reject records rejections: their counters always, detailed rows subject
// to per-project sampling so a flood cannot grow the table or slow commits.
// It does not wait for the write.
func (w *Writer) Reject(rows []store.RejectionRow) {
	if len(rows) == 0 {
		return
	}
	now := w.opt.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range rows {
		r := &rows[i]
		if r.Enforced {
			w.rejCounts[store.CountKey{ProjectID: r.ProjectID, Minute: store.MinuteOf(r.At), Outcome: store.OutcomeRejected, Reason: r.Reason}]++
		}
		b := w.buckets[r.ProjectID]
		if b == nil {
			b = &bucket{tokens: w.opt.RejectionBurst, last: now}
			w.buckets[r.ProjectID] = b
		}
		if len(w.rejRows) >= w.opt.KeepRejections || !b.take(now, w.opt.RejectionRate, w.opt.RejectionBurst) {
			w.sampled.Add(1)
			continue
		}
		w.rejRows = append(w.rejRows, *r)
	}
}

// bucket is a token bucket for rejection-row sampling.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(burst, b.tokens+el*rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Close stops taking events, commits everything queued, flushes rejections
// and counters, and returns when done or when ctx ends.
func (w *Writer) Close(ctx context.Context) error {
	w.submitMu.Lock()
	if !w.isClosing {
		w.isClosing = true
		close(w.closing)
	}
	w.submitMu.Unlock()
	select {
	case <-w.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Running reports whether the writer takes events, for /readyz.
func (w *Writer) Running() error {
	select {
	case <-w.closing:
		return ErrClosed
	default:
		return nil
	}
}

func (w *Writer) loop() {
	defer close(w.closed)
	tick := time.NewTicker(w.opt.FlushEvery)
	defer tick.Stop()
	var jobs []*job
	for {
		jobs = jobs[:0]
		select {
		case j := <-w.queue:
			jobs = append(jobs, j)
		case <-tick.C:
		case <-w.closing:
			w.drain()
			return
		}
		jobs = w.collect(jobs)
		w.commit(jobs)
		w.maintain()
	}
}

// collect adds whatever else is queued, up to MaxCommitEvents.
func (w *Writer) collect(jobs []*job) []*job {
	n := 0
	for _, j := range jobs {
		n += len(j.events)
	}
	for n < w.opt.MaxCommitEvents {
		select {
		case j := <-w.queue:
			jobs = append(jobs, j)
			n += len(j.events)
		default:
			return jobs
		}
	}
	return jobs
}

// drain commits everything still queued at shutdown; Close has made sure
// nothing more is enqueued.
func (w *Writer) drain() {
	for {
		jobs := w.collect(nil)
		if len(jobs) == 0 {
			w.commit(nil) // last rejections and counters
			return
		}
		w.commit(jobs)
	}
}

func (w *Writer) takeRejections() ([]store.RejectionRow, map[store.CountKey]int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rows, counts := w.rejRows, w.rejCounts
	if len(rows) == 0 && len(counts) == 0 {
		return nil, nil
	}
	w.rejRows, w.rejCounts = nil, map[store.CountKey]int64{}
	return rows, counts
}

// commit writes the jobs, rejections and counters in one transaction and
// wakes each job. When the group fails, each job is retried alone, so one
// bad job cannot fail the others.
func (w *Writer) commit(jobs []*job) {
	rows, counts := w.takeRejections()
	if len(jobs) == 0 && len(rows) == 0 && len(counts) == 0 {
		return
	}
	b := &store.Batch{Rejections: rows, Counts: counts}
	total := 0
	for _, j := range jobs {
		total += len(j.events)
	}
	if len(jobs) == 1 {
		b.Events = jobs[0].events
	} else if total > 0 {
		b.Events = make([]store.EventRow, 0, total)
		for _, j := range jobs {
			b.Events = append(b.Events, j.events...)
		}
	}
	inserted := make([]bool, total)
	start := time.Now()
	err := w.st.WriteBatch(context.Background(), b, inserted)
	w.observe(len(jobs), total, inserted, len(rows), time.Since(start), err)
	if err == nil {
		for _, r := range rows {
			w.sincePrune[r.ProjectID]++
		}
		off := 0
		for _, j := range jobs {
			copy(j.inserted, inserted[off:off+len(j.events)])
			off += len(j.events)
			w.finish(j, nil)
		}
		return
	}
	w.opt.Log.Error("group commit failed; retrying requests one by one", "events", total, "err", err)
	if len(rows) > 0 || len(counts) > 0 {
		if err := w.st.WriteBatch(context.Background(), &store.Batch{Rejections: rows, Counts: counts}, nil); err != nil {
			w.opt.Log.Error("write rejections", "rows", len(rows), "err", err)
		}
	}
	for _, j := range jobs {
		err := w.st.WriteBatch(context.Background(), &store.Batch{Events: j.events}, j.inserted)
		if err != nil {
			w.opt.Log.Error("commit events", "events", len(j.events), "err", err)
		}
		w.finish(j, err)
	}
}

func (w *Writer) finish(j *job, err error) {
	w.pending.Add(-int64(len(j.events)))
	j.done <- err
}

func (w *Writer) observe(requests, events int, inserted []bool, rejections int, d time.Duration, err error) {
	if w.opt.OnCommit == nil {
		return
	}
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	w.opt.OnCommit(CommitStats{Requests: requests, Events: events, Inserted: n, Rejections: rejections, Duration: d, Err: err})
}

// maintain prunes rejections of projects that gained many since the last
// prune, and old counters, between commits on the writer goroutine.
func (w *Writer) maintain() {
	for id, n := range w.sincePrune {
		if n < w.opt.KeepRejections/10 {
			continue
		}
		if _, err := w.st.PruneRejections(context.Background(), id, w.opt.KeepRejections); err != nil {
			w.opt.Log.Error("prune rejections", "project_id", id, "err", err)
		}
		delete(w.sincePrune, id)
	}
	now := w.opt.Now()
	if now.Sub(w.lastPrune) < time.Hour {
		return
	}
	w.lastPrune = now
	if _, err := w.st.PruneCounts(context.Background(), now.Add(-w.opt.CountRetention)); err != nil {
		w.opt.Log.Error("prune counters", "err", err)
	}
	for id := range w.sincePrune { // a quiet project's tail
		if _, err := w.st.PruneRejections(context.Background(), id, w.opt.KeepRejections); err == nil {
			delete(w.sincePrune, id)
		}
	}
}
