package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

func TestCreateFirstAdminOnlyOnce(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

		// Two setups racing: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, email := range []string{"a@example.com", "b@example.com"} {
			wg.Go(func() {
				_, errs[i] = s.CreateFirstAdmin(ctx, store.NewAdmin{Email: email, PasswordHash: "h", At: now, Actor: "setup"})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("CreateFirstAdmin: %v, want nil or ErrConflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d setups won, want 1 (errs %v)", won, errs)
		}
		if n, _ := s.CountAdmins(ctx); n != 1 {
			t.Errorf("CountAdmins = %d, want 1", n)
		}
		// CreateAdmin (the CLI) adds more; a taken email is a conflict.
		if _, err := s.CreateAdmin(ctx, store.NewAdmin{Email: "c@example.com", PasswordHash: "h", At: now, Actor: "cli"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAdmin(ctx, store.NewAdmin{Email: "c@example.com", PasswordHash: "h", At: now, Actor: "cli"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate email: err = %v, want ErrConflict", err)
		}
		log, err := s.AuditLog(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].Action != store.ActionAdminCreate || log[0].Actor != "cli" || log[1].Actor != "setup" {
			t.Errorf("audit = %+v, want two admin.create entries", log)
		}
	})
}

func TestSessionsAndPasswordChange(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		a, err := s.CreateAdmin(ctx, store.NewAdmin{Email: "a@example.com", PasswordHash: "old", At: now, Actor: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"s1", "s2", "s3"} {
			if err := s.CreateSession(ctx, store.Session{IDHash: h, AdminID: a.ID, CreatedAt: now, LastSeenAt: now, IP: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
		}
		se, got, err := s.SessionByHash(ctx, "s2")
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "a@example.com" || se.AdminID != a.ID || !se.CreatedAt.Equal(now) || se.IP != "192.0.2.1" {
			t.Errorf("SessionByHash = %+v %+v", se, got)
		}
		later := now.Add(time.Hour)
		if err := s.TouchSession(ctx, "s2", later); err != nil {
			t.Fatal(err)
		}
		if se, _, _ := s.SessionByHash(ctx, "s2"); !se.LastSeenAt.Equal(later) {
			t.Errorf("LastSeenAt = %v, want %v", se.LastSeenAt, later)
		}

		// A password change keeps only the session that made it.
		if err := s.ChangePassword(ctx, a.ID, "new", "s2", later, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		for h, want := range map[string]bool{"s1": false, "s2": true, "s3": false} {
			_, _, err := s.SessionByHash(ctx, h)
			if (err == nil) != want {
				t.Errorf("session %s after password change: err = %v, want alive=%v", h, err, want)
			}
		}
		if a2, _ := s.AdminByID(ctx, a.ID); a2.PasswordHash != "new" || !a2.PasswordChangedAt.Equal(later) {
			t.Errorf("admin after change = %+v", a2)
		}

		if err := s.DeleteSession(ctx, "s2"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByHash(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted session: err = %v, want ErrNotFound", err)
		}

		// Pruning: idle or too old.
		s.CreateSession(ctx, store.Session{IDHash: "idle", AdminID: a.ID, CreatedAt: now, LastSeenAt: now})
		s.CreateSession(ctx, store.Session{IDHash: "fresh", AdminID: a.ID, CreatedAt: later, LastSeenAt: later})
		n, err := s.PruneSessions(ctx, now.Add(time.Minute), now.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PruneSessions = %d, %v; want 1", n, err)
		}
		if _, _, err := s.SessionByHash(ctx, "fresh"); err != nil {
			t.Errorf("fresh session pruned: %v", err)
		}
	})
}
