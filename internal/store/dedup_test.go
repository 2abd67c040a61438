package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func trackRow(project int64, id string, at time.Time) store.EventRow {
	return store.EventRow{ProjectID: project, MessageID: id, Type: "track", Event: "E", UserID: "u",
		Timestamp: at, ReceivedAt: at, Verification: "verified"}
}

// write commits rows as one group commit, runs the dedup index's
// maintenance to completion as the writer would between commits, and
// returns which rows were new.
func write(t *testing.T, s *store.Store, rows []store.EventRow) []bool {
	t.Helper()
	ctx := context.Background()
	inserted := make([]bool, len(rows))
	if err := s.WriteBatch(ctx, &store.Batch{Events: rows}, inserted); err != nil {
		t.Fatal(err)
	}
	for {
		more, err := s.MaintainIngest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return inserted
		}
	}
}

func countEvents(t *testing.T, s *store.Store, project int64) int64 {
	t.Helper()
	n, err := s.CountEvents(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDedupAcrossRunsAndMerges drives the index through many memtable
// flushes and merges (a tiny memtable and fanout), then replays every
// acknowledged id, old and new, mixed with fresh ones: each retry is
// answered as not new and stored once.
func TestDedupAcrossRunsAndMerges(t *testing.T) {
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	other := storetest.Project(t, s, "other")
	s.TuneDedupForTest(t, 50, 3, nil)
	now := time.Now()

	var acked []string
	for range 40 {
		rows := make([]store.EventRow, 30)
		for i := range rows {
			rows[i] = trackRow(p.ID, uuid4(), now)
			acked = append(acked, rows[i].MessageID)
		}
		for i, ok := range write(t, s, rows) {
			if !ok {
				t.Fatalf("fresh id %s reported as a retry", rows[i].MessageID)
			}
		}
	}
	st := s.DedupStatsForTest(t)
	if len(st.Levels) < 3 {
		t.Fatalf("dedup levels = %v, want merges into at least level 2", st.Levels)
	}
	t.Logf("after %d events: %+v", len(acked), st)

	// Replays of every acknowledged id, in random order and mixed with new
	// ids and with the same ids under another project (not retries).
	mrand.Shuffle(len(acked), func(i, j int) { acked[i], acked[j] = acked[j], acked[i] })
	fresh := 0
	for off := 0; off < len(acked); off += 97 {
		var rows []store.EventRow
		var want []bool
		for _, id := range acked[off:min(off+97, len(acked))] {
			rows = append(rows, trackRow(p.ID, id, now))
			want = append(want, false)
		}
		rows = append(rows, trackRow(p.ID, uuid4(), now), trackRow(other.ID, rows[0].MessageID, now))
		want = append(want, true, true)
		fresh += 2
		got := write(t, s, rows)
		for i := range rows {
			if got[i] != want[i] {
				t.Fatalf("row %d (%s, project %d): inserted = %v, want %v", i, rows[i].MessageID, rows[i].ProjectID, got[i], want[i])
			}
		}
	}
	if got, want := countEvents(t, s, p.ID)+countEvents(t, s, other.ID), int64(len(acked)+fresh); got != want {
		t.Errorf("stored events = %d, want %d", got, want)
	}
}

// TestDedupHashCollisions forces every key onto three hash values: distinct
// events are never taken for retries (each candidate is confirmed on the
// stored event), and true retries still are.
func TestDedupHashCollisions(t *testing.T) {
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	s.TuneDedupForTest(t, 40, 2, func(project int64, id string) uint64 { return uint64(len(id)%3) << 62 })
	now := time.Now()
	var ids []string
	for b := range 10 {
		rows := make([]store.EventRow, 25)
		for i := range rows {
			rows[i] = trackRow(p.ID, fmt.Sprintf("m-%d-%d", b, i), now)
			ids = append(ids, rows[i].MessageID)
		}
		for i, ok := range write(t, s, rows) {
			if !ok {
				t.Fatalf("distinct id %s taken for a retry", rows[i].MessageID)
			}
		}
	}
	var rows []store.EventRow
	for _, id := range ids {
		rows = append(rows, trackRow(p.ID, id, now))
	}
	for i, ok := range write(t, s, rows) {
		if ok {
			t.Fatalf("retry of %s stored again", rows[i].MessageID)
		}
	}
	if got := countEvents(t, s, p.ID); got != int64(len(ids)) {
		t.Errorf("stored events = %d, want %d", got, len(ids))
	}
}

// TestDedupSurvivesRestart closes the store with keys in runs, in a merge's
// half-written output and in the memtable only, reopens it, and replays
// every acknowledged id.
func TestDedupSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), store.FileName)
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreateProject(ctx, "web", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.TuneDedupForTest(t, 64, 2, nil)
	now := time.Now()
	var acked []string
	send := func(s *store.Store, n int) {
		rows := make([]store.EventRow, n)
		for i := range rows {
			rows[i] = trackRow(p.ID, uuid4(), now)
			acked = append(acked, rows[i].MessageID)
		}
		inserted := make([]bool, n)
		if err := s.WriteBatch(ctx, &store.Batch{Events: rows}, inserted); err != nil {
			t.Fatal(err)
		}
	}
	for range 12 {
		send(s, 50)
		if _, err := s.MaintainIngest(ctx); err != nil { // one step only: a merge is left half done
			t.Fatal(err)
		}
	}
	send(s, 20) // only in the memtable
	before := s.DedupStatsForTest(t)
	t.Logf("before restart: %+v", before)
	if before.Memtable == 0 {
		t.Fatal("nothing left in the memtable: the test does not cover replay")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.TuneDedupForTest(t, 64, 2, nil)
	after := s.DedupStatsForTest(t)
	t.Logf("after restart: %+v", after)
	var rows []store.EventRow
	for _, id := range acked {
		rows = append(rows, trackRow(p.ID, id, now))
	}
	for i, ok := range write(t, s, rows) {
		if ok {
			t.Fatalf("retry of acknowledged %s stored again after restart", rows[i].MessageID)
		}
	}
	if got := countEvents(t, s, p.ID); got != int64(len(acked)) {
		t.Errorf("stored events = %d, want %d", got, len(acked))
	}
}

// TestServerIDsAreNeverDedupKeys: events the server named (srv_…) are all
// stored, even under one id, and never recorded as keys.
func TestServerIDsAreNeverDedupKeys(t *testing.T) {
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	now := time.Now()
	rows := []store.EventRow{trackRow(p.ID, "srv_same", now), trackRow(p.ID, "srv_same", now)}
	for i, ok := range write(t, s, rows) {
		if !ok {
			t.Errorf("server-named event %d not stored", i)
		}
	}
	if st := s.DedupStatsForTest(t); st.Memtable != 0 {
		t.Errorf("memtable holds %d keys, want 0: server ids are not keys", st.Memtable)
	}
}

// TestDedupAfterRetention: keys of events that retention deleted leave the
// runs at the next merge; a retry of such an event is stored again (it is
// older than the retention window), one of a kept event still is not.
func TestDedupAfterRetention(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	s.TuneDedupForTest(t, 50, 2, nil)
	old, now := time.Now().Add(-48*time.Hour), time.Now()
	var oldIDs, newIDs []string
	for i := range 8 {
		at, ids := old, &oldIDs
		if i >= 4 {
			at, ids = now, &newIDs
		}
		rows := make([]store.EventRow, 50)
		for j := range rows {
			rows[j] = trackRow(p.ID, uuid4(), at)
			*ids = append(*ids, rows[j].MessageID)
		}
		write(t, s, rows)
	}
	var after int64
	for {
		_, last, err := s.DeleteEventsBefore(ctx, now.Add(-time.Hour), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 || last == after {
			break
		}
		after = last
	}
	before := s.DedupStatsForTest(t).Keys
	for range 8 { // as many keys again: the runs holding the deleted keys are merged
		rows := make([]store.EventRow, 50)
		for j := range rows {
			rows[j] = trackRow(p.ID, uuid4(), now)
			newIDs = append(newIDs, rows[j].MessageID)
		}
		write(t, s, rows)
	}
	st := s.DedupStatsForTest(t)
	t.Logf("keys in runs: %d before the merges, %+v after", before, st)
	if st.Keys >= int64(len(oldIDs)+len(newIDs)) {
		t.Errorf("runs hold %d keys, want the %d deleted events' keys dropped", st.Keys, len(oldIDs))
	}
	got := write(t, s, []store.EventRow{trackRow(p.ID, oldIDs[0], now), trackRow(p.ID, newIDs[0], now)})
	if !got[0] || got[1] {
		t.Errorf("inserted = %v, want [true false]: a deleted event's retry is new, a kept one's is not", got)
	}
}
