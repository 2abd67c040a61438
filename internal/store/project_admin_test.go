package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

var projAt = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func byAdmin(at time.Time) store.Audit {
	return store.Audit{At: at, Actor: "ada@example.com", IP: "192.0.2.1"}
}

// lastAudit returns the newest audit entry.
func lastAudit(t *testing.T, s *store.Store) store.Audit {
	t.Helper()
	log, err := s.AuditLog(context.Background(), 0, 1)
	if err != nil || len(log) == 0 {
		t.Fatalf("audit log: %v, %d entries", err, len(log))
	}
	return log[0]
}

// TestProjectRenameKeepsDataAndKeys: a rename changes the name only; the
// old name is free, the new one finds the same project, keys and events;
// a taken, empty, huge or non-ASCII name is refused and changes nothing.
func TestProjectRenameKeepsDataAndKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p, err := s.CreateProjectAudited(ctx, "shop", byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}
		if a := lastAudit(t, s); a.Action != store.ActionProjectCreate || a.Actor != "ada@example.com" || a.ProjectID != p.ID {
			t.Errorf("audit = %+v, want project.create by ada", a)
		}
		other := storetest.Project(t, s, "blog")
		writeProjectEvents(t, s, p.ID, 3)

		r, err := s.RenameProject(ctx, p.ID, "store", byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != p.ID || r.Name != "store" || r.PublicKey != p.PublicKey {
			t.Errorf("renamed = %+v, want id %d name store key %s", r, p.ID, p.PublicKey)
		}
		if a := lastAudit(t, s); a.Action != store.ActionProjectRename || a.Detail != "from=shop to=store" {
			t.Errorf("audit = %+v, want project.rename from=shop to=store", a)
		}
		if _, err := s.ProjectByName(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old name: err = %v, want ErrNotFound", err)
		}
		if got, err := s.ProjectByKey(ctx, p.PublicKey, time.Now()); err != nil || got.Name != "store" {
			t.Errorf("by key after rename = %+v, %v", got, err)
		}
		if n, _ := s.CountEvents(ctx, p.ID); n != 3 {
			t.Errorf("events after rename = %d, want 3", n)
		}

		for _, name := range []string{"blog", "", strings.Repeat("a", 65), "shöp", "a b", "ｓｈｏｐ", "shop\u200b", "../x"} {
			_, err := s.RenameProject(ctx, p.ID, name, byAdmin(projAt))
			if err == nil {
				t.Errorf("rename to %q: no error", name)
			}
			if name == "blog" && !errors.Is(err, store.ErrConflict) {
				t.Errorf("rename to a taken name: err = %v, want ErrConflict", err)
			}
		}
		if got, _ := s.Project(ctx, p.ID); got.Name != "store" {
			t.Errorf("name after refused renames = %q, want store", got.Name)
		}
		if got, _ := s.Project(ctx, other.ID); got.Name != "blog" {
			t.Errorf("other project's name = %q, want blog", got.Name)
		}
		// Renaming to the name it has changes nothing and audits nothing.
		before := lastAudit(t, s)
		if _, err := s.RenameProject(ctx, p.ID, "store", byAdmin(projAt)); err != nil {
			t.Fatal(err)
		}
		if a := lastAudit(t, s); a.ID != before.ID {
			t.Errorf("a rename to the same name was audited: %+v", a)
		}
	})
}

