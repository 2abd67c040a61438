package store

import (
	"context"
	"testing"
)

// DedupStats describes the dedup index, for tests.
type DedupStats struct {
	Memtable int   // keys in memory (active and frozen)
	Levels   []int // runs per level
	Keys     int64 // keys in sealed runs
	Merging  bool
	Trash    int
}

// TuneDedupForTest shrinks the dedup index's memtable, fanout and merge
// steps, and optionally replaces its hash (to force collisions), then
// reloads it from the database as a restart would.
func (s *Store) TuneDedupForTest(t testing.TB, flushAt, fanout int, hash func(project int64, id string) uint64) {
	t.Helper()
	d, err := s.dedupIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushAt, d.fanout, d.hashFn, d.stepBlocks, d.inlineSort = flushAt, fanout, hash, 1, true
	if err := d.load(context.Background(), s.w); err != nil {
		t.Fatal(err)
	}
}

// DedupStatsForTest returns the dedup index's shape.
func (s *Store) DedupStatsForTest(t testing.TB) DedupStats {
	t.Helper()
	d, err := s.dedupIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := DedupStats{Memtable: d.active.n, Merging: d.merge != nil, Trash: len(d.trash)}
	if d.frozen != nil {
		st.Memtable += d.frozen.n
	}
	for _, r := range d.runs {
		for len(st.Levels) <= r.level {
			st.Levels = append(st.Levels, 0)
		}
		st.Levels[r.level]++
		st.Keys += r.keys
	}
	return st
}
