package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// TestServingCheckpointsBesideTheWriter: once a server ingests
// (StartIngest), the WAL is copied into the database file by the
// checkpointer, not by the writer's commits: a few MiB of events, far below
// the writer's own bound (64 MiB of WAL), reach the database file within
// moments, and the WAL is reused from its start instead of growing; a
// process that only opened the store (the CLI) keeps SQLite's defaults.
func TestServingCheckpointsBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), store.FileName)
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.CreateProject(ctx, "web", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartIngest(ctx, store.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	size := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	before := size(path)
	now := time.Now()
	// About 0.9 MiB of WAL a round, in commits of 500: fewer pages than
	// SQLite's default automatic checkpoint (1,000).
	var walSizes []int64
	for round := range 3 {
		for range 4 {
			rows := make([]store.EventRow, 500)
			for i := range rows {
				rows[i] = trackRow(p.ID, uuid4(), now)
				rows[i].Properties = []byte(`{"path":"/pricing","plan":"startup","padding":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`)
			}
			if err := s.WriteBatch(ctx, &store.Batch{Events: rows}, make([]bool, len(rows))); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for size(path) <= before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if size(path) <= before {
			t.Fatalf("round %d: the database file stayed at %d bytes for 10 s after the commits: nothing checkpointed the WAL (%d bytes)", round, before, size(path+"-wal"))
		}
		walSizes = append(walSizes, size(path+"-wal"))
		// The checkpointer's next passes finish the copy; the next
		// round's first commit then starts the WAL over.
		time.Sleep(300 * time.Millisecond)
		before = size(path)
	}
	t.Logf("WAL file after each round: %v bytes", walSizes)
	// A WAL that was never started over would hold all three rounds.
	if walSizes[2] > walSizes[0]*3/2 {
		t.Errorf("WAL file after each round: %v bytes: it grows instead of being reused", walSizes)
	}
	if n := countEvents(t, s, p.ID); n != 6000 {
		t.Errorf("stored %d events, want 6000", n)
	}
}
