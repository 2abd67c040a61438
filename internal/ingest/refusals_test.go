package ingest_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/clientip"
)

// refusalHarness is a harness whose clients are told apart by
// X-Forwarded-For, with a refusal budget of perSecond bytes (burst two
// seconds' worth), recording the requests it held.
type refusalHarness struct {
	*harness
	mu    sync.Mutex
	held  []time.Duration
	extra int // holds refused with 429
}

func newRefusalHarness(t *testing.T, perSecond int64) *refusalHarness {
	ips, err := clientip.New([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	rh := &refusalHarness{}
	rh.harness = newHarness(t, func(o *harnessOptions) {
		o.handler.ClientIP = ips
		o.handler.RefusedBytesPerIP = perSecond
		o.handler.Held = func(wait time.Duration, refused bool) {
			rh.mu.Lock()
			defer rh.mu.Unlock()
			if refused {
				rh.extra++
				return
			}
			rh.held = append(rh.held, wait)
		}
	})
	return rh
}

func (rh *refusalHarness) from(ip, path, body string) response {
	rh.t.Helper()
	return rh.post(path, body, "X-Forwarded-For", ip)
}

func (rh *refusalHarness) holds() (waited []time.Duration, refused int) {
	rh.mu.Lock()
	defer rh.mu.Unlock()
	return append([]time.Duration(nil), rh.held...), rh.extra
}

// poisonBatch is 100 events that each fail validation (traits nesting past
// 32 levels), about 30 KB.
func (rh *refusalHarness) poisonBatch() string {
	evs := make([]string, 100)
	for i := range evs {
		evs[i] = `{"type":"identify","userId":"u_poison","traits":` + nested(40) + `}`
	}
	return `{"publicKey":"` + rh.key + `","events":[` + strings.Join(evs, ",") + `]}`
}

// TestRefusedInputSpendsTheAddressBudget: an address whose events are
// refused past its budget gets 429 RATE_LIMITED with Retry-After on its
// next request, valid or not, until the budget has room again; another
// address is not affected, and the refused batch itself was answered in
// full.
func TestRefusedInputSpendsTheAddressBudget(t *testing.T) {
	rh := newRefusalHarness(t, 1000) // burst 2,000 bytes
	poison := rh.poisonBatch()
	valid := rh.js(ev("type", "track", "event", "E", "userId", "u", "messageId", "m1"))

	r := rh.from("192.0.2.1", "/events/batch", poison)
	if r.status != 200 || r.body["accepted"] != 0.0 || len(r.body["rejected"].([]any)) != 100 {
		t.Fatalf("the poison batch: %d %.200s", r.status, r.raw)
	}
	// About 30 KB refused against 2 KB of burst at 1 KB/s: 28 s of debt.
	r = rh.from("192.0.2.1", "/events", valid)
	if code, _ := errorOf(r); r.status != 429 || code != "RATE_LIMITED" {
		t.Fatalf("the next request from that address: %d %s, want 429 RATE_LIMITED", r.status, r.raw)
	}
	debt := (len(poison) - 2000) / 1000
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < debt-1 || retry > debt+2 {
		t.Errorf("Retry-After %q, want about %d s", r.header.Get("Retry-After"), debt)
	}
	if _, refused := rh.holds(); refused != 1 {
		t.Errorf("%d refused holds reported, want 1", refused)
	}
	if r := rh.from("192.0.2.2", "/events", valid); r.status != 200 {
		t.Fatalf("another address: %d %s", r.status, r.raw)
	}
	if r := rh.from("2001:db8:1:2::9", "/events/batch", rh.batch(ev("type", "page", "userId", "u"))); r.status != 200 {
		t.Fatalf("an IPv6 address: %d %s", r.status, r.raw)
	}

	// Once the debt is paid, the address is served again.
	rh.clock.Advance(time.Duration(retry) * time.Second)
	if r := rh.from("192.0.2.1", "/events", valid); r.status != 200 {
		t.Fatalf("after Retry-After: %d %s", r.status, r.raw)
	}
	// The 429 stored nothing: m1 came in once, from 192.0.2.2, then again.
	if n := len(rh.events()); n != 2 {
		t.Errorf("%d events stored, want 2 (m1 once, the page)", n)
	}
}

// TestRefusalDebtUnderMaxHoldWaits: a small debt is waited out, not
// answered 429: the request is held, then served.
func TestRefusalDebtUnderMaxHoldWaits(t *testing.T) {
	rh := newRefusalHarness(t, 1<<20) // 2 MiB of burst
	poison := rh.poisonBatch()
	// Spend the burst, and at most one batch (about 30 ms at 1 MiB/s) more.
	sent := 0
	for sent <= 2<<20 {
		if r := rh.from("192.0.2.1", "/events/batch", poison); r.status != 200 {
			t.Fatalf("poison batch after %d bytes: %d %.200s", sent, r.status, r.raw)
		}
		sent += len(poison)
	}
	waited, refused := rh.holds()
	if len(waited) != 0 || refused != 0 {
		t.Fatalf("held within the burst: %v, %d refused", waited, refused)
	}
	r := rh.from("192.0.2.1", "/events", rh.js(ev("type", "page", "userId", "u")))
	if r.status != 200 {
		t.Fatalf("held request: %d %s", r.status, r.raw)
	}
	waited, refused = rh.holds()
	if len(waited) != 1 || refused != 0 || waited[0] <= 0 || waited[0] > 100*time.Millisecond {
		t.Fatalf("holds %v, %d refused; want one of at most a batch's %d bytes at 1 MiB/s", waited, refused, len(poison))
	}
}

// TestRefusalBudgetCountsOnlyRefusedInput: valid events, and events strict
// identity refuses (the product's own answer, which the admin reads in the
// rejections), never spend the budget, however many; unknown keys and
// bodies that are not JSON do.
func TestRefusalBudgetCountsOnlyRefusedInput(t *testing.T) {
	rh := newRefusalHarness(t, 1000)
	rh.rotate(0)
	rh.strict(true)
	big := strings.Repeat("x", 3000)
	for i := range 20 {
		r := rh.from("192.0.2.1", "/events/batch", rh.batch(
			ev("type", "track", "event", "E", "userId", "u", "properties", map[string]any{"pad": big}),
			ev("type", "track", "event", "E", "userId", "u", "identityToken", "hmac_v1:"+strings.Repeat("0", 64), "properties", map[string]any{"pad": big}),
		))
		if code, _ := errorOf(r); r.status != 200 || code != "" || len(r.body["rejected"].([]any)) != 2 {
			t.Fatalf("unsigned batch %d: %d %.200s", i, r.status, r.raw)
		}
		r = rh.from("192.0.2.1", "/events", rh.js(ev("type", "page", "userId", "u", "properties", map[string]any{"pad": big})))
		if code, _ := errorOf(r); r.status != 401 || code != "IDENTITY_UNVERIFIED" {
			t.Fatalf("unsigned event %d: %d %s", i, r.status, r.raw)
		}
	}
	if waited, refused := rh.holds(); len(waited)+refused != 0 {
		t.Fatalf("strict identity's refusals spent the budget: %v held, %d refused", waited, refused)
	}
	rh.strict(false)
	for i := range 20 {
		if r := rh.from("192.0.2.2", "/events", rh.js(ev("type", "page", "userId", "u", "properties", map[string]any{"pad": big}))); r.status != 200 {
			t.Fatalf("valid event %d: %d %s", i, r.status, r.raw)
		}
	}

	for name, body := range map[string]string{
		"unknown key": `{"publicKey":"pk_live_nobody","type":"page","userId":"u","properties":{"pad":"` + big + `"}}`,
		"not JSON":    `{"type":"page","userId":"u","properties":{"pad":"` + big + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ip := fmt.Sprintf("198.51.100.%d", len(name))
			if r := rh.from(ip, "/events", body); r.status != 401 && r.status != 400 {
				t.Fatalf("first: %d %s", r.status, r.raw)
			}
			r := rh.from(ip, "/events", rh.js(ev("type", "page", "userId", "u")))
			if code, _ := errorOf(r); r.status == 429 && code == "RATE_LIMITED" {
				return
			}
			// 3 KB against a 2 KB burst at 1 KB/s leaves about 1 s of debt:
			// the request is held, not refused.
			if waited, _ := rh.holds(); r.status != 200 || len(waited) == 0 {
				t.Fatalf("second: %d %s, held %v; want it held for the refused body", r.status, r.raw, waited)
			}
		})
	}
}
