package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

// TestThrottleHoldsUnderConcurrentGuesses sends a burst of wrong guesses at
// one account at once, each from its own address: no more of them may
// have their password checked (401) than the account's limit; the rest are
// refused unchecked (429). Counting a failure only after the check would
// let every request of the burst pass the check first.
func TestThrottleHoldsUnderConcurrentGuesses(t *testing.T) {
	limits := auth.Limits{Window: 15 * time.Minute, PerIP: 1000, PerAccount: 3, PerDevice: 3}
	// Production's hashing cost: each check takes long enough for the whole
	// burst to arrive while the first guesses are being checked.
	e := dashtest.New(t, dashtest.Options{Limits: limits, TrustedProxies: []string{"127.0.0.1"}, Params: auth.DefaultParams})
	e.CreateAdmin("ada@example.com")

	// The admin's own browser, a known device, before the attack.
	admin := e.NewClient()
	admin.Header.Set("X-Forwarded-For", "192.0.2.10")
	admin.Login("ada@example.com", dashtest.Password)
	admin.Post("/logout", nil)

	const burst = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := make(chan struct{})
	for i := range burst {
		wg.Go(func() {
			c := e.NewClient()
			c.Header.Set("X-Forwarded-For", "198.51.100."+itoa(i+1))
			<-start
			r := c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {"guess number " + itoa(i)}})
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if codes[http.StatusUnauthorized] > limits.PerAccount || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != burst {
		t.Errorf("a burst of %d guesses: %v; want at most %d checked (401), the rest refused (429)", burst, codes, limits.PerAccount)
	}
	// The real admin's browser is not locked out by the burst.
	if r := admin.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the admin's known browser after the burst = %d, want 303", r.StatusCode)
	}
}

// TestThrottleRevealsNothing: an attacker cannot learn from the throttle
// whether an email belongs to an admin, nor, once refused, whether a
// guess was right. A known and an unknown email are throttled after the
// same number of failures with the same answers, and a throttled attempt
// with the right password is answered exactly like one with a wrong one,
// with no session.
func TestThrottleRevealsNothing(t *testing.T) {
	limits := auth.Limits{Window: 15 * time.Minute, PerIP: 1000, PerAccount: 4, PerDevice: 4}
	e := dashtest.New(t, dashtest.Options{Limits: limits, TrustedProxies: []string{"127.0.0.1"}})
	e.CreateAdmin("ada@example.com")
	ip := 0
	attempt := func(email, pw string) (int, string, string) {
		ip++
		c := e.NewClient()
		c.Header.Set("X-Forwarded-For", "203.0.113."+itoa(ip))
		r := c.Post("/login", url.Values{"email": {email}, "password": {pw}})
		if c.Cookie(auth.SessionCookie) != nil && r.StatusCode != http.StatusSeeOther {
			t.Errorf("a refused sign-in set a session")
		}
		msg := ""
		for _, n := range r.Doc(t).Find("p", "role", "alert") {
			msg += dashtest.Text(n)
		}
		return r.StatusCode, msg, r.Header.Get("Retry-After")
	}
	for i := range limits.PerAccount + 3 {
		kc, km, kr := attempt("ada@example.com", "wrong guess "+itoa(i))
		uc, um, ur := attempt("nobody@example.com", "wrong guess "+itoa(i))
		if kc != uc || km != um || kr != ur {
			t.Errorf("attempt %d: known email → %d %q (Retry-After %q), unknown → %d %q (%q); want the same", i, kc, km, kr, uc, um, ur)
		}
		want := http.StatusUnauthorized
		if i >= limits.PerAccount {
			want = http.StatusTooManyRequests
		}
		if kc != want {
			t.Errorf("attempt %d = %d, want %d", i, kc, want)
		}
	}
	rc, rm, rr := attempt("ada@example.com", dashtest.Password)
	wc, wm, wr := attempt("ada@example.com", "still wrong, still wrong")
	if rc != http.StatusTooManyRequests || rc != wc || rm != wm || rr != wr {
		t.Errorf("throttled: right password → %d %q %q, wrong → %d %q %q; want the same 429", rc, rm, rr, wc, wm, wr)
	}
	if strings.Contains(rm, "incorrect") {
		t.Errorf("the throttled answer says whether the password was checked: %q", rm)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestResetPasswordClearsTheAccountLockout: an admin locked out by failed
// sign-ins (on a browser that is not a known device) whose password is
// reset with `admin reset-password` signs in with the new one at once,
// instead of waiting out the window; guesses at it count afresh.
func TestResetPasswordClearsTheAccountLockout(t *testing.T) {
	limits := auth.Limits{Window: 15 * time.Minute, PerIP: 1000, PerAccount: 3, PerDevice: 3}
	e := dashtest.New(t, dashtest.Options{Limits: limits, TrustedProxies: []string{"127.0.0.1"}})
	e.CreateAdmin("ada@example.com")
	ip := 0
	signIn := func(pw string) int {
		ip++
		c := e.NewClient()
		c.Header.Set("X-Forwarded-For", "198.51.100."+itoa(ip))
		return c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {pw}}).StatusCode
	}
	for i := range limits.PerAccount {
		if code := signIn("wrong guess " + itoa(i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, code)
		}
	}
	if code := signIn(dashtest.Password); code != http.StatusTooManyRequests {
		t.Fatalf("the right password on a locked account = %d, want 429", code)
	}
	const newPW = "a brand new passphrase"
	if _, err := auth.ResetPassword(context.Background(), e.Store, auth.NewHasher(auth.DefaultParams, 1), "Ada@Example.com", newPW, store.Audit{Actor: "cli", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if code := signIn(newPW); code != http.StatusSeeOther {
		t.Fatalf("the new password after the reset = %d, want 303", code)
	}
	for i := range limits.PerAccount {
		signIn("another wrong guess " + itoa(i))
	}
	if code := signIn(newPW); code != http.StatusTooManyRequests {
		t.Errorf("after %d new failures = %d, want the lockout back (429)", limits.PerAccount, code)
	}
}
