package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dchest/siphash"
)

// dedupIndex is SQLite's exact index of the (project, messageId) keys of
// every stored event: the structure that makes a retry of any acknowledged
// event, however old, be answered and not stored again.
//
// A UNIQUE index on the events table does the same, but with random
// messageIds (UUIDv4, what Segment's and RudderStack's SDKs send) each
// insert lands on a random page of it, every group commit writes thousands
// of index pages to the WAL, and ingestion collapses as the table grows
// (docs/BENCHMARKS.md). This is a small log-structured merge tree instead,
// whose writes are all appends:
//
//   - The events table is the log. Keys of events committed since the last
//     flush live in memory (the memtable, a hash map); at start they are read
//     back from the events above the newest run's watermark.
//   - A full memtable is written as one immutable run: its keys' 64-bit
//     SipHash values, sorted, with the event ids, in blocks of about 256
//     entries (dedup_blocks), plus a Bloom filter over the run's hashes
//     (dedup_runs.filter). Runs of one level are merged, a few at a time, into
//     one run of the next level (tiered compaction), so their number stays
//     logarithmic in the number of keys.
//   - A lookup checks the memtables, then each run's Bloom filter in memory;
//     only when a filter says "maybe" does it read that run's one block. A
//     hash found anywhere is confirmed on the stored event (project and
//     messageId compared), so a hash collision never drops a distinct event.
//
// Server-assigned ids (srv_…) are never keys. Every method runs on the
// writer connection's goroutine under mu: lookups happen inside the group
// commit's transaction, and the keys join the memtable only once it has
// committed.
type dedupIndex struct {
	mu sync.Mutex

	k0, k1     uint64 // SipHash key, random per database (meta "dedup_key")
	flushAt    int    // memtable size that triggers a flush
	fanout     int    // runs of one level merged together
	stepBlocks int    // blocks one merge step writes at most

	active *memtable
	frozen *memtable   // full, being written as a run; nil otherwise
	runs   []*dedupRun // sealed runs, oldest first
	flush  *runBuild   // the frozen memtable's run, being written
	merge  *runBuild   // a merge under way
	trash  []int64     // runs whose blocks are still to delete

	// fresh collects the keys the write under way inserts; apply adds them
	// once it has committed.
	fresh freshKeys

	// hashFn replaces SipHash in tests that force collisions; inlineSort
	// sorts a frozen memtable on the writer goroutine, so tests' steps are
	// deterministic.
	hashFn     func(project int64, id string) uint64
	inlineSort bool
}

// freshKeys are the dedup keys a write inserts, with their new event ids.
type freshKeys struct {
	keys  []dedupKey
	ids   []int64
	maxID int64 // the write's last event id, key or not
}

func (f *freshKeys) reset() {
	f.keys, f.ids, f.maxID = f.keys[:0], f.ids[:0], 0
}

func (f *freshKeys) add(k dedupKey, id int64) {
	f.keys, f.ids = append(f.keys, k), append(f.ids, id)
}

// apply records a committed write's keys. The caller holds mu.
func (d *dedupIndex) apply() {
	d.noteEventID(d.fresh.maxID) // first: a flush that committed starts covers this write
	d.committed(d.fresh.keys, d.fresh.ids)
	if cap(d.fresh.keys) > 4*insertChunk*1024 { // don't keep a huge write's buffers
		d.fresh = freshKeys{}
	}
	d.fresh.reset()
}

// DedupInfo describes SQLite's dedup index when it is loaded.
type DedupInfo struct {
	Keys     int64 // keys in runs
	Runs     int
	Memtable int // keys only in memory, read back from the events table
}

func (d *dedupIndex) info() DedupInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := DedupInfo{Runs: len(d.runs), Memtable: d.active.n}
	for _, r := range d.runs {
		in.Keys += r.keys
	}
	return in
}

// dedupKey is one event's key: its project and client messageId.
type dedupKey struct {
	project int64
	id      string
	h       uint64
}

