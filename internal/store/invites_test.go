package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

var adminsNow = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func mustAdmin(t *testing.T, s *store.Store, email string) store.Admin {
	t.Helper()
	a, err := s.CreateAdmin(context.Background(), store.NewAdmin{Email: email, PasswordHash: "h", At: adminsNow, Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustSession(t *testing.T, s *store.Store, a store.Admin, id string) {
	t.Helper()
	if err := s.CreateSession(context.Background(), store.Session{IDHash: id, AdminID: a.ID, CreatedAt: adminsNow, LastSeenAt: adminsNow}); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveAdminEndsSessionsAndNeverTheLast(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ada, bob := mustAdmin(t, s, "ada@example.com"), mustAdmin(t, s, "bob@example.com")
		mustSession(t, s, ada, "ada-1")
		mustSession(t, s, bob, "bob-1")
		mustSession(t, s, bob, "bob-2")
		c := store.Audit{Actor: "ada@example.com", IP: "192.0.2.1", At: adminsNow}

		if _, err := s.RemoveAdmin(ctx, "nobody@example.com", c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removing an unknown admin: err = %v, want ErrNotFound", err)
		}
		n, err := s.RemoveAdmin(ctx, "bob@example.com", c)
		if err != nil || n != 2 {
			t.Fatalf("RemoveAdmin(bob) = %d, %v; want 2 sessions ended", n, err)
		}
		for _, id := range []string{"bob-1", "bob-2"} {
			if _, _, err := s.SessionByHash(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s of the removed admin: err = %v, want ErrNotFound", id, err)
			}
		}
		// The last admin stays, with its session.
		if _, err := s.RemoveAdmin(ctx, "ada@example.com", c); !errors.Is(err, store.ErrLastAdmin) {
			t.Errorf("removing the last admin: err = %v, want ErrLastAdmin", err)
		}
		if _, _, err := s.SessionByHash(ctx, "ada-1"); err != nil {
			t.Errorf("the refused removal ended the last admin's session: %v", err)
		}
		admins, err := s.ListAdmins(ctx)
		if err != nil || len(admins) != 1 || admins[0].Email != "ada@example.com" {
			t.Errorf("ListAdmins = %+v, %v; want ada alone", admins, err)
		}
		log, _ := s.AuditLog(ctx, 0, 1)
		if len(log) != 1 || log[0].Action != store.ActionAdminRemove || log[0].Actor != "ada@example.com" ||
			log[0].Detail != "email=bob@example.com sessions ended=2" || log[0].IP != "192.0.2.1" {
			t.Errorf("newest audit entry = %+v, want bob's removal by ada", log)
		}
	})
}

// TestRemoveAdminRaceLeavesOne: two admins remove each other at the same
// moment, through two handles (two instances, or the CLI beside the
// server), many times over: exactly one removal wins every time.
func TestRemoveAdminRaceLeavesOne(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		other := storetest.Reopen(t, s)
		for round := range 20 {
			a, b := fmt.Sprintf("a%d@example.com", round), fmt.Sprintf("b%d@example.com", round)
			mustAdmin(t, s, a)
			mustAdmin(t, s, b)
			if round > 0 { // leave exactly these two
				survivors, _ := s.ListAdmins(ctx)
				for _, x := range survivors {
					if x.Email != a && x.Email != b {
						if _, err := s.RemoveAdmin(ctx, x.Email, store.Audit{Actor: "t", At: adminsNow}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = s.RemoveAdmin(ctx, b, store.Audit{Actor: a, At: adminsNow}) })
			wg.Go(func() { _, errs[1] = other.RemoveAdmin(ctx, a, store.Audit{Actor: b, At: adminsNow}) })
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrLastAdmin):
					t.Fatalf("round %d: RemoveAdmin: %v, want nil or ErrLastAdmin", round, err)
				}
			}
			if n, _ := s.CountAdmins(ctx); won != 1 || n != 1 {
				t.Fatalf("round %d: %d removals won, %d admins left; want 1 and 1 (errs %v)", round, won, n, errs)
			}
		}
	})
}

