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