// memtable holds the keys of recently committed events.
type memtable struct {
	ids        map[uint64]int64   // hash → event id
	more       map[uint64][]int64 // further events whose key shares a hash (collisions; rare)
	n          int
	maxEventID int64

	sorted chan sortedRun // once frozen: its entries sorted, and their filter
	run    sortedRun      // what sorted delivered
}

func newMemtable(size int) *memtable {
	return &memtable{ids: make(map[uint64]int64, size)}
}

func (m *memtable) add(h uint64, eventID int64) {
	if _, ok := m.ids[h]; ok {
		if m.more == nil {
			m.more = map[uint64][]int64{}
		}
		m.more[h] = append(m.more[h], eventID)
	} else {
		m.ids[h] = eventID
	}
	m.n++
	m.maxEventID = max(m.maxEventID, eventID)
}

func (m *memtable) candidates(h uint64, out []int64) []int64 {
	if id, ok := m.ids[h]; ok {
		out = append(out, id)
		out = append(out, m.more[h]...)
	}
	return out
}

// dedupRun is one sealed run: its blocks are in dedup_blocks.
type dedupRun struct {
	id         int64
	level      int
	keys       int64
	maxEventID int64 // every key of an event up to this id is in a run
	filter     *bloom
}

// Block layout: entries of 16 bytes, the hash then the event id, both
// little-endian, sorted by hash. A block holds blockEntries entries, more
// when the next entry has the same hash as the last (so entries with one
// hash never straddle two blocks and one block read finds them all).
const (
	blockEntries = 256
	entrySize    = 16
)

// sortKey maps an unsigned hash onto a signed integer with the same order,
// because SQLite compares integers as signed.
func sortKey(h uint64) int64 { return int64(h ^ 1<<63) }

// DefaultDedupMemtable is how many keys the memtable holds before it is
// written as a run: 262,144 keys, ~10 MiB.
const DefaultDedupMemtable = 1 << 18

const dedupFanout = 4

// dedupMetaKey names the SipHash key in meta.
const dedupMetaKey = "dedup_key"