func writeProjectEvents(t *testing.T, s *store.Store, projectID int64, n int) {
	t.Helper()
	b := &store.Batch{}
	for i := range n {
		b.Events = append(b.Events, store.EventRow{ProjectID: projectID, MessageID: fmt.Sprintf("m%d-%d", projectID, i), Type: "identify",
			UserID: fmt.Sprintf("u%d", i), Timestamp: projAt, ReceivedAt: projAt, Verification: "verified", Traits: []byte(`{"plan":"pro"}`)})
	}
	b.Rejections = []store.RejectionRow{{ProjectID: projectID, At: projAt, Endpoint: "/events", EventType: "identify", Reason: "missing_token"}}
	if err := s.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPublicKeyRotation: during a rotation both keys find the project;
// the old one until its keep time or its revocation, after which it is an
// unknown key. The current key cannot be revoked; a stale rotation form
// rotates nothing; a second rotation stops the key the first one left.
func TestPublicKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "shop")
		k0 := p.PublicKey

		r1, err := s.RotatePublicKey(ctx, p.ID, k0, store.KeepUntilRevoked, byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}
		k1 := r1.PublicKey
		if k1 == k0 || !strings.HasPrefix(k1, store.PublicKeyPrefix) || r1.PreviousPublicKey != k0 || !r1.PreviousKeyUntil.IsZero() {
			t.Fatalf("rotation = %+v, want a new key and %s kept until revoked", r1, k0)
		}
		if a := lastAudit(t, s); a.Action != store.ActionKeyRotate || !strings.Contains(a.Detail, "new="+k1) || !strings.Contains(a.Detail, "old="+k0) {
			t.Errorf("audit = %+v", a)
		}
		for _, k := range []string{k0, k1} {
			got, err := s.ProjectByKey(ctx, k, projAt.Add(365*24*time.Hour))
			if err != nil || got.ID != p.ID {
				t.Errorf("key %s during the switch: %+v, %v", k, got, err)
			}
		}
		// The form for k0 again (a reload, a double click): nothing happens.
		if _, err := s.RotatePublicKey(ctx, p.ID, k0, store.KeepUntilRevoked, byAdmin(projAt)); !errors.Is(err, store.ErrKeyChanged) {
			t.Errorf("stale rotation: err = %v, want ErrKeyChanged", err)
		}
		if _, err := s.RevokePublicKey(ctx, p.ID, k1, byAdmin(projAt)); !errors.Is(err, store.ErrCurrentKey) {
			t.Errorf("revoke the current key: err = %v, want ErrCurrentKey", err)
		}
		if ok, err := s.RevokePublicKey(ctx, p.ID, "pk_live_nothing", byAdmin(projAt)); ok || err != nil {
			t.Errorf("revoke a key that is not the project's = %v, %v; want false, nil", ok, err)
		}
		ok, err := s.RevokePublicKey(ctx, p.ID, k0, byAdmin(projAt))
		if !ok || err != nil {
			t.Fatalf("revoke = %v, %v", ok, err)
		}
		if a := lastAudit(t, s); a.Action != store.ActionKeyRevoke || a.Detail != "revoked="+k0 {
			t.Errorf("audit = %+v", a)
		}
		if _, err := s.ProjectByKey(ctx, k0, projAt); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked key: err = %v, want ErrNotFound", err)
		}
		if ok, err := s.RevokePublicKey(ctx, p.ID, "", byAdmin(projAt)); ok || err != nil {
			t.Errorf("revoke with no old key = %v, %v; want false, nil", ok, err)
		}

		// A timed keep: the old key works until then, not after.
		r2, err := s.RotatePublicKey(ctx, p.ID, "", 24*time.Hour, byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.ProjectByKey(ctx, k1, projAt.Add(24*time.Hour-time.Millisecond)); err != nil || got.ID != p.ID {
			t.Errorf("old key just before its end: %v", err)
		}
		if _, err := s.ProjectByKey(ctx, k1, projAt.Add(24*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old key at its end: err = %v, want ErrNotFound", err)
		}
		// Rotating again stops k1 at once, whatever was left of its day.
		r3, err := s.RotatePublicKey(ctx, p.ID, r2.PublicKey, 0, byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{k0, k1, r2.PublicKey} {
			if _, err := s.ProjectByKey(ctx, k, projAt); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("key %s after a rotation with keep 0: err = %v, want ErrNotFound", k, err)
			}
		}
		if got, err := s.ProjectByKey(ctx, r3.PublicKey, projAt); err != nil || got.PreviousPublicKey != "" {
			t.Errorf("current key: %+v, %v", got, err)
		}
		for _, keep := range []time.Duration{-2, store.MaxKeyKeep + 1} {
			if _, err := s.RotatePublicKey(ctx, p.ID, "", keep, byAdmin(projAt)); err == nil {
				t.Errorf("keep %s: no error", keep)
			}
		}
	})
}

// TestPublicKeyRotationRacesIngestion: while rotations commit, the key
// that was current before each one (kept until revoked) is found by every
// lookup, before, during and after its rotation; the new key from its
// commit on.
func TestPublicKeyRotationRacesIngestion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "shop")
		cur := p.PublicKey
		for range 10 {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var lookups, failures int
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					lookups++
					if got, err := s.ProjectByKey(ctx, cur, projAt); err != nil || got.ID != p.ID {
						failures++
					}
				}
			})
			r, err := s.RotatePublicKey(ctx, p.ID, cur, store.KeepUntilRevoked, byAdmin(projAt))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.ProjectByKey(ctx, r.PublicKey, projAt); err != nil || got.ID != p.ID {
				t.Errorf("new key right after its rotation: %v", err)
			}
			close(stop)
			wg.Wait()
			if failures > 0 {
				t.Errorf("key %s: %d of %d lookups failed while it was being replaced", cur, failures, lookups)
			}
			cur = r.PublicKey
		}
	})
}

