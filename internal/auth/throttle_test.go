package auth

import (
	"context"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestThrottleCountsAttemptsBeforeTheirOutcome: begin counts an attempt at
// once, so attempts still being checked use up the budget; an attempt
// that succeeds, or is cancelled unchecked, gives its count back; a
// refused attempt counts nowhere.
func TestThrottleCountsAttemptsBeforeTheirOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) { testThrottleCounts(t, st) })
}

// throttleT adapts the throttle's context and error results for tests.
type throttleT struct {
	t  *testing.T
	th *throttle
}

func (x throttleT) begin(ip, account, device string, now time.Time) (verdict, attempt) {
	x.t.Helper()
	v, a, err := x.th.begin(context.Background(), ip, account, device, now)
	if err != nil {
		x.t.Fatal(err)
	}
	return v, a
}

func (x throttleT) cancel(a attempt) {
	x.t.Helper()
	if err := x.th.cancel(context.Background(), a); err != nil {
		x.t.Fatal(err)
	}
}

func (x throttleT) succeeded(a attempt) {
	x.t.Helper()
	if err := x.th.succeeded(context.Background(), a); err != nil {
		x.t.Fatal(err)
	}
}

func testThrottleCounts(t *testing.T, st *store.Store) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	th := throttleT{t, newThrottle(st, Limits{Window: time.Minute, PerIP: 5, PerAccount: 3, PerDevice: 2})}

	// Three attempts in flight on one account, none finished: the fourth
	// is refused before any password is checked.
	var pending []attempt
	for i := range 3 {
		v, a := th.begin("192.0.2."+string(rune('1'+i)), "ada", "", t0)
		if v.blocked {
			t.Fatalf("attempt %d refused", i)
		}
		pending = append(pending, a)
	}
	if v, _ := th.begin("192.0.2.9", "ada", "", t0); !v.blocked || v.by != "account" || !v.first {
		t.Fatalf("fourth concurrent attempt = %+v, want refused per account (first refusal)", v)
	}
	// The refusal did not count against 192.0.2.9's address.
	for i := range 5 {
		if v, _ := th.begin("192.0.2.9", "other"+string(rune('a'+i)), "", t0); v.blocked {
			t.Fatalf("an address is charged for attempts refused per account")
		}
	}

	// One is cancelled (never checked): one more attempt may run.
	th.cancel(pending[0])
	v, again := th.begin("192.0.2.10", "ada", "", t0)
	if v.blocked {
		t.Fatalf("cancelled attempt still counted")
	}
	if v, _ := th.begin("192.0.2.11", "ada", "", t0); !v.blocked {
		t.Fatalf("the cancelled attempt freed more than one")
	}
	// One succeeds: it takes back its own count only; the failures of
	// others stay.
	th.succeeded(again)
	if v, _ := th.begin("192.0.2.12", "ada", "", t0); v.blocked {
		t.Fatalf("a success did not give its count back")
	}
	if v, _ := th.begin("192.0.2.13", "ada", "", t0); !v.blocked {
		t.Fatalf("a success erased other attempts' failures")
	}

	// A known device has its own budget, untouched by the account's.
	for i, want := range []bool{false, false, true} {
		if v, _ := th.begin("192.0.2.1", "ada", "dev1", t0); v.blocked != want || (want && v.by != "device") {
			t.Errorf("device attempt %d = %+v, want blocked=%v: the device budget of 2", i, v, want)
		}
	}
	// A count taken in an old window is not given back to a new one.
	_, old := th.begin("198.51.100.1", "bob", "", t0)
	t1 := t0.Add(time.Minute)
	for range 3 {
		th.begin("198.51.100.2", "bob", "", t1)
	}
	th.cancel(old)
	if v, _ := th.begin("198.51.100.3", "bob", "", t1); !v.blocked {
		t.Errorf("a count from an ended window was given back to the new one")
	}
}
