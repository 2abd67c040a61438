package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// TestLimiterKeepsWhomItLimits: however many other keys arrive, a key that
// is being limited stays limited (the map is never wiped, and a limited
// entry never evicted); new keys past the bound share one bucket.
func TestLimiterKeepsWhomItLimits(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := newLimiter(1) // 1 event/s, burst 2
	l.max = 100
	if ok, _ := l.allow("victim-of-its-own-flood", 500, now); !ok {
		t.Fatal("a full bucket refused a batch")
	}
	for i := range 10_000 {
		l.allow(fmt.Sprintf("filler-%d", i), 1, now)
		if len(l.m) > l.max {
			t.Fatalf("map grew to %d past %d", len(l.m), l.max)
		}
	}
	if ok, wait := l.allow("victim-of-its-own-flood", 1, now.Add(10*time.Second)); ok || wait < 400*time.Second {
		t.Errorf("after 10,000 other keys the limited key was let through (ok %v, wait %s): its debt of 498 events was forgotten", ok, wait)
	}
	// Refilled entries are dropped, so new keys get their own bucket again.
	later := now.Add(time.Hour)
	if ok, _ := l.allow("newcomer", 2, later); !ok {
		t.Error("a newcomer was refused after the fillers' buckets refilled")
	}
	if _, own := l.m["newcomer"]; !own {
		t.Error("the newcomer shares the overflow bucket although the fillers' buckets are full again")
	}
}

// TestLimiterClockNeverRunsBack: requests pass the limiter the time they
// were received, not always in that order (a slow body, a held request).
// One passing an earlier time than the last must not move the buckets'
// clocks back, or the next request is credited the same seconds again.
func TestLimiterClockNeverRunsBack(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := newLimiter(10) // 10 events/s, burst 20
	if ok, _ := l.allow("k", 10, t0.Add(10*time.Second)); !ok {
		t.Fatal("a full bucket refused half its burst")
	}
	if ok, _ := l.allow("k", 5, t0); !ok { // received 10 s ago, its body just arrived
		t.Fatal("a late request refused with 10 events left")
	}
	if ok, _ := l.allow("k", 20, t0.Add(10*time.Second+time.Millisecond)); ok {
		t.Error("a late request from 10 s ago refilled the bucket: 35 events let through within a millisecond")
	}

	r := newLimiter(1000) // the refusal budget: bytes/s, burst 2,000
	r.charge("a", 12_000, t0.Add(10*time.Second))
	r.charge("a", 1, t0)
	if d := r.debt("a", t0.Add(10*time.Second)); d < 9*time.Second {
		t.Errorf("a late charge forgave the debt: %s left, want 10 s", d)
	}
}

// TestRefusalDebtHoldsOnlyDebtors: the refusal budget (charge, debt) keeps
// the debt of an address however many others are charged, and never holds
// back an address that was not charged itself, even with the map full of
// debtors.
func TestRefusalDebtHoldsOnlyDebtors(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := newLimiter(1000) // 1,000 bytes/s, burst 2,000
	l.max = 100
	if d := l.debt("never-charged", now); d != 0 {
		t.Fatalf("debt of an address never charged: %s", d)
	}
	l.charge("poisoner", 12_000, now) // 10 s of debt past the burst
	if d := l.debt("poisoner", now); d < 9*time.Second || d > 11*time.Second {
		t.Fatalf("debt after 12,000 bytes: %s, want 10 s", d)
	}
	for i := range 10_000 {
		l.charge(fmt.Sprintf("filler-%d", i), 5_000, now)
		if len(l.m) > l.max {
			t.Fatalf("map grew to %d past %d", len(l.m), l.max)
		}
	}
	if d := l.debt("poisoner", now.Add(time.Second)); d < 8*time.Second {
		t.Errorf("after 10,000 other addresses the poisoner owes %s: its debt was forgotten", d)
	}
	if d := l.debt("valid-client", now); d != 0 {
		t.Errorf("with the map full of debtors, an address never charged is held %s", d)
	}
	if d := l.debt("filler-9999", now); d != 0 {
		t.Errorf("an address charged while the map was full is held %s: it would share others' debt", d)
	}
	if d := l.debt("poisoner", now.Add(11*time.Second)); d != 0 {
		t.Errorf("debt left after it was paid: %s", d)
	}
}

// TestKeyCacheFloodKeepsKnownKeys: a flood of distinct unknown keys never
// drops a known key from the cache, so the project's own events cost no
// store read however long the flood lasts.
func TestKeyCacheFloodKeepsKnownKeys(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.CreateProject(context.Background(), "default", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := newKeyCache(st, time.Hour, time.Now)
	c.max = 50
	if _, err := c.lookup(context.Background(), p.PublicKey); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		c.lookup(context.Background(), fmt.Sprintf("pk_live_unknown%06d", i))
		if len(c.m) > c.max {
			t.Fatalf("cache grew to %d past %d", len(c.m), c.max)
		}
	}
	if e, ok := c.m[p.PublicKey]; !ok || e.p == nil {
		t.Error("the known key was dropped by a flood of unknown ones")
	}
}