// TestDeleteProject: deleting needs the project's name typed, never takes
// the last project, frees the name and the keys at once, and the purge
// removes every row that pointed at it, in batches, leaving other projects
// whole and export and retention working.
func TestDeleteProject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keep := storetest.Project(t, s, "blog")
		p := storetest.Project(t, s, "shop")
		writeProjectEvents(t, s, p.ID, 25)
		writeProjectEvents(t, s, keep.ID, 4)
		sealer := storetest.Sealer()
		secret := identity.NewSecret()
		if _, err := s.RotateSecret(ctx, p.ID, identity.Rotation{Sealed: sealer.SealSecret(p.ID, secret), Fingerprint: secret.Fingerprint(),
			At: projAt, FromVersion: identity.AnyVersion, KeepRetired: 3}); err != nil {
			t.Fatal(err)
		}
		r, err := s.RotatePublicKey(ctx, p.ID, "", store.KeepUntilRevoked, byAdmin(projAt))
		if err != nil {
			t.Fatal(err)
		}

		if err := s.DeleteProject(ctx, p.ID, "Shop", byAdmin(projAt)); !errors.Is(err, store.ErrNameChanged) {
			t.Errorf("delete with another name typed: err = %v, want ErrNameChanged", err)
		}
		seq, _ := s.ChangeSeq(ctx)
		if err := s.DeleteProject(ctx, p.ID, "shop", byAdmin(projAt)); err != nil {
			t.Fatal(err)
		}
		if after, _ := s.ChangeSeq(ctx); after != seq+1 {
			t.Errorf("change counter %d → %d, want one step", seq, after)
		}
		if a := lastAudit(t, s); a.Action != store.ActionProjectDelete || !strings.Contains(a.Detail, "name=shop") {
			t.Errorf("audit = %+v", a)
		}
		for _, k := range []string{p.PublicKey, r.PublicKey} {
			if _, err := s.ProjectByKey(ctx, k, projAt); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("key of a deleted project: err = %v, want ErrNotFound", err)
			}
		}
		if _, err := s.ProjectByName(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("name of a deleted project: err = %v", err)
		}
		if ps, _ := s.Projects(ctx); len(ps) != 1 || ps[0].ID != keep.ID {
			t.Errorf("projects = %+v, want blog alone", ps)
		}
		if _, err := s.RenameProject(ctx, p.ID, "x", byAdmin(projAt)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rename a deleted project: err = %v, want ErrNotFound", err)
		}
		// The name is free at once, while the data is still being removed.
		again := storetest.Project(t, s, "shop")
		writeProjectEvents(t, s, again.ID, 2)
		// The last live project (two now: blog and the new shop) …
		if err := s.DeleteProject(ctx, again.ID, "shop", byAdmin(projAt)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteProject(ctx, keep.ID, "blog", byAdmin(projAt)); !errors.Is(err, store.ErrLastProject) {
			t.Errorf("delete the last project: err = %v, want ErrLastProject", err)
		}

		steps := 0
		total, err := s.PurgeDeletedProjects(ctx, 10, func(context.Context) error { steps++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		// 25+2 events, 25+2 profiles, 2 rejections, counters; batches of 10.
		if total < 27+27+2 || steps < 7 {
			t.Errorf("purge deleted %d rows in %d steps, want at least %d rows in 7 steps", total, steps, 27+27+2)
		}
		for _, table := range []string{"events", "profiles", "rejections", "event_counts", "token_counts", "identity_secrets"} {
			rows, err := s.QueryForTest(ctx, `SELECT COUNT(*) FROM `+table+` WHERE project_id NOT IN (SELECT id FROM projects)`)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			rows.Next()
			rows.Scan(&n)
			rows.Close()
			if n != 0 {
				t.Errorf("%s: %d rows of no project", table, n)
			}
		}
		rows, err := s.QueryForTest(ctx, `SELECT COUNT(*) FROM projects`)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		rows.Next()
		rows.Scan(&n)
		rows.Close()
		if n != 1 {
			t.Errorf("project rows after the purge = %d, want 1", n)
		}
		if c, _ := s.CountEvents(ctx, keep.ID); c != 4 {
			t.Errorf("the other project's events = %d, want 4", c)
		}
		exported := 0
		if err := s.ExportEvents(ctx, keep.ID, time.Time{}, func(*store.StoredEvent) error { exported++; return nil }); err != nil || exported != 4 {
			t.Errorf("export of the other project: %d events, %v", exported, err)
		}
		if _, _, err := s.DeleteEventsBefore(ctx, projAt.Add(time.Hour), 0, 100); err != nil {
			t.Errorf("retention after a purge: %v", err)
		}
		if _, more, err := s.PurgeDeletedProject(ctx, 10); more || err != nil {
			t.Errorf("purge with nothing deleted: more=%v err=%v", more, err)
		}
		// The audit entries outlive the project, and keep its name.
		log, _ := s.AuditLog(ctx, 0, 100)
		found := false
		for _, a := range log {
			if a.Action == store.ActionProjectDelete && strings.Contains(a.Detail, "name=shop") {
				found = true
			}
			if a.Action == store.ActionKeyRotate && !strings.HasPrefix(a.Detail, "project=shop new=") {
				t.Errorf("a purged project's key rotation is audited as %q, want its name first", a.Detail)
			}
		}
		if !found {
			t.Error("the delete's audit entry is gone with the project")
		}
	})
}

