package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
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
	if _, err := h.Hash(cctx, "correct horse battery staple"); err != ErrBusy {
		t.Errorf("Hash with every slot busy = %v, want ErrBusy", err)
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
	l := newLimiter(2, time.Minute)
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l.fail("k", t0)
	if b, _, _ := l.blocked("k", t0); b {
		t.Errorf("blocked after 1 of 2 failures")
	}
	l.fail("k", t0.Add(time.Second))
	b, wait, first := l.blocked("k", t0.Add(10*time.Second))
	if !b || wait != 50*time.Second || !first {
		t.Errorf("blocked = %v, wait %s, first %v; want true, 50s, true", b, wait, first)
	}
	if _, _, first := l.blocked("k", t0.Add(11*time.Second)); first {
		t.Errorf("the second refusal is reported as the first")
	}
	if b, _, _ := l.blocked("k", t0.Add(time.Minute)); b {
		t.Errorf("still blocked after the window")
	}
	if ipKey("2001:db8:1:2:3:4:5:6") != ipKey("2001:db8:1:2:ffff::1") || ipKey("2001:db8:1:2::1") == ipKey("2001:db8:1:3::1") {
		t.Errorf("IPv6 addresses are not grouped by /64")
	}
	if ipKey("::ffff:192.0.2.1") != "192.0.2.1" {
		t.Errorf("IPv4-mapped address key = %q", ipKey("::ffff:192.0.2.1"))
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(1, time.Minute)
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i := range maxKeys + 500 {
		l.fail(strings.Repeat("k", 1+i%7)+string(rune(i)), t0)
	}
	if n := len(l.m); n > maxKeys {
		t.Errorf("limiter holds %d keys, want at most %d", n, maxKeys)
	}
}
