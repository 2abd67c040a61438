package store_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestSetupLinks: valid until they expire or an admin is created.
func TestSetupLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
		if err := s.CreateSetupLink(ctx, h1[:], now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSetupLink(ctx, h2[:], now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		valid := func(h [32]byte, at time.Time) bool {
			ok, err := s.SetupLinkValid(ctx, h[:], at)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !valid(h1, now) || !valid(h2, now) {
			t.Error("fresh links are not valid")
		}
		if valid(h2, now.Add(time.Minute)) || !valid(h1, now.Add(time.Minute)) {
			t.Error("a link is valid past its expiry, or the other expired with it")
		}
		if n, err := s.SweepExpired(ctx, now.Add(time.Minute), 100); err != nil || n != 1 {
			t.Errorf("sweep = %d, %v; want the expired link", n, err)
		}
		other := sha256.Sum256([]byte("three"))
		if valid(other, now) {
			t.Error("an unknown token is valid")
		}
		if _, err := s.CreateAdmin(ctx, store.NewAdmin{Email: "a@example.com", PasswordHash: "h", At: now, Actor: "cli"}); err != nil {
			t.Fatal(err)
		}
		if valid(h1, now) {
			t.Error("a setup link still works once an admin exists")
		}
	})
}

// TestThrottleCountsRacingAttemptsOnce: attempts on one key from many
// connections at once (as from several instances) are each counted once:
// exactly the limit pass, the rest are refused, and one refusal is the
// first.
func TestThrottleCountsRacingAttemptsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		other := storetest.Reopen(t, s)
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		const n, limit = 40, 7
		takes := make([]store.ThrottleTake, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			st := s
			if i%2 == 1 {
				st = other
			}
			wg.Go(func() {
				takes[i], errs[i] = st.TakeThrottle(ctx, "account", "ada@example.com", now, time.Minute, limit)
			})
		}
		wg.Wait()
		passed, first := 0, 0
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !takes[i].Refused {
				passed++
			}
			if takes[i].FirstRefusal {
				first++
			}
		}
		if passed != limit || first != 1 {
			t.Errorf("%d racing attempts: %d passed, %d first refusals; want %d and 1", n, passed, first, limit)
		}
	})
}
