package ingest_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/clientip"
)

// TestRateLimitChargesEveryEvent: a key limited to 10 events/s (burst 20)
// sending 500-event batches gets no more than 10 events/s through on
// average: the batch that finds the bucket full passes, and its excess is
// debt that Retry-After says how long to wait out.
func TestRateLimitChargesEveryEvent(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.handler.RateLimitKey = 10 })
	batch := make([]map[string]any, 500)
	for i := range batch {
		batch[i] = ev("type", "track", "event", "E", "userId", "u")
	}
	body := h.batch(batch...)
	accepted := 0
	const seconds = 300
	for range seconds {
		r := h.post("/events/batch", body)
		switch r.status {
		case 200:
			accepted += int(r.body["accepted"].(float64))
		case 429:
			wait, err := strconv.Atoi(r.header.Get("Retry-After"))
			if code, _ := errorOf(r); code != "RATE_LIMITED" || err != nil || wait < 1 || wait > 50 {
				t.Fatalf("429 with %s, Retry-After %q", r.raw, r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("%d %s", r.status, r.raw)
		}
		h.clock.Advance(time.Second)
	}
	// At most the rate for the time, plus the one batch the last refill let in.
	if limit := 10*seconds + 500; accepted > limit || accepted < 10*seconds-500 {
		t.Errorf("%d events accepted in %d s at 10/s: want about %d, at most %d", accepted, seconds, 10*seconds, limit)
	}
}

// TestRateLimitIPv6ByPrefix: the per-IP limit counts an IPv6 client by its
// /64, as login throttling does, so stepping through addresses of one
// network buys no fresh budget; another /64 has its own.
func TestRateLimitIPv6ByPrefix(t *testing.T) {
	ips, err := clientip.New([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *harnessOptions) { o.handler.RateLimitIP = 1; o.handler.ClientIP = ips })
	send := func(ip string) int {
		return h.post("/events", h.js(ev("type", "page", "userId", "u")), "X-Forwarded-For", ip).status
	}
	for i := range 2 { // the burst: two events
		if s := send(fmt.Sprintf("2001:db8:1:2::%x", i+1)); s != 200 {
			t.Fatalf("event %d of the burst: %d", i, s)
		}
	}
	for i := range 20 {
		if s := send(fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+7)); s != 429 {
			t.Fatalf("another address of the same /64: %d, want 429", s)
		}
	}
	if s := send("2001:db8:1:3::1"); s != 200 {
		t.Errorf("another /64: %d, want 200", s)
	}
	if s := send("::ffff:192.0.2.1"); s != 200 {
		t.Errorf("an IPv4 client: %d, want 200", s)
	}
}
