package ingest_test

import (
	"context"
	"time"

	"testing"

	"github.com/sendora/sendora/internal/identity"
)

// TestRejectionFloodIsBounded: a flood of forged events is refused, counted
// exactly, but recorded in detail only up to the sampling rate and the
// per-project bound, while valid events keep landing.
func TestRejectionFloodIsBounded(t *testing.T) {
	const keep = 200
	h := newHarness(t, func(o *harnessOptions) {
		o.writer.KeepRejections = keep
		o.writer.RejectionRate = 100 // rows per second of the fake clock
		o.writer.RejectionBurst = 300
	})
	secret := h.rotate(0)
	h.strict(true)

	forged := make([]map[string]any, 500)
	for i := range forged {
		forged[i] = ev("type", "identify", "userId", "victim", "identityToken", identity.Sign(identity.NewSecret(), "victim"), "traits", ev("plan", "enterprise"))
	}
	const rounds = 20
	for r := range rounds {
		resp := h.post("/events/batch", h.batch(forged...))
		if resp.status != 200 || resp.body["accepted"] != 0.0 || len(resp.body["rejected"].([]any)) != 500 {
			t.Fatalf("round %d: %d, accepted %v", r, resp.status, resp.body["accepted"])
		}
		// Valid events still land during the flood.
		ok := h.post("/events", h.js(ev("type", "track", "event", "Still here", "userId", "u1", "identityToken", identity.Sign(secret, "u1"))))
		if ok.status != 200 {
			t.Fatalf("valid event during flood: %d %s", ok.status, ok.raw)
		}
		h.clock.Advance(time.Second)
		h.flush()
	}
	rows := h.rejections()
	if len(rows) == 0 || len(rows) > keep+keep/10+500 {
		t.Errorf("%d rejection rows kept, want 1..%d", len(rows), keep+keep/10+500)
	}
	totals, err := h.st.OutcomeTotals(context.Background(), h.project.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var rejected, accepted int64
	for _, c := range totals {
		switch c.Outcome {
		case "rejected":
			if c.Reason != "signature_mismatch" {
				t.Errorf("rejected reason %q", c.Reason)
			}
			rejected += c.N
		case "accepted":
			accepted += c.N
		}
	}
	if rejected != rounds*500 || accepted != rounds {
		t.Errorf("counters: rejected %d accepted %d, want %d and %d (counters are never sampled)", rejected, accepted, rounds*500, rounds)
	}
	if _, err := h.st.Profile(context.Background(), h.project.ID, "victim"); err == nil {
		t.Error("a forged identify reached the victim's profile")
	}
	if h.writer.SampledOut() == 0 {
		t.Error("no rejection row was sampled out of a flood")
	}
}
