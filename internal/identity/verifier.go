package identity

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCacheTTL is how long a project's keyring is trusted before it is
// read again, so changes made by another instance or the CLI arrive in time.
const DefaultCacheTTL = 60 * time.Second

// StateLoader reads a project's identity state from storage.
type StateLoader interface {
	IdentityState(ctx context.Context, projectID int64) (State, error)
}

// VerifierStats counts cache behaviour for metrics.
type VerifierStats struct {
	Hits, Misses, Loads, LoadErrors uint64
}

// Verifier answers "does this token prove this userId for this project?"
// from an in-memory cache of each project's keyring. A cache hit does no
// I/O; concurrent misses for one project share one load; a change made
// through Manager invalidates the entry at once; one made elsewhere (the
// CLI, another instance) when the process's change watcher calls
// InvalidateAll, within a second, and at the latest once the entry is older
// than the TTL.
type Verifier struct {
	loader StateLoader
	sealer *Sealer
	ttl    time.Duration
	now    func() time.Time

	entries atomic.Pointer[map[int64]*cacheEntry] // copy-on-write; readers never lock

	mu  sync.Mutex       // serialises writers of entries and gens
	gen map[int64]uint64 // bumped by Invalidate; a load started under an older gen is not cached
	// epoch is bumped by InvalidateAll: a load started in an older epoch
	// is not cached, and loads are shared per (project, epoch), so callers
	// after an InvalidateAll never join a load that began before it.
	epoch atomic.Uint64
	sf    singleflight.Group

	hits, misses, loads, loadErrors atomic.Uint64
}

type cacheEntry struct {
	kr      *Keyring
	expires time.Time
}

// VerifierOptions configures a Verifier. Zero values take defaults.
type VerifierOptions struct {
	TTL time.Duration    // DefaultCacheTTL when 0
	Now func() time.Time // time.Now when nil; tests inject a fake clock
}

// NewVerifier returns a Verifier reading through loader and unsealing with sealer.
func NewVerifier(loader StateLoader, sealer *Sealer, opt VerifierOptions) *Verifier {
	if opt.TTL <= 0 {
		opt.TTL = DefaultCacheTTL
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	v := &Verifier{loader: loader, sealer: sealer, ttl: opt.TTL, now: opt.Now, gen: map[int64]uint64{}}
	empty := map[int64]*cacheEntry{}
	v.entries.Store(&empty)
	return v
}

// TTL returns the cache lifetime: how long another instance may keep using
// a keyring after a change.
func (v *Verifier) TTL() time.Duration { return v.ttl }

// Now returns the verifier's clock reading.
func (v *Verifier) Now() time.Time { return v.now() }

// Keyring returns the project's keyring, from the cache when it is fresh.
func (v *Verifier) Keyring(ctx context.Context, projectID int64) (*Keyring, error) {
	now := v.now()
	if e, ok := (*v.entries.Load())[projectID]; ok && now.Before(e.expires) {
		v.hits.Add(1)
		return e.kr, nil
	}
	v.misses.Add(1)
	ch := v.sf.DoChan(v.flightKey(projectID), func() (any, error) {
		return v.load(projectID)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Keyring), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load runs once per project however many callers missed together. It does
// not use a caller's context, so one caller giving up does not fail the rest.
func (v *Verifier) load(projectID int64) (*Keyring, error) {
	v.mu.Lock()
	gen, epoch := v.gen[projectID], v.epoch.Load()
	v.mu.Unlock()

	v.loads.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := v.loader.IdentityState(ctx, projectID)
	if err != nil {
		v.loadErrors.Add(1)
		return nil, err
	}
	kr, err := NewKeyring(st, v.sealer)
	if err != nil {
		v.loadErrors.Add(1)
		return nil, err
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen[projectID] == gen && v.epoch.Load() == epoch { // no Invalidate raced with this load
		v.store(projectID, &cacheEntry{kr: kr, expires: v.now().Add(v.ttl)})
	}
	return kr, nil
}

// store replaces one entry; v.mu must be held.
func (v *Verifier) store(projectID int64, e *cacheEntry) {
	old := *v.entries.Load()
	next := make(map[int64]*cacheEntry, len(old)+1)
	for id, oe := range old {
		next[id] = oe
	}
	if e == nil {
		delete(next, projectID)
	} else {
		next[projectID] = e
	}
	v.entries.Store(&next)
}

// Invalidate drops the project's cached keyring so the next call reads the
// store. Manager calls it after every change made through this process.
func (v *Verifier) Invalidate(projectID int64) {
	v.mu.Lock()
	v.gen[projectID]++
	v.store(projectID, nil)
	v.mu.Unlock()
	v.sf.Forget(v.flightKey(projectID))
}

// InvalidateAll drops every cached keyring, so the next call for each
// project reads the store. The change watcher calls it when another
// process (the CLI, another instance) changed any project.
func (v *Verifier) InvalidateAll() {
	v.mu.Lock()
	v.epoch.Add(1)
	empty := map[int64]*cacheEntry{}
	v.entries.Store(&empty)
	v.mu.Unlock()
}

func (v *Verifier) flightKey(projectID int64) string {
	return strconv.FormatInt(projectID, 10) + "@" + strconv.FormatUint(v.epoch.Load(), 10)
}

// Stats returns cumulative cache counters.
func (v *Verifier) Stats() VerifierStats {
	return VerifierStats{Hits: v.hits.Load(), Misses: v.misses.Load(), Loads: v.loads.Load(), LoadErrors: v.loadErrors.Load()}
}
