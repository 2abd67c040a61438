package ingest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sendora/sendora/internal/store"
)

// project is what ingestion needs to know about the project a public key
// names.
type project struct {
	id      int64
	name    string
	origins []string // allowed origins; empty allows any
}

// keyCache maps public keys to projects in memory, so an event costs no
// database read. Known keys are kept for the TTL; unknown ones for a short
// while, so a client hammering with a bad key does not hammer the store.
type keyCache struct {
	st     *store.Store
	ttl    time.Duration
	negTTL time.Duration
	now    func() time.Time
	max    int

	mu  sync.RWMutex
	m   map[string]keyEntry
	gen uint64 // bumped by invalidateAll; a load from an older gen is not kept
	sf  singleflight.Group
}

type keyEntry struct {
	p       *project // nil: unknown key
	expires time.Time
}

func newKeyCache(st *store.Store, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{st: st, ttl: ttl, negTTL: min(ttl, 5*time.Second), now: now, max: 100_000, m: map[string]keyEntry{}}
}

// errUnknownKey means no project has the public key.
var errUnknownKey = errors.New("unknown public key")

func (c *keyCache) lookup(ctx context.Context, key string) (*project, error) {
	if len(key) < len(store.PublicKeyPrefix) || len(key) > 128 || key[:len(store.PublicKeyPrefix)] != store.PublicKeyPrefix {
		return nil, errUnknownKey
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.p == nil {
			return nil, errUnknownKey
		}
		return e.p, nil
	}
	// Loads are shared per generation, so a lookup after invalidateAll
	// never joins a load that began before it.
	ch := c.sf.DoChan(strconv.FormatUint(gen, 10)+"/"+key, func() (any, error) { return c.load(key, gen) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*project), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *keyCache) load(key string, gen uint64) (*project, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := c.now()
	sp, err := c.st.ProjectByKey(ctx, key, now)
	var e keyEntry
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = keyEntry{expires: now.Add(c.negTTL)}
	case err != nil:
		return nil, err
	default:
		e = keyEntry{p: &project{id: sp.ID, name: sp.Name, origins: sp.AllowedOrigins}, expires: now.Add(c.ttl)}
		// A replaced key that stops by itself (project key rotate --keep)
		// is forgotten when it stops, not a TTL later.
		if key == sp.PreviousPublicKey && !sp.PreviousKeyUntil.IsZero() && sp.PreviousKeyUntil.Before(e.expires) {
			e.expires = sp.PreviousKeyUntil
		}
	}
	c.mu.Lock()
	if c.gen == gen { // no invalidateAll since the load began
		if len(c.m) >= c.max {
			c.makeRoom()
		}
		if e.p != nil || len(c.m) < c.max {
			c.m[key] = e
		}
	}
	c.mu.Unlock()
	if e.p == nil {
		return nil, errUnknownKey
	}
	return e.p, nil
}

// makeRoom, with the map full (a flood of distinct bad keys), drops expired
// entries and then unknown keys, never a known one: so the flood costs the
// flooder store reads, and never the projects' own traffic. Known keys are
// as many as the projects' keys, far below the bound. c.mu is held.
func (c *keyCache) makeRoom() {
	now := c.now()
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	for k, e := range c.m {
		if len(c.m) < c.max*9/10 {
			return
		}
		if e.p == nil {
			delete(c.m, k)
		}
	}
}

// invalidateAll forgets every key, known and unknown, so the next event of
// each reads the store again: a project was created, changed its keys or
// origins, or was deleted, here or in another process.
func (c *keyCache) invalidateAll() {
	c.mu.Lock()
	c.gen++
	c.m = make(map[string]keyEntry)
	c.mu.Unlock()
}
