package auth

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sendora/sendora/internal/store"
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
// The counters live in the database (store.TakeThrottle), so every
// instance sharing it counts the same attempts, and a restart forgets
// nothing. Each attempt is one atomic statement; expired windows are swept
// a batch at a time.

// Limits of the three counters.
type Limits struct {
	Window     time.Duration
	PerIP      int
	PerAccount int
	PerDevice  int
}

// DefaultLimits allow a person plenty of typos and an attacker very few guesses.
var DefaultLimits = Limits{Window: 15 * time.Minute, PerIP: 20, PerAccount: 10, PerDevice: 10}

// sweepEvery is how often a sign-in attempt also deletes a batch of
// expired windows, and sweepBatch how many at most.
const (
	sweepEvery = time.Minute
	sweepBatch = 500
)

// scopeAccount is the scope of the per-account counter, keyed by the
// normalized email.
const scopeAccount = "account"

// limiter counts failures per key of one scope in fixed windows.
type limiter struct {
	st     *store.Store
	scope  string
	max    int
	window time.Duration
}

// take refuses when key is over its limit, and otherwise counts a failure
// at once and returns the window it was counted in, for giveBack. It also
// says whether this is the window's first refusal (to audit once).
func (l *limiter) take(ctx context.Context, key string, now time.Time) (blocked bool, retry time.Duration, first bool, start time.Time, err error) {
	r, err := l.st.TakeThrottle(ctx, l.scope, key, now, l.window, l.max)
	if err != nil {
		return false, 0, false, time.Time{}, err
	}
	if r.Refused {
		return true, r.WindowEnd.Sub(now), r.FirstRefusal, time.Time{}, nil
	}
	return false, 0, false, r.WindowStart, nil
}

// giveBack uncounts one failure take counted in the window that started
// at start; nothing when that window has ended since.
func (l *limiter) giveBack(ctx context.Context, key string, start time.Time) error {
	return l.st.GiveBackThrottle(ctx, l.scope, key, start)
}

// reset forgets key's failures.
func (l *limiter) reset(ctx context.Context, key string) error {
	return l.st.ResetThrottle(ctx, l.scope, key)
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
	st                  *store.Store
	ip, account, device *limiter
	lastSweep           atomic.Int64 // Unix ms of the last sweep
}

func newThrottle(st *store.Store, l Limits) *throttle {
	if l.Window <= 0 {
		l = DefaultLimits
	}
	return &throttle{
		st:      st,
		ip:      &limiter{st: st, scope: "ip", max: l.PerIP, window: l.Window},
		account: &limiter{st: st, scope: scopeAccount, max: l.PerAccount, window: l.Window},
		device:  &limiter{st: st, scope: "device", max: l.PerDevice, window: l.Window},
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
// nowhere. An error means the database could not count it: the attempt
// must not proceed.
func (t *throttle) begin(ctx context.Context, ip, account, device string, now time.Time) (verdict, attempt, error) {
	t.sweep(ctx, now)
	a := attempt{ip: ipKey(ip), account: account, device: device}
	if device != "" {
		b, d, first, at, err := t.device.take(ctx, device, now)
		if err != nil || b {
			return verdict{b, d, first, "device"}, attempt{}, err
		}
		a.deviceAt = at
		return verdict{}, a, nil
	}
	b, d, first, at, err := t.ip.take(ctx, a.ip, now)
	if err != nil || b {
		return verdict{b, d, first, "ip"}, attempt{}, err
	}
	a.ipAt = at
	if b, d, first, at, err = t.account.take(ctx, account, now); err != nil || b {
		if gerr := t.ip.giveBack(ctx, a.ip, a.ipAt); err == nil {
			err = gerr
		}
		return verdict{b, d, first, "account"}, attempt{}, err
	}
	a.accountAt = at
	return verdict{}, a, nil
}

// succeeded clears the counters the successful client is charged to. The
// account counter only takes back this attempt: an attacker may still be
// at it from elsewhere.
func (t *throttle) succeeded(ctx context.Context, a attempt) error {
	if a.device != "" {
		return t.device.reset(ctx, a.device)
	}
	return errors.Join(t.ip.reset(ctx, a.ip), t.account.giveBack(ctx, a.account, a.accountAt))
}

// cancel takes back an attempt whose password was never checked (the
// server was too busy), so it counts as no failure.
func (t *throttle) cancel(ctx context.Context, a attempt) error {
	if a.device != "" {
		return t.device.giveBack(ctx, a.device, a.deviceAt)
	}
	return errors.Join(t.ip.giveBack(ctx, a.ip, a.ipAt), t.account.giveBack(ctx, a.account, a.accountAt))
}

// sweep deletes a batch of expired windows (and setup links) at most once
// a minute per process; a failure only leaves them for the next sweep.
func (t *throttle) sweep(ctx context.Context, now time.Time) {
	last := t.lastSweep.Load()
	if now.UnixMilli()-last < sweepEvery.Milliseconds() || !t.lastSweep.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	t.st.SweepExpired(ctx, now, sweepBatch)
}