// openDedup loads the dedup index: the SipHash key, every sealed run's
// filter, and the keys of events committed after the newest run, which it
// writes as runs where there are many (the first start after an upgrade).
// Runs left half-written by a crash are deleted.
func openDedup(ctx context.Context, w *sql.DB, flushAt int) (*dedupIndex, error) {
	d := &dedupIndex{flushAt: flushAt, fanout: dedupFanout, stepBlocks: mergeStepBlocks}
	if err := d.loadKey(ctx, w); err != nil {
		return nil, err
	}
	if err := d.load(ctx, w); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dedupIndex) loadKey(ctx context.Context, w *sql.DB) error {
	var fresh [16]byte
	rand.Read(fresh[:])
	if _, err := w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, dedupMetaKey, fresh[:]); err != nil {
		return fmt.Errorf("store: dedup key: %w", err)
	}
	var key []byte
	if err := w.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = $1`, dedupMetaKey).Scan(&key); err != nil {
		return fmt.Errorf("store: dedup key: %w", err)
	}
	if len(key) != 16 {
		return fmt.Errorf("store: dedup key has %d bytes, want 16", len(key))
	}
	d.k0, d.k1 = binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[8:])
	return nil
}

func (d *dedupIndex) load(ctx context.Context, w *sql.DB) error {
	d.runs, d.trash, d.flush, d.merge, d.frozen = nil, nil, nil, nil, nil
	d.active = newMemtable(1024)
	// A run still unsealed was being merged when the process stopped; its
	// inputs are still sealed, so it is dropped.
	if _, err := w.ExecContext(ctx, `DELETE FROM dedup_runs WHERE NOT sealed`); err != nil {
		return fmt.Errorf("store: dedup: drop unfinished runs: %w", err)
	}
	rows, err := w.QueryContext(ctx, `SELECT id, level, keys, max_event_id, filter FROM dedup_runs ORDER BY id`)
	if err != nil {
		return fmt.Errorf("store: dedup: load runs: %w", err)
	}
	var watermark int64
	for rows.Next() {
		r := &dedupRun{}
		var filter []byte
		if err := rows.Scan(&r.id, &r.level, &r.keys, &r.maxEventID, &filter); err != nil {
			rows.Close()
			return fmt.Errorf("store: dedup: load runs: %w", err)
		}
		if r.filter, err = unmarshalBloom(filter); err != nil {
			rows.Close()
			return fmt.Errorf("store: dedup: run %d: %w", r.id, err)
		}
		d.runs = append(d.runs, r)
		watermark = max(watermark, r.maxEventID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: dedup: load runs: %w", err)
	}
	// Blocks of runs that are gone (merged, or dropped above) are deleted
	// a chunk at a time by maintain.
	trash, err := w.QueryContext(ctx, `SELECT DISTINCT run FROM dedup_blocks WHERE run NOT IN (SELECT id FROM dedup_runs)`)
	if err != nil {
		return fmt.Errorf("store: dedup: find orphan blocks: %w", err)
	}
	for trash.Next() {
		var id int64
		if err := trash.Scan(&id); err != nil {
			trash.Close()
			return err
		}
		d.trash = append(d.trash, id)
	}
	trash.Close()
	if err := trash.Err(); err != nil {
		return err
	}
	return d.replay(ctx, w, watermark)
}

// replay reads the keys of events stored after the watermark: into the
// memtable, or straight into runs a memtable-full at a time.
func (d *dedupIndex) replay(ctx context.Context, w *sql.DB, after int64) error {
	for {
		mt := newMemtable(1024)
		n := 0
		rows, err := w.QueryContext(ctx, `SELECT id, project_id, message_id FROM events WHERE id > $1 ORDER BY id LIMIT $2`, after, d.flushAt)
		if err != nil {
			return fmt.Errorf("store: dedup: read keys after event %d: %w", after, err)
		}
		for rows.Next() {
			var id, project int64
			var msg string
			if err := rows.Scan(&id, &project, &msg); err != nil {
				rows.Close()
				return fmt.Errorf("store: dedup: read keys: %w", err)
			}
			n++
			after = id
			if IsServerMessageID(msg) {
				mt.maxEventID = max(mt.maxEventID, id)
				continue
			}
			mt.add(d.hash(project, msg), id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: dedup: read keys: %w", err)
		}
		if n < d.flushAt {
			d.active = mt
			return nil
		}
		if err := d.writeRun(ctx, w, mt); err != nil {
			return err
		}
	}
}

// IsServerMessageID reports whether a messageId was assigned by the server
// (srv_…). Such ids are unique by construction and never dedup keys.
func IsServerMessageID(id string) bool { return strings.HasPrefix(id, "srv_") }

func (d *dedupIndex) hash(project int64, id string) uint64 {
	if d.hashFn != nil {
		return d.hashFn(project, id)
	}
	var buf [128]byte
	b := binary.LittleEndian.AppendUint64(buf[:0], uint64(project))
	b = append(b, id...)
	return siphash.Hash(d.k0, d.k1, b)
}

// querier is what lookups read through: the group commit's transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// seen reports, for each key, whether an event with that key is stored,
// or appears earlier in keys (a retry inside one commit). keys[i].h is
// filled in. The caller holds mu.
func (d *dedupIndex) seen(ctx context.Context, q querier, keys []dedupKey, dup []bool) error {
	var cands []int64
	var batch map[uint64][]int // hash → earlier indexes in keys
	for i := range keys {
		k := &keys[i]
		k.h = d.hash(k.project, k.id)
		dup[i] = false
		for _, j := range batch[k.h] {
			if keys[j].project == k.project && keys[j].id == k.id {
				dup[i] = true
				break
			}
		}
		if dup[i] {
			continue
		}
		cands = d.active.candidates(k.h, cands[:0])
		if d.frozen != nil {
			cands = d.frozen.candidates(k.h, cands)
		}
		for _, r := range d.runs {
			if r.filter.has(k.h) {
				var err error
				if cands, err = d.probe(ctx, q, r.id, k.h, cands); err != nil {
					return err
				}
			}
		}
		for _, id := range cands {
			ok, err := confirm(ctx, q, id, k)
			if err != nil {
				return err
			}
			if ok {
				dup[i] = true
				break
			}
		}
		if !dup[i] {
			if batch == nil {
				batch = make(map[uint64][]int, len(keys))
			}
			batch[k.h] = append(batch[k.h], i)
		}
	}
	return nil
}

const probeSQL = `SELECT data FROM dedup_blocks WHERE run = $1 AND first_key <= $2 ORDER BY first_key DESC LIMIT 1`

// probe reads the block of run that would hold h and appends the event ids
// of its entries with hash h.
func (d *dedupIndex) probe(ctx context.Context, q querier, run int64, h uint64, out []int64) ([]int64, error) {
	var data []byte
	err := q.QueryRowContext(ctx, probeSQL, run, sortKey(h)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("store: dedup: probe run %d: %w", run, err)
	}
	n := len(data) / entrySize
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint64(data[m*entrySize:]) < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for ; lo < n && binary.LittleEndian.Uint64(data[lo*entrySize:]) == h; lo++ {
		out = append(out, int64(binary.LittleEndian.Uint64(data[lo*entrySize+8:])))
	}
	return out, nil
}

// confirm reports whether event id has key k. An event deleted since
// (retention, a deleted project) no longer holds the key.
func confirm(ctx context.Context, q querier, id int64, k *dedupKey) (bool, error) {
	var project int64
	var msg string
	err := q.QueryRowContext(ctx, `SELECT project_id, message_id FROM events WHERE id = $1`, id).Scan(&project, &msg)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: dedup: confirm event %d: %w", id, err)
	}
	return project == k.project && msg == k.id, nil
}

// committed adds the keys of newly committed events to the memtable, and
// freezes it for a flush when full. The caller holds mu.
func (d *dedupIndex) committed(keys []dedupKey, eventIDs []int64) {
	for i := range keys {
		d.active.add(keys[i].h, eventIDs[i])
	}
	if d.active.n >= d.flushAt && d.frozen == nil {
		d.frozen, d.active = d.active, newMemtable(d.flushAt)
		d.frozen.sortInBackground(d.inlineSort)
	}
}

// noteEventID keeps the memtable's watermark above events that are not
// keys (server-assigned ids), so a replay starts after them.
func (d *dedupIndex) noteEventID(id int64) {
	d.active.maxEventID = max(d.active.maxEventID, id)
}

// sortInBackground sorts a frozen memtable's entries and builds their
// filter off the writer goroutine; sorted delivers them. The memtable is
// immutable once frozen, so lookups read it meanwhile.
func (m *memtable) sortInBackground(inline bool) {
	m.sorted = make(chan sortedRun, 1)
	if inline {
		m.sorted <- m.sort()
		return
	}
	go func() { m.sorted <- m.sort() }()
}

type sortedRun struct {
	entries []entry
	filter  *bloom
}

func (m *memtable) sort() sortedRun {
	entries := make([]entry, 0, m.n)
	for h, id := range m.ids {
		entries = append(entries, entry{h, id})
		for _, more := range m.more[h] {
			entries = append(entries, entry{h, more})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.id, b.id))
	})
	filter := newBloom(len(entries))
	for _, e := range entries {
		filter.add(e.h)
	}
	return sortedRun{entries, filter}
}

// maintain does one bounded step of background work, in this order:
// write part of the frozen memtable as a run, advance a merge, delete a
// chunk of merged-away blocks. Each step writes at most stepBlocks blocks in
// its own short transaction on the writer connection, so group commits
// interleave with a long merge. It returns whether work remains.
func (d *dedupIndex) maintain(ctx context.Context, w *sql.DB) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	switch {
	case d.flush != nil:
		var sealed bool
		if sealed, err = d.step(ctx, w, d.flush); sealed {
			d.flush, d.frozen = nil, nil
		}
	case d.frozen != nil && d.frozenReady():
		d.flush, err = d.startBuild(ctx, w, 0, &sliceSource{entries: d.frozen.run.entries}, d.frozen.run.filter, int64(d.frozen.n), d.frozen.maxEventID, nil)
	case d.merge != nil:
		var sealed bool
		if sealed, err = d.step(ctx, w, d.merge); sealed {
			d.merge = nil
		}
	case d.mergeable() != nil:
		in := d.mergeable()
		var keys, maxEvent int64
		src := &mergeSource{}
		for _, r := range in {
			keys += r.keys
			maxEvent = max(maxEvent, r.maxEventID)
			src.cursors = append(src.cursors, &runCursor{run: r.id})
		}
		d.merge, err = d.startBuild(ctx, w, in[0].level+1, src, newBloom(int(keys)), keys, maxEvent, in)
		if err == nil {
			// Ids only grow (AUTOINCREMENT): a key whose event id is below
			// the oldest stored event's belongs to an event that retention
			// deleted, and a merge leaves it out.
			err = w.QueryRowContext(ctx, `SELECT COALESCE(min(id), 0) FROM events`).Scan(&d.merge.minLive)
		}
	case len(d.trash) > 0:
		err = d.deleteTrash(ctx, w)
	default:
		// Nothing to do until the frozen memtable's sort is done: report
		// no work, so the caller does not spin; its next call starts it.
		return false, nil
	}
	return d.hasWork(), err
}

func (d *dedupIndex) hasWork() bool {
	return d.flush != nil || d.frozen != nil || d.merge != nil || len(d.trash) > 0 || d.mergeable() != nil
}

// frozenReady reports whether the frozen memtable's background sort is
// done, taking its result.
func (d *dedupIndex) frozenReady() bool {
	if d.frozen.run.filter != nil {
		return true
	}
	select {
	case d.frozen.run = <-d.frozen.sorted:
		return true
	default:
		return false
	}
}

type entry struct {
	h  uint64
	id int64
}

// runBuild writes one run a step at a time, from a frozen memtable (level
// 0) or by merging runs into the next level. The run stays unsealed,
// invisible to lookups and dropped at start after a crash, until its last
// block is written; sealing it retires the merged inputs or the memtable.
type runBuild struct {
	out        int64 // the run's id
	level      int
	keys       int64
	maxEventID int64
	filter     *bloom
	addFilter  bool  // merges fill the filter as they go; flushes bring one
	minLive    int64 // entries of events below this id are dropped: those events were deleted
	written    int64
	src        entrySource
	bw         blockWriter // holds the partial block between steps
	inputs     []*dedupRun // merged runs, retired at seal
}

// entrySource yields a run's entries in hash order.
type entrySource interface {
	next(ctx context.Context, q querier) (entry, bool, error)
}

func (d *dedupIndex) startBuild(ctx context.Context, w *sql.DB, level int, src entrySource, filter *bloom, keys, maxEvent int64, inputs []*dedupRun) (*runBuild, error) {
	b := &runBuild{level: level, keys: keys, maxEventID: maxEvent, filter: filter, src: src, inputs: inputs, addFilter: inputs != nil}
	if err := w.QueryRowContext(ctx, `INSERT INTO dedup_runs (level, keys, max_event_id, filter, sealed) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		level, keys, maxEvent, []byte{}, false).Scan(&b.out); err != nil {
		return nil, fmt.Errorf("store: dedup: start run: %w", err)
	}
	b.bw.run = b.out
	return b, nil
}

