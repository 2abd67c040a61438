package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Login throttling.
//
// Three counters of failed sign-ins, each a fixed window per key:
//
//   - per client IP (IPv6 by /64): stops one source guessing many accounts;
//   - per account, for browsers that are not known devices: stops many
//     sources guessing one account;
//   - per known device: a browser that signed in to the account before
//     carries a signed "known device" cookie; its failures count against
//     that device only.
//
// An attempt is counted before its password is checked (begin) and taken
// back if it succeeds: counting only after the check would let a burst of
// concurrent guesses all pass the check while the first ones are still
// being hashed, each hash taking tens of milliseconds.
//
// A known-device cookie for the account skips the IP and account counters.
// So an attacker who hammers the admin's email locks out only unknown
// browsers, never the admin's own browser, and the admin's typos never
// lock out anyone else. This is OWASP's "device cookie" design. A stolen
// device cookie buys its thief only the device's own small budget, and
// every attempt still needs the password.
//
// The counters live in this process's memory: a restart clears them, and
// several instances each count their own.

// Limits of the three counters.
type Limits struct {
	Window     time.Duration
	PerIP      int
	PerAccount int
	PerDevice  int
}

// DefaultLimits allow a person plenty of typos and an attacker very few guesses.
var DefaultLimits = Limits{Window: 15 * time.Minute, PerIP: 20, PerAccount: 10, PerDevice: 10}

// maxKeys bounds each counter's memory.
const maxKeys = 10_000

type window struct {
	start    time.Time
	failures int
	reported bool // the block was audited once
}

// limiter counts failures per key in fixed windows.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	m      map[string]*window
}

func newLimiter(limit int, w time.Duration) *limiter {
	return &limiter{max: limit, window: w, m: map[string]*window{}}
}

// blocked reports whether key is over its limit at now, how long until it
// is not, and whether this is the first refusal of the window (to audit once).
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[key]
	if !ok || now.Sub(w.start) >= l.window {
		return false, 0, false
	}
	if w.failures < l.max {
		return false, 0, false
	}
	first := !w.reported
	w.reported = true
	return true, w.start.Add(l.window).Sub(now), first
}

// fail counts one failure for key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(key, now)
}

func (l *limiter) count(key string, now time.Time) *window {
	w, ok := l.m[key]
	if !ok || now.Sub(w.start) >= l.window {
		if !ok && len(l.m) >= maxKeys {
			l.sweep(now)
		}
		w = &window{start: now}
		l.m[key] = w
	}
	w.failures++
	return w
}

// take is blocked and fail in one step: it refuses when key is over its
// limit (as blocked does), and otherwise counts a failure at once and
// returns the window it was counted in, for giveBack.
func (l *limiter) take(key string, now time.Time) (blocked bool, retry time.Duration, first bool, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.m[key]; ok && now.Sub(w.start) < l.window && w.failures >= l.max {
		first := !w.reported
		w.reported = true
		return true, w.start.Add(l.window).Sub(now), first, time.Time{}
	}
	return false, 0, false, l.count(key, now).start
}

// giveBack uncounts one failure take counted in the window that started
// at start; nothing when that window has ended since.
func (l *limiter) giveBack(key string, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.m[key]; ok && w.start.Equal(start) && w.failures > 0 {
		w.failures--
	}
}

// reset forgets key's failures.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// sweep drops expired windows and, if the map is still full, arbitrary
// ones: evicting a counter costs an attacker thousands of slow, failed
// attempts to regain a handful of guesses.
func (l *limiter) sweep(now time.Time) {
	for k, w := range l.m {
		if now.Sub(w.start) >= l.window {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxKeys {
			break
		}
		delete(l.m, k)
	}
}

// ipKey groups IPv6 clients by /64, which one host usually controls whole.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// throttle holds the three counters.
type throttle struct {
	ip, account, device *limiter
}

func newThrottle(l Limits) *throttle {
	if l.Window <= 0 {
		l = DefaultLimits
	}
	return &throttle{
		ip:      newLimiter(l.PerIP, l.Window),
		account: newLimiter(l.PerAccount, l.Window),
		device:  newLimiter(l.PerDevice, l.Window),
	}
}

// verdict is the throttle's answer for one attempt.
type verdict struct {
	blocked    bool
	retryAfter time.Duration
	first      bool   // first refusal of its window: audit it
	by         string // "ip", "account" or "device"
}

// attempt is one sign-in counted ahead of its outcome by begin.
type attempt struct {
	ip, account, device string
	// when each counter counted it (zero: not counted there).
	ipAt, accountAt, deviceAt time.Time
}

// begin decides whether an attempt may proceed and, if it may, counts it
// as a failure at once; succeeded or cancel take that back. device is the
// known-device id for this account, or "". A refused attempt counts
// nowhere.
func (t *throttle) begin(ip, account, device string, now time.Time) (verdict, attempt) {
	a := attempt{ip: ipKey(ip), account: account, device: device}
	if device != "" {
		b, d, first, at := t.device.take(device, now)
		if b {
			return verdict{true, d, first, "device"}, attempt{}
		}
		a.deviceAt = at
		return verdict{}, a
	}
	b, d, first, at := t.ip.take(a.ip, now)
	if b {
		return verdict{true, d, first, "ip"}, attempt{}
	}
	a.ipAt = at
	if b, d, first, at = t.account.take(account, now); b {
		t.ip.giveBack(a.ip, a.ipAt)
		return verdict{true, d, first, "account"}, attempt{}
	}
	a.accountAt = at
	return verdict{}, a
}

// succeeded clears the counters the successful client is charged to. The
// account counter only takes back this attempt: an attacker may still be
// at it from elsewhere.
func (t *throttle) succeeded(a attempt) {
	if a.device != "" {
		t.device.reset(a.device)
		return
	}
	t.ip.reset(a.ip)
	t.account.giveBack(a.account, a.accountAt)
}

// cancel takes back an attempt whose password was never checked (the
// server was too busy), so it counts as no failure.
func (t *throttle) cancel(a attempt) {
	if a.device != "" {
		t.device.giveBack(a.device, a.deviceAt)
		return
	}
	t.ip.giveBack(a.ip, a.ipAt)
	t.account.giveBack(a.account, a.accountAt)
}
