package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// TestServerIDsAreNeverRetries: events sent without a messageId get
// distinct, unpredictable ids and are all stored; the store never takes a
// server-assigned id for a retry, not even one written twice.
func TestServerIDsAreNeverRetries(t *testing.T) {
	h := newHarness(t)
	ids := map[string]bool{}
	for range 50 {
		r := h.post("/events", h.js(ev("type", "page", "anonymousId", "a1")))
		id, _ := r.body["messageId"].(string)
		if r.status != 200 || !strings.HasPrefix(id, "srv_") || ids[id] {
			t.Fatalf("id-less event: %d %s", r.status, r.raw)
		}
		ids[id] = true
	}
	if n := len(h.events()); n != 50 {
		t.Errorf("%d events stored, want 50", n)
	}

	row := store.EventRow{ProjectID: h.project.ID, MessageID: "srv_same", ServerID: true, Type: "page",
		AnonymousID: "a", Timestamp: time.Now(), ReceivedAt: time.Now(), Verification: "no_secret"}
	if err := h.st.WriteBatch(context.Background(), &store.Batch{Events: []store.EventRow{row}}, nil); err != nil {
		t.Fatal(err)
	}
	inserted := make([]bool, 2)
	if err := h.st.WriteBatch(context.Background(), &store.Batch{Events: []store.EventRow{row, row}}, inserted); err != nil {
		t.Fatal(err)
	}
	if !inserted[0] || !inserted[1] {
		t.Errorf("server id written again: inserted = %v, want both stored", inserted)
	}
	n := 0
	for _, e := range h.events() {
		if e.MessageID == "srv_same" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("events with the server id srv_same: %d stored, want 3", n)
	}
}