// step writes up to stepBlocks blocks of b in one transaction, and seals
// the run when its source is used up.
func (d *dedupIndex) step(ctx context.Context, w *sql.DB, b *runBuild) (sealed bool, _ error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: dedup: write run %d: %w", b.out, err)
	}
	defer tx.Rollback()
	b.bw.tx = tx
	until := b.bw.blocks + d.stepBlocks
	done := false
	for b.bw.blocks < until {
		e, ok, err := b.src.next(ctx, tx)
		if err != nil {
			return false, err
		}
		if !ok {
			done = true
			break
		}
		if e.id < b.minLive {
			continue
		}
		b.written++
		if b.addFilter {
			b.filter.add(e.h)
		}
		if err := b.bw.add(ctx, e); err != nil {
			return false, err
		}
	}
	if !done {
		// The partial block stays in memory for the next step: only whole
		// blocks are written, so entries of one hash stay in one block.
		return false, tx.Commit()
	}
	if err := b.bw.flush(ctx); err != nil {
		return false, err
	}
	b.keys = b.written
	if _, err := tx.ExecContext(ctx, `UPDATE dedup_runs SET sealed = $1, filter = $2, keys = $3 WHERE id = $4`, true, b.filter.marshal(), b.keys, b.out); err != nil {
		return false, fmt.Errorf("store: dedup: seal run %d: %w", b.out, err)
	}
	for _, r := range b.inputs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_runs WHERE id = $1`, r.id); err != nil {
			return false, fmt.Errorf("store: dedup: retire run %d: %w", r.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: dedup: seal run %d: %w", b.out, err)
	}
	for _, r := range b.inputs {
		d.trash = append(d.trash, r.id)
	}
	d.runs = slices.DeleteFunc(d.runs, func(r *dedupRun) bool { return slices.Contains(b.inputs, r) })
	d.runs = append(d.runs, &dedupRun{id: b.out, level: b.level, keys: b.keys, maxEventID: b.maxEventID, filter: b.filter})
	return true, nil
}

// writeRun writes a memtable as a level-0 run at once (the replay at start).
func (d *dedupIndex) writeRun(ctx context.Context, w *sql.DB, mt *memtable) error {
	sr := mt.sort()
	b, err := d.startBuild(ctx, w, 0, &sliceSource{entries: sr.entries}, sr.filter, int64(len(sr.entries)), mt.maxEventID, nil)
	if err != nil {
		return err
	}
	for {
		sealed, err := d.step(ctx, w, b)
		if err != nil || sealed {
			return err
		}
	}
}

// sliceSource yields a sorted memtable's entries.
type sliceSource struct {
	entries []entry
	pos     int
}

func (s *sliceSource) next(context.Context, querier) (entry, bool, error) {
	if s.pos == len(s.entries) {
		return entry{}, false, nil
	}
	s.pos++
	return s.entries[s.pos-1], true, nil
}

// mergeSource yields the entries of several runs merged in hash order.
type mergeSource struct {
	cursors []*runCursor
}

func (m *mergeSource) next(ctx context.Context, q querier) (entry, bool, error) {
	var best *runCursor
	for _, rc := range m.cursors {
		if err := rc.fill(ctx, q); err != nil {
			return entry{}, false, err
		}
		if !rc.done && (best == nil || rc.peek().h < best.peek().h) {
			best = rc
		}
	}
	if best == nil {
		return entry{}, false, nil
	}
	e := best.peek()
	best.pos += entrySize
	return e, true, nil
}

// runCursor walks one sealed run's entries in hash order, a block at a time.
type runCursor struct {
	run     int64
	started bool
	last    int64 // first_key of the block in data
	data    []byte
	pos     int // offset of the next entry in data
	done    bool
}

// fill makes sure the cursor holds an entry, reading its next block when
// the current one is used up.
func (rc *runCursor) fill(ctx context.Context, q querier) error {
	for !rc.done && rc.pos >= len(rc.data) {
		var row *sql.Row
		if !rc.started {
			row = q.QueryRowContext(ctx, `SELECT first_key, data FROM dedup_blocks WHERE run = $1 ORDER BY first_key LIMIT 1`, rc.run)
		} else {
			row = q.QueryRowContext(ctx, `SELECT first_key, data FROM dedup_blocks WHERE run = $1 AND first_key > $2 ORDER BY first_key LIMIT 1`, rc.run, rc.last)
		}
		var first int64
		var data []byte
		err := row.Scan(&first, &data)
		if errors.Is(err, sql.ErrNoRows) {
			rc.done = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: dedup: read block of run %d: %w", rc.run, err)
		}
		rc.started, rc.last, rc.data, rc.pos = true, first, data, 0
	}
	return nil
}

func (rc *runCursor) peek() entry {
	return entry{binary.LittleEndian.Uint64(rc.data[rc.pos:]), int64(binary.LittleEndian.Uint64(rc.data[rc.pos+8:]))}
}

// blockWriter cuts sorted entries into blocks and inserts them.
type blockWriter struct {
	tx     *sql.Tx
	run    int64
	buf    []byte
	first  uint64
	last   uint64
	blocks int
}

func (bw *blockWriter) add(ctx context.Context, e entry) error {
	if n := len(bw.buf) / entrySize; n >= blockEntries && e.h != bw.last {
		if err := bw.flush(ctx); err != nil {
			return err
		}
	}
	if len(bw.buf) == 0 {
		bw.first = e.h
	}
	bw.buf = binary.LittleEndian.AppendUint64(bw.buf, e.h)
	bw.buf = binary.LittleEndian.AppendUint64(bw.buf, uint64(e.id))
	bw.last = e.h
	return nil
}

func (bw *blockWriter) flush(ctx context.Context) error {
	if len(bw.buf) == 0 {
		return nil
	}
	if _, err := bw.tx.ExecContext(ctx, `INSERT INTO dedup_blocks (run, first_key, data) VALUES ($1, $2, $3)`,
		bw.run, sortKey(bw.first), bw.buf); err != nil {
		return fmt.Errorf("store: dedup: write block of run %d: %w", bw.run, err)
	}
	bw.buf = bw.buf[:0]
	bw.blocks++
	return nil
}

// mergeable returns the oldest fanout runs of the lowest level that has
// that many, or nil when none has or a merge is under way.
func (d *dedupIndex) mergeable() []*dedupRun {
	if d.merge != nil {
		return nil
	}
	byLevel := map[int][]*dedupRun{}
	for _, r := range d.runs {
		byLevel[r.level] = append(byLevel[r.level], r)
	}
	for level := 0; level < 64; level++ {
		if rs := byLevel[level]; len(rs) >= d.fanout {
			return rs[:d.fanout]
		}
	}
	return nil
}

// mergeStepBlocks bounds the blocks one step writes (~128 KiB, 8,192
// keys): a step runs on the writer between two group commits, so its
// length is added to the latency of the requests queued behind it. 256
// blocks took 7–38 ms on a 2-core machine and put the p99 of batched
// ingestion above 50 ms; 32 take 1–5 ms. The fsync per step is paid by
// far fewer steps than commits (a 262,144-key memtable is 32 steps).
const mergeStepBlocks = 32

// deleteTrash deletes up to trashChunk blocks of merged-away runs, for
// the same reason a small number.
const trashChunk = 128

func (d *dedupIndex) deleteTrash(ctx context.Context, w *sql.DB) error {
	run := d.trash[0]
	res, err := w.ExecContext(ctx, `DELETE FROM dedup_blocks WHERE id IN (SELECT id FROM dedup_blocks WHERE run = $1 LIMIT $2)`, run, trashChunk)
	if err != nil {
		return fmt.Errorf("store: dedup: delete blocks of run %d: %w", run, err)
	}
	if n, _ := res.RowsAffected(); n < trashChunk {
		d.trash = d.trash[1:]
	}
	return nil
}
