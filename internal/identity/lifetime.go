package identity

import (
	"errors"
	"time"
)

// A project's maximum token lifetime bounds how far ahead of the time it
// is verified a JWT's exp may lie (State.MaxLifetime). Verified JWTs are
// counted by lifetime class, so the dashboard can say how many recent
// events a maximum lifetime would have refused without keeping any token.

// The bounds of a maximum token lifetime: 0 is none.
const (
	MinMaxLifetime = time.Minute
	MaxMaxLifetime = 365 * 24 * time.Hour
)

// ErrBadLifetime refuses a maximum token lifetime outside its bounds.
var ErrBadLifetime = errors.New("the maximum token lifetime must be 0 (none) or between 1m and 8760h (365 days)")

// CheckMaxLifetime returns ErrBadLifetime unless d is 0 or within
// [MinMaxLifetime, MaxMaxLifetime].
func CheckMaxLifetime(d time.Duration) error {
	if d != 0 && (d < MinMaxLifetime || d > MaxMaxLifetime) {
		return ErrBadLifetime
	}
	return nil
}

// LifetimeClass is how far ahead a verified JWT's exp lay when it was
// verified, to the precision of the maximum lifetimes the dashboard
// offers.
type LifetimeClass struct {
	// Name is how the store keeps the class: "5m", "15m", "1h", "6h",
	// "24h", "7d", "longer" (beyond the longest choice) or "no_exp".
	Name string
	// Bound is the shortest maximum lifetime under which the token still
	// verifies; 0 for "longer" and "no_exp", which every offered maximum
	// refuses.
	Bound time.Duration
}

// LifetimeClasses lists the classes from the shortest, the last two being
// "longer" and "no_exp". Each bounded class's Bound is a maximum lifetime
// the dashboard offers.
var LifetimeClasses = []LifetimeClass{
	{"5m", 5 * time.Minute},
	{"15m", 15 * time.Minute},
	{"1h", time.Hour},
	{"6h", 6 * time.Hour},
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"longer", 0},
	{"no_exp", 0},
}

// ClassOfLifetime returns the name of the class of a JWT whose exp is
// expiresAt (zero: it has none), verified at now: the first class whose
// Bound, as a maximum lifetime, would still let it verify.
func ClassOfLifetime(expiresAt, now time.Time) string {
	if expiresAt.IsZero() {
		return "no_exp"
	}
	for _, c := range LifetimeClasses {
		if c.Bound > 0 && !exceedsLifetime(expiresAt, now, c.Bound) {
			return c.Name
		}
	}
	return "longer"
}

// LifetimeRefuses says what a maximum lifetime of limit (> 0) does to
// the tokens of the class named class: refuses all of them, some of them
// (limit lies inside the class's span, so the counters cannot tell how
// many), or none (all and some both false).
func LifetimeRefuses(class string, limit time.Duration) (all, some bool) {
	var prev time.Duration // the bound of the class before
	for _, c := range LifetimeClasses {
		if c.Name != class {
			prev = max(prev, c.Bound)
			continue
		}
		switch {
		case c.Name == "no_exp":
			return true, true
		case limit <= prev: // each failed under prev already
			return true, true
		case c.Bound == 0: // longer: beyond prev, how far is not counted
			return false, true
		case limit >= c.Bound:
			return false, false
		}
		return false, true
	}
	return false, false // not a class of verified JWTs
}

// exceedsLifetime is the maximum-lifetime rule of verifyJWT: exp further
// ahead of now than max plus JWTLeeway.
func exceedsLifetime(expiresAt, now time.Time, max time.Duration) bool {
	return expiresAt.After(now.Add(max + JWTLeeway))
}