// TestRemovedAdminsInvitationsEnd: an admin who invites another address
// of their own and is then removed must not get back in through it.
func TestRemovedAdminsInvitationsEnd(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		mustAdmin(t, s, "ada@example.com")
		mustAdmin(t, s, "mallory@example.com")
		backdoor := invite("mallory2@example.com", "b", adminsNow.Add(24*time.Hour))
		backdoor.InvitedBy = "mallory@example.com"
		kept := invite("bob@example.com", "k", adminsNow.Add(24*time.Hour))
		for _, inv := range []store.Invite{backdoor, kept} {
			if err := s.CreateInvite(ctx, inv, store.Audit{Actor: inv.InvitedBy, At: adminsNow}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RemoveAdmin(ctx, "mallory@example.com", store.Audit{Actor: "ada@example.com", At: adminsNow}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptInvite(ctx, backdoor.TokenHash, "h", store.Audit{At: adminsNow}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the removed admin's invitation still works: %v", err)
		}
		if _, err := s.InviteByHash(ctx, kept.TokenHash, adminsNow); err != nil {
			t.Errorf("another admin's invitation ended: %v", err)
		}
		log, _ := s.AuditLog(ctx, 0, 1)
		if len(log) != 1 || log[0].Detail != "email=mallory@example.com sessions ended=0 invitations cancelled=1" {
			t.Errorf("audit = %+v", log)
		}
	})
}

func TestResetPasswordEndsEverySession(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ada, bob := mustAdmin(t, s, "ada@example.com"), mustAdmin(t, s, "bob@example.com")
		mustSession(t, s, ada, "ada-1")
		mustSession(t, s, ada, "ada-2")
		mustSession(t, s, bob, "bob-1")
		later := adminsNow.Add(time.Hour)
		n, err := s.ResetPassword(ctx, "ada@example.com", "new-hash", store.Audit{Actor: "cli", At: later})
		if err != nil || n != 2 {
			t.Fatalf("ResetPassword = %d, %v; want 2 sessions ended", n, err)
		}
		a, _ := s.AdminByEmail(ctx, "ada@example.com")
		if a.PasswordHash != "new-hash" || !a.PasswordChangedAt.Equal(later) {
			t.Errorf("after reset: %+v", a)
		}
		if _, _, err := s.SessionByHash(ctx, "bob-1"); err != nil {
			t.Errorf("another admin's session ended: %v", err)
		}
		if _, err := s.ResetPassword(ctx, "nobody@example.com", "h", store.Audit{Actor: "cli", At: later}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown admin: err = %v, want ErrNotFound", err)
		}
		log, _ := s.AuditLog(ctx, 0, 1)
		if len(log) != 1 || log[0].Action != store.ActionPasswordReset || log[0].Actor != "cli" || log[0].Detail != "email=ada@example.com sessions ended=2 invitations cancelled=0" {
			t.Errorf("audit = %+v", log)
		}
	})
}

func invite(email string, token string, expires time.Time) store.Invite {
	sum := sha256.Sum256([]byte(token))
	return store.Invite{TokenHash: sum[:], Email: email, InvitedBy: "ada@example.com", CreatedAt: adminsNow, ExpiresAt: expires}
}

func TestInvitesWorkOnceAndExpire(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		mustAdmin(t, s, "ada@example.com")
		c := store.Audit{Actor: "ada@example.com", At: adminsNow}
		exp := adminsNow.Add(24 * time.Hour)

		if err := s.CreateInvite(ctx, invite("ada@example.com", "t0", exp), c); !errors.Is(err, store.ErrConflict) {
			t.Errorf("inviting an admin: err = %v, want ErrConflict", err)
		}
		// Inviting again replaces the earlier link.
		old, bob := invite("bob@example.com", "t1", exp), invite("bob@example.com", "t2", exp)
		for _, inv := range []store.Invite{old, bob} {
			if err := s.CreateInvite(ctx, inv, c); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.InviteByHash(ctx, old.TokenHash, adminsNow); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("replaced link: err = %v, want ErrNotFound", err)
		}
		if got, err := s.InviteByHash(ctx, bob.TokenHash, adminsNow); err != nil || got.Email != "bob@example.com" {
			t.Errorf("InviteByHash = %+v, %v", got, err)
		}
		pending, _ := s.PendingInvites(ctx, adminsNow)
		if len(pending) != 1 || pending[0].Email != "bob@example.com" {
			t.Errorf("PendingInvites = %+v", pending)
		}

		// Two instances accept the same link at once: one admin, once.
		other := storetest.Reopen(t, s)
		at := adminsNow.Add(time.Minute)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range []*store.Store{s, other} {
			wg.Go(func() { _, errs[i] = st.AcceptInvite(ctx, bob.TokenHash, "hash", store.Audit{At: at}) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("AcceptInvite: %v, want nil or ErrNotFound", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d acceptances won, want 1 (%v)", won, errs)
		}
		b, err := s.AdminByEmail(ctx, "bob@example.com")
		if err != nil || !b.LastLoginAt.Equal(at) || b.PasswordHash != "hash" {
			t.Errorf("the invited admin: %+v, %v", b, err)
		}
		if _, err := s.AcceptInvite(ctx, bob.TokenHash, "hash2", store.Audit{At: at}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("reusing the link: err = %v, want ErrNotFound", err)
		}
		log, _ := s.AuditLog(ctx, 0, 1)
		if len(log) != 1 || log[0].Action != store.ActionAdminCreate || log[0].Actor != "bob@example.com" || log[0].Detail != "email=bob@example.com invited by ada@example.com" {
			t.Errorf("audit = %+v", log)
		}

		// An expired link does nothing, and the sweep deletes it.
		cy := invite("cy@example.com", "t3", adminsNow.Add(time.Hour))
		if err := s.CreateInvite(ctx, cy, c); err != nil {
			t.Fatal(err)
		}
		late := adminsNow.Add(time.Hour)
		if _, err := s.AcceptInvite(ctx, cy.TokenHash, "h", store.Audit{At: late}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired link: err = %v, want ErrNotFound", err)
		}
		if _, err := s.InviteByHash(ctx, cy.TokenHash, late); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired link: InviteByHash err = %v, want ErrNotFound", err)
		}
		if n, err := s.SweepExpired(ctx, late, 100); err != nil || n != 1 {
			t.Errorf("SweepExpired = %d, %v; want the one invitation", n, err)
		}
		if _, err := s.AdminByEmail(ctx, "cy@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired link created an admin: %v", err)
		}

		// An email that became an admin meanwhile: refused, link used up.
		dee := invite("dee@example.com", "t4", exp)
		if err := s.CreateInvite(ctx, dee, c); err != nil {
			t.Fatal(err)
		}
		mustAdmin(t, s, "dee@example.com")
		if _, err := s.AcceptInvite(ctx, dee.TokenHash, "h", store.Audit{At: at}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("accepting for an existing admin: err = %v, want ErrConflict", err)
		}
		if _, err := s.InviteByHash(ctx, dee.TokenHash, at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused link still works: %v", err)
		}
		// Cancelling.
		if err := s.CreateInvite(ctx, invite("eve@example.com", "t5", exp), c); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelInvite(ctx, "eve@example.com", c); err != nil {
			t.Errorf("CancelInvite: %v", err)
		}
		if err := s.CancelInvite(ctx, "eve@example.com", c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("cancelling twice: err = %v, want ErrNotFound", err)
		}
	})
}

