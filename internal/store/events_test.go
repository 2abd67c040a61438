package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

func TestWriteBatchDedupCountsAndProfiles(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		p := storetest.Project(t, s, "web")
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

		b := &store.Batch{Events: []store.EventRow{
			{ProjectID: p.ID, MessageID: "m1", Type: "identify", UserID: "u1", Timestamp: now, ReceivedAt: now, Verification: "verified", Traits: []byte(`{"plan":"free","email":"a@b.c"}`)},
			{ProjectID: p.ID, MessageID: "m2", Type: "track", Event: "Signed Up", UserID: "u1", Timestamp: now, ReceivedAt: now, Verification: "missing_token", Properties: []byte(`{"a":1}`)},
			{ProjectID: p.ID, MessageID: "m1", Type: "identify", UserID: "u1", Timestamp: now, ReceivedAt: now, Verification: "verified", Traits: []byte(`{"plan":"hacked"}`)},
		}}
		inserted := make([]bool, len(b.Events))
		if err := s.WriteBatch(ctx, b, inserted); err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, true, false}; inserted[0] != want[0] || inserted[1] != want[1] || inserted[2] != want[2] {
			t.Errorf("inserted = %v, want %v", inserted, want)
		}
		// A retry in a later commit is also ignored and not counted again.
		b2 := &store.Batch{Events: []store.EventRow{
			{ProjectID: p.ID, MessageID: "m2", Type: "track", Event: "Signed Up", UserID: "u1", Timestamp: now, ReceivedAt: now, Verification: "missing_token"},
			{ProjectID: p.ID, MessageID: "m3", Type: "identify", UserID: "u1", Timestamp: now, ReceivedAt: now.Add(time.Minute), Verification: "signature_mismatch", Traits: []byte(`{"plan":"pro","email":null}`)},
		}}
		inserted = make([]bool, 2)
		if err := s.WriteBatch(ctx, b2, inserted); err != nil {
			t.Fatal(err)
		}
		if inserted[0] || !inserted[1] {
			t.Errorf("inserted = %v, want [false true]", inserted)
		}

		traits, verified := s.ProfileForTest(ctx, t, p.ID, "u1")
		if !jsonEqual(t, traits, `{"plan":"pro"}`) || verified {
			t.Errorf("profile = %s verified=%v, want {\"plan\":\"pro\"} unverified", traits, verified)
		}
		counts := s.CountsForTest(ctx, t, p.ID)
		want := map[string]int64{"accepted/": 3, "report_only/missing_token": 1, "report_only/signature_mismatch": 1}
		if len(counts) != len(want) {
			t.Errorf("counts = %v, want %v", counts, want)
		}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("count %s = %d, want %d", k, counts[k], n)
			}
		}
	})
}

func TestPruneRejections(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		p := storetest.Project(t, s, "web")
		q := storetest.Project(t, s, "other")
		var rows []store.RejectionRow
		for i := range 50 {
			rows = append(rows, store.RejectionRow{ProjectID: p.ID, At: time.Now(), Endpoint: "/events", BatchIndex: -1, EventType: "track", Reason: "missing_token", Enforced: i%2 == 0})
		}
		rows = append(rows, store.RejectionRow{ProjectID: q.ID, At: time.Now(), Endpoint: "/events/batch", BatchIndex: 3, EventType: "identify", Reason: "signature_mismatch"})
		if err := s.WriteBatch(ctx, &store.Batch{Rejections: rows}, nil); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneRejections(ctx, p.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if n != 40 {
			t.Errorf("pruned %d, want 40", n)
		}
		if n, _ := s.PruneRejections(ctx, q.ID, 10); n != 0 {
			t.Errorf("pruned %d of the other project, want 0", n)
		}
	})
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
