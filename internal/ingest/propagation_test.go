package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestChangesElsewhereApplyAtTheNextRead: a rotation, a strict toggle, a
// new project and an origins change made by the CLI (its own store
// handle, no verifier) apply to a running server at its next read of the
// change counter, which it makes once a second (Poll is what each tick of
// that ticker runs). The clock never moves, so no cache entry expires: only
// the read brings the change.
func TestChangesElsewhereApplyAtTheNextRead(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	old := h.rotate(0)
	h.strict(true)
	signed := func(s identity.Secret, id string) string {
		return h.js(ev("type", "identify", "userId", "u1", "messageId", id, "identityToken", identity.Sign(s, "u1")))
	}
	if r := h.post("/events", signed(old, "m1")); r.status != 200 {
		t.Fatalf("before the change: %d %s", r.status, r.raw)
	}
	watcher, err := h.st.WatchChanges(ctx, func() {
		h.verifier.InvalidateAll()
		h.handler.InvalidateKeys()
	})
	if err != nil {
		t.Fatal(err)
	}

	cliStore := storetest.Reopen(t, h.st)
	cli := identity.NewManager(cliStore, h.sealer, nil)
	rot, err := cli.Rotate(ctx, h.project.ID, 0, identity.Actor{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	// Until the server reads the counter, its cache still holds the old secret.
	if r := h.post("/events", signed(old, "m2")); r.status != 200 {
		t.Fatalf("before the read: %d, want 200 from the cached keyring", r.status)
	}
	if err := watcher.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if r := h.post("/events", signed(old, "m3")); r.status != 401 {
		t.Errorf("the rotated-out secret after the read: %d %s, want 401", r.status, r.raw)
	} else if _, reason := errorOf(r); reason != "rotated_secret" {
		t.Errorf("reason = %s, want rotated_secret", reason)
	}
	if r := h.post("/events", signed(rot.Secret, "m4")); r.status != 200 {
		t.Errorf("the CLI's new secret after the read: %d %s", r.status, r.raw)
	}

	// Strict off by the CLI: unsigned events are accepted after the read.
	unsigned := func(id string) string {
		return h.js(ev("type", "track", "event", "x", "userId", "u1", "messageId", id))
	}
	if err := cli.SetStrict(ctx, h.project.ID, false, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	if r := h.post("/events", unsigned("m5")); r.status != 401 {
		t.Errorf("unsigned before the read: %d, want the cached strict mode's 401", r.status)
	}
	watcher.Poll(ctx)
	if r := h.post("/events", unsigned("m6")); r.status != 200 {
		t.Errorf("unsigned after the read of strict off: %d %s", r.status, r.raw)
	}

	// A project the CLI creates: its key was unknown (and remembered as
	// such); after the read it works.
	p, err := cliStore.CreateProject(ctx, "late", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"publicKey":"` + p.PublicKey + `","type":"track","event":"x","userId":"u1"}`
	watcher.Poll(ctx)
	if r := h.post("/events", body); r.status != 200 {
		t.Errorf("the CLI's new project after the read: %d %s", r.status, r.raw)
	}
	// Allowed origins set by the CLI apply after the read.
	if err := cliStore.SetAllowedOrigins(ctx, p.ID, []string{"https://shop.example.com"}); err != nil {
		t.Fatal(err)
	}
	if r := h.post("/events", body, "Origin", "https://evil.example.com"); r.status != 200 {
		t.Errorf("another origin before the read: %d, want the cached 200", r.status)
	}
	watcher.Poll(ctx)
	if r := h.post("/events", body, "Origin", "https://evil.example.com"); r.status != 403 {
		t.Errorf("another origin after the read: %d %s, want 403", r.status, r.raw)
	}
	h.flush()
	if n, err := h.st.CountEvents(ctx, h.project.ID); err != nil || n != 4 {
		t.Errorf("stored %d events of the default project, %v; want 4", n, err)
	}
}

// TestRunReadsAtEachTick drives the watcher's loop with a hand-made ticker:
// one tick after the CLI's rotation, the server enforces it. On PostgreSQL
// the rotation's NOTIFY alone does it, with no tick.
func TestRunReadsAtEachTick(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	old := h.rotate(0)
	h.strict(true)
	applied := make(chan struct{}, 8)
	watcher, err := h.st.WatchChanges(ctx, func() {
		h.verifier.InvalidateAll()
		h.handler.InvalidateKeys()
		applied <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	ticks := make(chan time.Time)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); watcher.Run(rctx, ticks, nil) }()
	defer func() { cancel(); <-done }()

	token := identity.Sign(old, "u1")
	body := func(id string) string {
		return h.js(ev("type", "identify", "userId", "u1", "messageId", id, "identityToken", token))
	}
	if r := h.post("/events", body("a")); r.status != 200 {
		t.Fatalf("before: %d", r.status)
	}
	if _, err := identity.NewManager(storetest.Reopen(t, h.st), h.sealer, nil).Rotate(ctx, h.project.ID, 0, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	if h.st.Dialect() != "postgres" {
		ticks <- time.Now()
	}
	select {
	case <-applied:
	case <-time.After(30 * time.Second): // a hang guard, not a timing claim
		t.Fatal("the watcher did not apply the change")
	}
	if r := h.post("/events", body("b")); r.status != 401 {
		t.Errorf("the rotated-out secret after the change applied: %d, want 401", r.status)
	}
}