func TestRecordLogin(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := mustAdmin(t, s, "ada@example.com")
		if !a.LastLoginAt.IsZero() {
			t.Errorf("a new admin has LastLoginAt %v, want zero", a.LastLoginAt)
		}
		at := adminsNow.Add(time.Hour)
		if err := s.RecordLogin(ctx, a.ID, at); err != nil {
			t.Fatal(err)
		}
		mustSession(t, s, a, "x")
		_, got, err := s.SessionByHash(ctx, "x")
		if err != nil || !got.LastLoginAt.Equal(at) {
			t.Errorf("SessionByHash admin = %+v, %v; want LastLoginAt %v", got, err, at)
		}
	})
}

// TestInviteOfARemovedAdmin: an invitation posted by an admin whose
// removal committed first (its request passed the session check just
// before) is refused, not stored: RemoveAdmin cancels what an admin
// invited, and nothing may slip in after it.
func TestInviteOfARemovedAdmin(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		mustAdmin(t, s, "ada@example.com")
		mustAdmin(t, s, "mallory@example.com")
		if _, err := s.RemoveAdmin(ctx, "mallory@example.com", store.Audit{Actor: "ada@example.com", At: adminsNow}); err != nil {
			t.Fatal(err)
		}
		late := invite("mallory2@example.com", "late", adminsNow.Add(24*time.Hour))
		late.InvitedBy = "mallory@example.com"
		if err := s.CreateInvite(ctx, late, store.Audit{Actor: "mallory@example.com", At: adminsNow}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an invitation by a removed admin: err = %v, want ErrNotFound", err)
		}
		if _, err := s.InviteByHash(ctx, late.TokenHash, adminsNow); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the removed admin's invitation was stored: %v", err)
		}
	})
}

// TestNewPasswordCancelsInvitations: a password is reset (CLI) or changed
// (dashboard) because someone else may know it; whoever held the account
// may have invited an address of theirs, and that link must not outlive
// the sessions the new password ends. Other admins' invitations stay.
func TestNewPasswordCancelsInvitations(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		mustAdmin(t, s, "ada@example.com")
		bob := mustAdmin(t, s, "bob@example.com")
		byBob := func(email, token string) store.Invite {
			inv := invite(email, token, adminsNow.Add(24*time.Hour))
			inv.InvitedBy = "bob@example.com"
			if err := s.CreateInvite(ctx, inv, store.Audit{Actor: "bob@example.com", At: adminsNow}); err != nil {
				t.Fatal(err)
			}
			return inv
		}
		kept := invite("carol@example.com", "kept", adminsNow.Add(24*time.Hour))
		if err := s.CreateInvite(ctx, kept, store.Audit{Actor: "ada@example.com", At: adminsNow}); err != nil {
			t.Fatal(err)
		}

		first := byBob("eve@example.com", "eve")
		if _, err := s.ResetPassword(ctx, "bob@example.com", "h2", store.Audit{Actor: "cli", At: adminsNow}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InviteByHash(ctx, first.TokenHash, adminsNow); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob's invitation survived the reset of his password: %v", err)
		}
		log, _ := s.AuditLog(ctx, 0, 1)
		if len(log) != 1 || log[0].Detail != "email=bob@example.com sessions ended=0 invitations cancelled=1" {
			t.Errorf("audit of the reset = %+v", log)
		}

		second := byBob("eve2@example.com", "eve2")
		if err := s.ChangePassword(ctx, bob.ID, "h3", "", adminsNow, "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InviteByHash(ctx, second.TokenHash, adminsNow); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob's invitation survived the change of his password: %v", err)
		}
		if _, err := s.InviteByHash(ctx, kept.TokenHash, adminsNow); err != nil {
			t.Errorf("ada's invitation ended with bob's password: %v", err)
		}
	})
}
