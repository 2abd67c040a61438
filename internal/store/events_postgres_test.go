package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestInstancesRetryingInOppositeOrders: two instances on one PostgreSQL
// commit the same messageIds at once, one in the order the client sent
// them and the other reversed (a batch and its retry reaching two
// instances). Each key's insert locks it in the unique index until commit;
// inserted in arrival order, such pairs deadlock (40P01, answered 503).
// Every commit succeeds, and each event is stored, and reported new, once.
func TestInstancesRetryingInOppositeOrders(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	ctx := context.Background()
	a := storetest.Postgres.New(t)
	b := storetest.Reopen(t, a)
	p := storetest.Project(t, a, "web")
	now := time.Now()
	total := 0
	for round := range 30 {
		rows := make([]store.EventRow, 64)
		for i := range rows {
			rows[i] = trackRow(p.ID, fmt.Sprintf("r%02d-%s", round, uuid4()), now)
		}
		rev := slices.Clone(rows)
		slices.Reverse(rev)
		total += len(rows)
		var wg sync.WaitGroup
		ins := [2][]bool{make([]bool, len(rows)), make([]bool, len(rows))}
		errs := [2]error{}
		for k, st := range []*store.Store{a, b} {
			batch := rows
			if k == 1 {
				batch = rev
			}
			wg.Go(func() { errs[k] = st.WriteBatch(ctx, &store.Batch{Events: batch}, ins[k]) })
		}
		wg.Wait()
		for k, err := range errs {
			if err != nil {
				t.Fatalf("round %d, instance %d: %v", round, k, err)
			}
		}
		for i := range rows {
			if ins[0][i] == ins[1][len(rows)-1-i] {
				t.Fatalf("round %d: %s reported new by %v instances", round, rows[i].MessageID, map[bool]string{true: "both", false: "neither"}[ins[0][i]])
			}
		}
	}
	if n := countEvents(t, a, p.ID); n != int64(total) {
		t.Errorf("stored %d events, want %d", n, total)
	}
}

// TestInstancesDoNotQueueOnCounters: the group commits of two instances
// add to the same per-minute counters (events accepted this minute). With
// one row per counter, an instance's commit waited for the row lock of the
// other's commit in progress, and the instances' commits ran one after
// another. Each process adds to its own shard: a commit goes through while
// another instance holds its counter rows, and the dashboard's counts add
// the shards up. Two instances on the same shard still queue (shown, so
// the test can tell), and stay exact.
func TestInstancesDoNotQueueOnCounters(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	ctx := context.Background()
	a := storetest.Postgres.New(t)
	b := storetest.Reopen(t, a)
	p := storetest.Project(t, a, "web")
	a.SetCountShardForTest(1)
	b.SetCountShardForTest(2)
	commit := func(s *store.Store, timeout time.Duration) error {
		rows := []store.EventRow{trackRow(p.ID, uuid4(), time.Now())}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return s.WriteBatch(ctx, &store.Batch{Events: rows}, make([]bool, 1))
	}

	release := a.HoldCountsForTest(ctx, t, p.ID)
	if err := commit(b, 5*time.Second); err != nil {
		t.Errorf("a commit of the other instance while this one holds its counters: %v, want it through at once", err)
	}
	release()

	b.SetCountShardForTest(1)
	release = a.HoldCountsForTest(ctx, t, p.ID)
	if err := commit(b, 300*time.Millisecond); err == nil {
		t.Error("on the same shard, a commit went through while another transaction held the counter: the test above shows nothing")
	}
	release()
	if err := commit(b, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	if got := a.CountsForTest(ctx, t, p.ID)["accepted/"]; got != 4 {
		t.Errorf("accepted this minute, summed over the shards = %d, want 4 (2 held, 2 committed)", got)
	}
	hours, err := a.HourlyCounts(ctx, p.ID, time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, h := range hours {
		sum += h.Accepted
	}
	if sum != 4 {
		t.Errorf("the dashboard's hourly counts add up to %d accepted, want 4", sum)
	}
}
