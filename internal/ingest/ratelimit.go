package ingest

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a keyed rate limit: rate events per second per key with a
// burst of two seconds' worth, each key a rate.Limiter.
//
// Every event is charged. A request may start when its key's bucket holds
// its events, or, for a batch larger than the burst, when the bucket is
// full; the events beyond the bucket are charged as debt that the key's
// later requests wait out. So a key limited to 10 events/s sends at most
// 10 events/s on average, however it batches them.
//
// Memory is bounded without forgetting anyone who is being limited: an
// entry is dropped only once its bucket has refilled (it then holds no
// state: a new entry would be the same). While the map is full of keys
// still being limited, new keys share one overflow bucket rather than
// evict a key that is blocked or wipe the map.
type limiter struct {
	rate  rate.Limit
	burst int
	max   int

	mu       sync.Mutex
	m        map[string]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time
	latest   time.Time // the latest time any call gave (see at)
}

// at returns now, or the latest time an earlier call gave if that is
// later. Callers race, and a request may pass the time it was received
// after others passed later ones; a rate.Limiter charged at an earlier
// time than its last moves its clock back, and credits the same seconds
// again at the next call: a slow body in flight would let its key through
// at twice the rate. l.mu is held.
func (l *limiter) at(now time.Time) time.Time {
	if now.Before(l.latest) {
		return l.latest
	}
	l.latest = now
	return now
}

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, int(math.Ceil(2*perSecond)))
	return &limiter{rate: rate.Limit(perSecond), burst: burst, max: 100_000, m: map[string]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow charges n events to key at now. When it refuses (charging
// nothing), it returns how long until the request could start. A nil
// limiter allows everything.
func (l *limiter) allow(key string, n int, now time.Time) (bool, time.Duration) {
	if l == nil || n <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.at(now)
	lim := l.entry(key, now)
	need := min(n, l.burst)
	if tokens := lim.TokensAt(now); tokens < float64(need) {
		return false, l.refill(float64(need) - tokens)
	}
	l.take(lim, n, now)
	return true, 0
}

// debt returns how long key's bucket takes to hold tokens again: 0 while
// it has some. It creates no entry: a key never charged owes nothing, and
// neither does one charge found the map full for (see charge).
func (l *limiter) debt(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.at(now)
	lim := l.m[key]
	if lim == nil {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens > 0 {
		return 0
	}
	return l.refill(1 - tokens)
}

// charge takes n tokens from key's bucket whatever it holds: past empty,
// the rest is debt (see debt). A nil limiter charges nothing, and neither
// does one whose map is full of keys in debt: debt is asked of every
// request, and a shared overflow bucket would hold back keys that were
// never charged.
func (l *limiter) charge(key string, n int, now time.Time) {
	if l == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.at(now)
	lim := l.entry(key, now)
	if lim == l.overflow {
		return
	}
	l.take(lim, n, now)
}

// take removes n tokens from lim at now, past empty as debt that later
// calls wait out; ReserveN takes at most the burst at a time, and its
// reservations are never cancelled.
func (l *limiter) take(lim *rate.Limiter, n int, now time.Time) {
	for left := n; left > 0; left -= l.burst {
		lim.ReserveN(now, min(left, l.burst))
	}
}

// refill returns how long a bucket takes to gain tokens.
func (l *limiter) refill(tokens float64) time.Duration {
	return time.Duration(tokens / float64(l.rate) * float64(time.Second))
}

// entry returns key's bucket, made if need be; past max keys, the shared
// overflow bucket. l.mu is held.
func (l *limiter) entry(key string, now time.Time) *rate.Limiter {
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= l.max {
			l.sweep(now)
		}
		if len(l.m) < l.max {
			lim = rate.NewLimiter(l.rate, l.burst)
			l.m[key] = lim
		} else {
			lim = l.overflow
		}
	}
	return lim
}

// sweep drops the entries whose buckets are full again.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
}
