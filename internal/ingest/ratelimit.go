package ingest

import (
	"math"
	"sync"
	"time"
)

// limiter is a keyed token bucket: rate events per second with a burst of
// two seconds' worth. It forgets idle keys, so a spray of client addresses
// cannot grow it without bound.
type limiter struct {
	rate  float64
	burst float64
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{rate: perSecond, burst: max(1, 2*perSecond), max: 100_000, buckets: map[string]*bucket{}}
}

// allow takes n tokens for key. When it refuses, it returns how long until
// n tokens are available (at least one second, as Retry-After counts whole
// seconds). A nil limiter allows everything.
func (l *limiter) allow(key string, n int, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= l.max {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	need := min(float64(n), l.burst) // a batch bigger than the burst waits for a full bucket
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= need {
		b.tokens -= need
		return true, 0
	}
	wait := time.Duration(math.Ceil((need-b.tokens)/l.rate)) * time.Second
	return false, max(wait, time.Second)
}

// sweep drops buckets that have refilled completely: they hold no state.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.max {
		clear(l.buckets)
	}
}
