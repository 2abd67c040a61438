package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

func TestHashDefaultParamsAndVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(DefaultParams, 1)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q, want argon2id with m=19456,t=2,p=1", enc)
	}
	if enc2, _ := h.Hash(ctx, "correct horse battery staple"); enc2 == enc {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{
		"correct horse battery staple":  true,
		"correct horse battery staple ": false,
		"":                              false,
	} {
		ok, err := h.Verify(ctx, enc, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

func TestLongPasswordsAreNotTruncated(t *testing.T) {
	// bcrypt would ignore everything after byte 72; argon2id must not.
	ctx := context.Background()
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1}, 1)
	base := strings.Repeat("x", 72)
	enc, _ := h.Hash(ctx, base+"A")
	if ok, _ := h.Verify(ctx, enc, base+"B"); ok {
		t.Errorf("passwords differing after byte 72 verify as equal")
	}
	if err := CheckPasswordRules(strings.Repeat("y", MaxPasswordLen+1)); err != ErrPasswordLong {
		t.Errorf("over-long password: %v, want ErrPasswordLong", err)
	}
	if err := CheckPasswordRules("            abc"); err != ErrPasswordShort {
		t.Errorf("mostly-space password: %v, want ErrPasswordShort", err)
	}
}

func TestVerifyUnknownAccountAndBadHashes(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1}, 1)
	// An unknown account never verifies, whatever the password.
	if ok, err := h.Verify(ctx, "", "sendora dummy password"); ok || err != nil {
		t.Errorf("Verify of an unknown account = %v, %v", ok, err)
	}
	for _, bad := range []string{
		"plain",
		"$2a$10$abcdefghijklmnopqrstuv",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB: refused, not allocated
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, err := h.Verify(ctx, bad, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestHashingConcurrencyIsCapped(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1}, 2)
	// Hold both slots; a third hash must wait, and give up with its context.
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	// A request whose client is gone gets its context's error, not
	// ErrBusy: the server is not busy, there is just nobody to answer.
	if _, err := h.Hash(cctx, "correct horse battery staple"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with every slot busy and the request gone = %v, want context.Canceled", err)
	}
	h.release()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			t.Errorf("Hash after a release: %v", err)
		}
	})
	wg.Wait()
	h.release()
}

func TestLimiterWindowsAndIPv6Grouping(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := &limiter{st: st, scope: "test", max: 2, window: time.Minute}
		t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		take := func(at time.Time) (bool, time.Duration, bool) {
			t.Helper()
			b, wait, first, _, err := l.take(ctx, "k", at)
			if err != nil {
				t.Fatal(err)
			}
			return b, wait, first
		}
		if b, _, _ := take(t0); b {
			t.Errorf("blocked at the first failure of 2")
		}
		if b, _, _ := take(t0.Add(time.Second)); b {
			t.Errorf("blocked at the second failure of 2")
		}
		b, wait, first := take(t0.Add(10 * time.Second))
		if !b || wait != 50*time.Second || !first {
			t.Errorf("blocked = %v, wait %s, first %v; want true, 50s, true", b, wait, first)
		}
		if _, _, first := take(t0.Add(11 * time.Second)); first {
			t.Errorf("the second refusal is reported as the first")
		}
		if b, _, _ := take(t0.Add(time.Minute)); b {
			t.Errorf("still blocked after the window")
		}
	})
	if ipKey("2001:db8:1:2:3:4:5:6") != ipKey("2001:db8:1:2:ffff::1") || ipKey("2001:db8:1:2::1") == ipKey("2001:db8:1:3::1") {
		t.Errorf("IPv6 addresses are not grouped by /64")
	}
	if ipKey("::ffff:192.0.2.1") != "192.0.2.1" {
		t.Errorf("IPv4-mapped address key = %q", ipKey("::ffff:192.0.2.1"))
	}
}

// TestThrottleSweepsOnlyExpiredWindows: the counters live in a table that
// sweeps expired windows in small batches; filler sign-ins from many
// addresses never evict a window that is still blocking an account.
func TestThrottleSweepsOnlyExpiredWindows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		th := newThrottle(st, Limits{Window: time.Minute, PerIP: 1, PerAccount: 2, PerDevice: 1})
		t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		th.lastSweep.Store(t0.UnixMilli()) // no sweep before the test asks
		// The victim's account is blocked.
		for i := range 3 {
			v, _, err := th.begin(ctx, "192.0.2."+strconv.Itoa(i+1), "victim@example.com", "", t0)
			if err != nil || v.blocked != (i == 2) {
				t.Fatalf("attempt %d on the victim = %+v, %v", i, v, err)
			}
		}
		// 1,200 filler attempts from as many addresses, 40 s later.
		t1 := t0.Add(40 * time.Second)
		for i := range 1200 {
			if _, _, err := th.begin(ctx, fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("filler%d@example.com", i), "", t1); err != nil {
				t.Fatal(err)
			}
		}
		// 30 s later the victim's window is still on (it ends at t0+60s),
		// the filler's too: a sweep deletes nothing.
		t2 := t0.Add(59 * time.Second)
		if n, err := st.SweepExpired(ctx, t2, 500); err != nil || n != 0 {
			t.Errorf("sweep before anything expired = %d, %v; want 0", n, err)
		}
		if v, _, _ := th.begin(ctx, "203.0.113.9", "victim@example.com", "", t2); !v.blocked || v.by != "account" {
			t.Errorf("the victim's lockout did not survive the filler: %+v", v)
		}
		// Once every window is over, the sweep takes them in batches.
		t3 := t1.Add(2 * time.Minute)
		total := int64(0)
		for {
			n, err := st.SweepExpired(ctx, t3, 500)
			if err != nil {
				t.Fatal(err)
			}
			if n > 500*2 {
				t.Errorf("one sweep deleted %d rows, want at most a batch per table", n)
			}
			if n == 0 {
				break
			}
			total += n
		}
		if total < 2*1200 {
			t.Errorf("swept %d windows, want every expired one (at least %d)", total, 2*1200)
		}
	})
}
