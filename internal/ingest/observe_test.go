package ingest_test

import (
	"sync"
	"testing"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
)

// outcomes collects what the handler reports to Config.Observe.
type outcomes struct {
	mu  sync.Mutex
	all []ingest.Outcome
}

func (o *outcomes) observe(out ingest.Outcome) {
	o.mu.Lock()
	o.all = append(o.all, out)
	o.mu.Unlock()
}

// take returns what was reported since the last call.
func (o *outcomes) take() []ingest.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	all := o.all
	o.all = nil
	return all
}

func reasons(kv ...any) (r [identity.NumReasons]int32) {
	for i := 0; i+1 < len(kv); i += 2 {
		r[kv[i].(identity.Reason)] = int32(kv[i+1].(int))
	}
	return r
}

// TestObserveOutcomes checks each request's reported outcome, which the
// metrics count: it is reported before the answer is written, so it is
// there when the client has its answer.
func TestObserveOutcomes(t *testing.T) {
	var got outcomes
	h := newHarness(t, func(o *harnessOptions) { o.handler.Observe = got.observe })
	one := func(t *testing.T, want ingest.Outcome) {
		t.Helper()
		all := got.take()
		if len(all) != 1 {
			t.Fatalf("%d outcomes reported, want 1: %+v", len(all), all)
		}
		if all[0] != want {
			t.Errorf("outcome = %+v\nwant      %+v", all[0], want)
		}
	}

	// Report-only: no secret yet, strict off.
	h.post("/events", h.js(ev("type", "track", "event", "E", "userId", "u1", "messageId", "m1")))
	one(t, ingest.Outcome{Endpoint: "/events", Project: "default", Events: 1, Accepted: 1, ReportOnly: reasons(identity.NoSecret, 1)})
	// Its retry is acknowledged again but not counted as report-only twice.
	h.post("/events", h.js(ev("type", "track", "event", "E", "userId", "u1", "messageId", "m1")))
	one(t, ingest.Outcome{Endpoint: "/events", Project: "default", Events: 1, Accepted: 1})

	secret := h.rotate(0)
	h.strict(true)
	h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", identity.Sign(secret, "u1"))))
	one(t, ingest.Outcome{Endpoint: "/events", Project: "default", Events: 1, Accepted: 1})
	h.post("/events", h.js(ev("type", "identify", "userId", "victim", "identityToken", identity.Sign(secret, "u1"))))
	one(t, ingest.Outcome{Endpoint: "/events", Project: "default", Events: 1, Rejected: reasons(identity.SignatureMismatch, 1)})
	h.post("/events", h.js(ev("type", "track", "userId", "u1", "identityToken", identity.Sign(secret, "u1")))) // no event name
	one(t, ingest.Outcome{Endpoint: "/events", Project: "default", Events: 1, Invalid: 1})

	// A batch is one outcome, whatever its mix.
	r := h.post("/events/batch", h.batch(
		ev("type", "track", "event", "E", "userId", "u2", "identityToken", identity.Sign(secret, "u2")),
		ev("type", "track", "event", "E", "userId", "u3"),
		ev("type", "track", "event", "E", "userId", "u4", "identityToken", "hmac_v1:abc"),
		ev("type", "track", "event", "E", "userId", "u5", "identityToken", "hmac_v1:abc"),
		ev("type", "bogus"),
		ev("type", "page", "userId", "u6", "identityToken", identity.Sign(secret, "u6")),
	))
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	one(t, ingest.Outcome{Endpoint: "/events/batch", Project: "default", Events: 6, Accepted: 2, Invalid: 1,
		Rejected: reasons(identity.MissingToken, 1, identity.MalformedToken, 2)})

	// Refused as a whole before the key resolved: not an event outcome (the
	// HTTP status counts it).
	h.post("/events", `{"publicKey":"pk_live_nope","type":"track","event":"E"}`)
	h.post("/events/batch", `{"events":[`)
	if all := got.take(); len(all) != 0 {
		t.Errorf("requests refused as a whole reported %+v", all)
	}
}