// TestDeleteRacesLeaveOneProject: two deletes of the last two projects at
// once (two admins, two instances) leave one project.
func TestDeleteRacesLeaveOneProject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := storetest.Project(t, s, "a")
		b := storetest.Project(t, s, "b")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []store.Project{a, b} {
			wg.Go(func() { errs[i] = s.DeleteProject(ctx, p.ID, p.Name, byAdmin(projAt)) })
		}
		wg.Wait()
		if ps, _ := s.Projects(ctx); len(ps) != 1 {
			t.Errorf("projects after two concurrent deletes = %d, want 1 (errors %v)", len(ps), errs)
		}
		if (errs[0] == nil) == (errs[1] == nil) || !(errors.Is(errs[0], store.ErrLastProject) || errors.Is(errs[1], store.ErrLastProject)) {
			t.Errorf("errors = %v, want one ErrLastProject", errs)
		}
	})
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Shop.Example.com":      "https://shop.example.com",
		"https://shop.example.com/":     "https://shop.example.com",
		"https://shop.example.com:443":  "https://shop.example.com",
		"http://localhost:80":           "http://localhost",
		"http://localhost:3000":         "http://localhost:3000",
		"  https://a.example  ":         "https://a.example",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	} {
		if got, err := store.NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "shop.example.com", "ftp://a.example", "https://a.example/path", "https://a.example?x=1",
		"https://user@a.example", "https://bücher.example", "javascript:alert(1)", "https://", "https://a.example#x", "*"} {
		if got, err := store.NormalizeOrigin(in); err == nil {
			t.Errorf("NormalizeOrigin(%q) = %q, want an error", in, got)
		}
	}
	got, err := store.ParseOrigins("https://a.example, https://b.example\nhttps://A.example")
	if err != nil || strings.Join(got, " ") != "https://a.example https://b.example" {
		t.Errorf("ParseOrigins = %v, %v", got, err)
	}
	if _, err := store.ParseOrigins("https://a.example/ x"); err == nil {
		t.Error("ParseOrigins with a bad one: no error")
	}
}

// TestPurgeLargeProjectInSmallSteps deletes a project of 50,000 events
// and 10,000 profiles while another project keeps committing: every purge step
// deletes at most one batch, so none holds the writer for long (the step
// times are logged), and the other project's commits all land.
func TestPurgeLargeProjectInSmallSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50,000 events")
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keep := storetest.Project(t, s, "keep")
		big := storetest.Project(t, s, "big")
		const n, chunk, users = 50_000, 5_000, 10_000
		for i := 0; i < n; i += chunk {
			b := &store.Batch{}
			for j := i; j < i+chunk; j++ {
				b.Events = append(b.Events, store.EventRow{ProjectID: big.ID, MessageID: fmt.Sprintf("m%d", j), Type: "identify",
					UserID: fmt.Sprintf("u%d", j%users), Timestamp: projAt, ReceivedAt: projAt, Verification: "verified", Traits: []byte(`{"plan":"pro"}`)})
			}
			if err := s.WriteBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteProject(ctx, big.ID, "big", byAdmin(projAt)); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var committed int
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := &store.Batch{Events: []store.EventRow{{ProjectID: keep.ID, MessageID: fmt.Sprintf("k%d", i), Type: "track", Event: "x",
					UserID: "u", Timestamp: projAt, ReceivedAt: projAt, Verification: "verified"}}}
				if err := s.WriteBatch(ctx, b, nil); err != nil {
					t.Errorf("a commit of the other project during the purge: %v", err)
					return
				}
				committed++
			}
		})
		var steps int
		var longest, total time.Duration
		for {
			start := time.Now()
			rows, more, err := s.PurgeDeletedProject(ctx, 1000)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if rows > 1000*20 { // event_counts deletes whole minutes: a few rows per minute
				t.Errorf("one step deleted %d rows", rows)
			}
			steps++
			total += took
			longest = max(longest, took)
			if !more {
				break
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("%s: purged %d events and %d profiles in %d steps, %s in all, the longest %s; %d commits of another project meanwhile",
			s.Dialect(), n, users, steps, total.Round(time.Millisecond), longest.Round(time.Millisecond), committed)
		if steps < (n+users)/1000 {
			t.Errorf("%d steps, want at least one per 1,000 rows", steps)
		}
		if c, _ := s.CountEvents(ctx, keep.ID); c != int64(committed) {
			t.Errorf("the other project has %d events, want %d", c, committed)
		}
	})
}
