package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sendora/sendora/internal/store"
)

// ErrOverloaded means the writer's queue is full: the store is not keeping
// up. Nothing was stored; the client should retry after a pause.
var ErrOverloaded = errors.New("ingest: writer queue full")

// ErrClosed means the writer has stopped (the server is shutting down).
var ErrClosed = errors.New("ingest: writer closed")

// ErrStore means the store failed a commit for a reason that is not the
// events' fault (store.IsTransient): nothing of the submission was stored,
// and the writer has logged the cause.
var ErrStore = errors.New("ingest: the store failed to commit")

// Result is what became of one submitted event.
type Result uint8

// Results of Submit, one per event.
const (
	// Stored: the event is new and committed.
	Stored Result = iota + 1
	// Duplicate: an event with its messageId was already stored (a retry).
	Duplicate
	// Refused: the store refuses this event deterministically (it fails
	// alone, every time); nothing of it was stored. The others of its
	// request and group were committed.
	Refused
)

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

// CommitStats describes one group commit. Events = Inserted + duplicates +
// Refused when Err is nil.
type CommitStats struct {
	Requests, Events, Inserted, Rejections int
	// Refused counts events the store refused deterministically, isolated
	// from the rest of the group, which committed.
	Refused  int
	Duration time.Duration
	Err      error
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
	events []store.EventRow
	// rejections are the request's enforced refusals, committed with its
	// events: a request answered 503 records none, so its retry counts
	// them once.
	rejections []store.RejectionRow
	results    []Result
	done       chan error // buffered 1
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
	samplers  map[int64]*rate.Limiter // per-project sampling of rejection rows
	sampled   atomic.Uint64           // rejection rows dropped by sampling

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
		samplers:   map[int64]*rate.Limiter{},
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

// Submit queues a request's events and waits until they are committed.
// results[i] says what became of events[i]. rejections, the request's
// enforced refusals, are recorded in the same commit, and not at all when
// Submit fails. It fails fast with ErrOverloaded when the queue is full, and
// with ErrStore when the store could not commit (nothing was stored). If ctx
// ends first, Submit returns ctx's error, but the events may still be
// committed.
func (w *Writer) Submit(ctx context.Context, events []store.EventRow, rejections []store.RejectionRow, results []Result) error {
	n := int64(len(events))
	if n == 0 {
		w.Reject(rejections)
		return nil
	}
	if w.pending.Add(n) > int64(w.opt.MaxPending) {
		w.pending.Add(-n)
		return ErrOverloaded
	}
	j := jobPool.Get().(*job)
	j.events, j.rejections, j.results = events, rejections, results
	if err := w.enqueue(j); err != nil {
		w.pending.Add(-n)
		j.events, j.rejections, j.results = nil, nil, nil
		jobPool.Put(j)
		return err
	}
	select {
	case err := <-j.done:
		j.events, j.rejections, j.results = nil, nil, nil
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
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rejRows = w.sample(w.rejRows, w.rejCounts, rows)
}

// sample appends to dst the rows per-project sampling keeps, and counts
// every enforced one in counts. w.mu is held.
func (w *Writer) sample(dst []store.RejectionRow, counts map[store.CountKey]int64, rows []store.RejectionRow) []store.RejectionRow {
	now := w.opt.Now()
	for i := range rows {
		r := &rows[i]
		if r.Enforced {
			counts[store.CountKey{ProjectID: r.ProjectID, Minute: store.MinuteOf(r.At), Outcome: store.OutcomeRejected, Reason: r.Reason}]++
		}
		lim := w.samplers[r.ProjectID]
		if lim == nil {
			lim = rate.NewLimiter(rate.Limit(w.opt.RejectionRate), int(w.opt.RejectionBurst))
			lim.AllowN(now, 0) // start the bucket full at the injected clock's now
			w.samplers[r.ProjectID] = lim
		}
		if len(dst) >= w.opt.KeepRejections || !lim.AllowN(now, 1) {
			w.sampled.Add(1)
			continue
		}
		dst = append(dst, *r)
	}
	return dst
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

// putBack returns rejections takeRejections took to the next commit, when
// this one failed: counters are exact, and rows stay within the bound.
func (w *Writer) putBack(rows []store.RejectionRow, counts map[store.CountKey]int64) {
	if len(rows) == 0 && len(counts) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, n := range counts {
		w.rejCounts[k] += n
	}
	room := max(0, w.opt.KeepRejections-len(w.rejRows))
	w.rejRows = append(w.rejRows, rows[:min(room, len(rows))]...)
}

// commit writes the jobs' events, their rejections and the queued
// rejections and counters in one transaction, and wakes each job.
//
// When the store fails the group, the error decides: a transient one
// (store.IsTransient: busy, I/O, disk full) fails every job at once with
// ErrStore, nothing stored, so clients retry after a pause instead of the
// writer retrying job by job for N × busy_timeout. A deterministic one is
// the data's fault: the writer finds the events that fail alone by
// bisecting the group in transactions it rolls back (no fsync), then
// commits the rest in one transaction. Those events are Refused; their
// requests are answered for them alone. Nothing is committed before the
// culprits are known, so a job is always stored whole or not at all.
func (w *Writer) commit(jobs []*job) {
	queuedRows, queuedCounts := w.takeRejections()
	// The jobs' own rejections are sampled now, into a batch that commits
	// only with the jobs' events.
	counts := make(map[store.CountKey]int64, len(queuedCounts))
	for k, n := range queuedCounts {
		counts[k] = n
	}
	var rows []store.RejectionRow
	rows = append(rows, queuedRows...)
	if hasJobRejections(jobs) {
		w.mu.Lock()
		for _, j := range jobs {
			rows = w.sample(rows, counts, j.rejections)
		}
		w.mu.Unlock()
	}
	if len(jobs) == 0 && len(rows) == 0 && len(counts) == 0 {
		return
	}

	total := 0
	for _, j := range jobs {
		total += len(j.events)
	}
	var events []store.EventRow
	if len(jobs) == 1 {
		events = jobs[0].events // the usual case under light load: no copy
	} else if len(jobs) > 1 {
		events = make([]store.EventRow, 0, total)
		for _, j := range jobs {
			events = append(events, j.events...)
		}
	}
	inserted := make([]bool, total)
	st := CommitStats{Requests: len(jobs), Events: total}
	err := w.write(&store.Batch{Events: events, Rejections: rows, Counts: counts}, inserted, &st)
	if err == nil {
		w.report(st)
		w.done(jobs, inserted, nil)
		return
	}
	if store.IsTransient(err) {
		w.report(st)
		w.opt.Log.Error("group commit failed; its requests are answered 503", "events", total, "requests", len(jobs), "err", err)
		w.putBack(queuedRows, queuedCounts)
		w.fail(jobs, err)
		return
	}
	if total == 0 { // only rejections and counters, and the store refuses them: do not retry forever
		w.report(st)
		w.opt.Log.Error("rejections and counters dropped: the store refuses them", "rows", len(rows), "counters", len(counts), "err", err)
		w.fail(jobs, err)
		return
	}

	refused, err := w.isolate(jobs, events)
	if err != nil {
		st.Err = err
		w.report(st)
		w.opt.Log.Error("group commit failed while isolating the events at fault; its requests are answered 503", "events", total, "requests", len(jobs), "err", err)
		w.putBack(queuedRows, queuedCounts)
		w.fail(jobs, err)
		return
	}
	rest := make([]store.EventRow, 0, total-len(refused))
	for i := range events {
		if !refused[i] {
			rest = append(rest, events[i])
		}
	}
	restInserted := make([]bool, len(rest))
	st.Refused = len(refused)
	b := &store.Batch{Events: rest, Rejections: rows, Counts: counts}
	if err = w.write(b, restInserted, &st); err != nil && !store.IsTransient(err) && len(queuedRows) > 0 {
		// The rest stands alone; the queued rejection rows may be what
		// fails. Keep their counters, drop the rows.
		w.opt.Log.Error("rejection rows dropped: the store refuses them", "rows", len(queuedRows), "err", err)
		b.Rejections = rows[len(queuedRows):]
		err = w.write(b, restInserted, &st)
	}
	w.report(st)
	if err != nil {
		w.opt.Log.Error("group commit failed after isolating the events at fault; its requests are answered 503", "events", total, "requests", len(jobs), "err", err)
		w.putBack(nil, queuedCounts)
		w.fail(jobs, err)
		return
	}
	off := 0
	for i := range events {
		if refused[i] {
			continue
		}
		inserted[i] = restInserted[off]
		off++
	}
	w.done(jobs, inserted, refused)
}

func hasJobRejections(jobs []*job) bool {
	for _, j := range jobs {
		if len(j.rejections) > 0 {
			return true
		}
	}
	return false
}

// write commits b. Its duration goes to the report, which commit sends to
// OnCommit once the group's fate is known: a first attempt that failed on
// an event at fault is not a failed commit, the one after isolation is the
// group's commit.
func (w *Writer) write(b *store.Batch, inserted []bool, st *CommitStats) error {
	start := time.Now()
	err := w.st.WriteBatch(context.Background(), b, inserted)
	st.Duration += time.Since(start)
	st.Rejections, st.Err = len(b.Rejections), err
	if err == nil {
		for _, r := range b.Rejections {
			w.sincePrune[r.ProjectID]++
		}
		for _, ok := range inserted {
			if ok {
				st.Inserted++
			}
		}
	}
	return err
}

func (w *Writer) report(st CommitStats) {
	if w.opt.OnCommit != nil {
		w.opt.OnCommit(st)
	}
}

// isolate finds the events of a group that the store refuses on their own:
// it bisects the group in transactions that are rolled back, so each try
// costs no fsync and nothing is stored yet. A transient error on the way
// ends it. If every event fails alone although they came from several
// requests, the store itself is failing, not the data: that is an error.
func (w *Writer) isolate(jobs []*job, events []store.EventRow) (map[int]bool, error) {
	refused := map[int]bool{}
	var firstErr error
	var find func(lo, hi int, knownBad bool) error
	find = func(lo, hi int, knownBad bool) error {
		if !knownBad {
			err := w.st.TryEvents(context.Background(), events[lo:hi])
			if err == nil {
				return nil
			}
			if store.IsTransient(err) {
				return err
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if hi-lo == 1 {
			refused[lo] = true
			return nil
		}
		mid := lo + (hi-lo)/2
		if err := find(lo, mid, false); err != nil {
			return err
		}
		return find(mid, hi, false)
	}
	if err := find(0, len(events), true); err != nil {
		return nil, err
	}
	if len(refused) == len(events) && len(jobs) > 1 {
		return nil, fmt.Errorf("every event of %d requests fails alone: %w", len(jobs), firstErr)
	}
	for i := range events {
		if refused[i] {
			e := &events[i]
			w.opt.Log.Warn("event refused by the store; the rest of its group is committed",
				"project_id", e.ProjectID, "type", e.Type, "err", firstErr)
		}
	}
	return refused, nil
}

// done wakes each job with the results of its events.
func (w *Writer) done(jobs []*job, inserted []bool, refused map[int]bool) {
	off := 0
	for _, j := range jobs {
		for i := range j.events {
			switch {
			case refused[off+i]:
				j.results[i] = Refused
			case inserted[off+i]:
				j.results[i] = Stored
			default:
				j.results[i] = Duplicate
			}
		}
		off += len(j.events)
		w.finish(j, nil)
	}
}

// fail wakes each job with ErrStore: nothing of it was stored.
func (w *Writer) fail(jobs []*job, cause error) {
	err := fmt.Errorf("%w: %w", ErrStore, cause)
	for _, j := range jobs {
		w.finish(j, err)
	}
}

func (w *Writer) finish(j *job, err error) {
	w.pending.Add(-int64(len(j.events)))
	j.done <- err
}

// maintain prunes rejections of projects that gained many since the last
// prune, and old counters, between commits on the writer goroutine.
func (w *Writer) maintain() {
	// Bounded steps of the dedup index's work (a memtable flush, part of a
	// merge): one between two commits, so commits keep flowing while it
	// catches up, and more while nothing waits to be committed.
	for {
		more, err := w.st.MaintainIngest(context.Background())
		if err != nil {
			w.opt.Log.Error("dedup maintenance", "err", err)
			break
		}
		if !more || len(w.queue) > 0 {
			break
		}
		select {
		case <-w.closing:
		default:
			continue
		}
		break
	}
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
