package identity_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// countingLoader wraps the real store and counts its reads. When hook is
// set it runs around each read, so a test can hold a load open.
type countingLoader struct {
	identity.StateLoader
	calls atomic.Int64
	hook  atomic.Pointer[func(read func() (identity.State, error)) (identity.State, error)]
}

func (l *countingLoader) IdentityState(ctx context.Context, projectID int64) (identity.State, error) {
	l.calls.Add(1)
	read := func() (identity.State, error) { return l.StateLoader.IdentityState(ctx, projectID) }
	if h := l.hook.Load(); h != nil {
		return (*h)(read)
	}
	return read()
}

func (l *countingLoader) setHook(h func(read func() (identity.State, error)) (identity.State, error)) {
	l.hook.Store(&h)
}

// waitInKeyring waits until n goroutines are parked in Verifier.Keyring
// waiting for a load (read from the goroutine dump, so no timing guess).
func waitInKeyring(n int) error {
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		for {
			m := runtime.Stack(buf, true)
			if m < len(buf) {
				buf = buf[:m]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		got := 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "identity.(*Verifier).Keyring(") {
				got++
			}
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines waiting in Keyring, want %d", got, n)
		}
		buf = buf[:cap(buf)]
		runtime.Gosched()
	}
}

func TestVerifierCacheHitDoesNoIO(t *testing.T) {
	e := newEnv(t)
	r := e.rotate(t, 0)
	tok := identity.Sign(r.Secret, "u_1")
	first := e.keyring(t)
	if got := e.loader.calls.Load(); got != 1 {
		t.Fatalf("loads after the first Keyring = %d, want 1", got)
	}
	for range 1000 {
		kr := e.keyring(t)
		if kr != first {
			t.Fatal("a cache hit returned another keyring")
		}
		if got := kr.Verify("u_1", tok, e.clock.Now()); got != identity.Verified {
			t.Fatalf("Verify = %s", got)
		}
	}
	if got := e.loader.calls.Load(); got != 1 {
		t.Errorf("loads after 1000 hits = %d, want 1", got)
	}
	st := e.v.Stats()
	if st.Hits != 1000 || st.Loads != 1 || st.LoadErrors != 0 {
		t.Errorf("stats = %+v, want 1000 hits and 1 load", st)
	}
	if !raceEnabled { // the race detector makes sync.Pool drop items, so it allocates
		allocs := testing.AllocsPerRun(1000, func() {
			kr, _ := e.v.Keyring(context.Background(), e.project)
			kr.Verify("u_1", tok, e.clock.Now())
		})
		if allocs > 2 {
			t.Errorf("Keyring+Verify on a cache hit: %.1f allocations, want at most 2", allocs)
		}
	}
}

func TestVerifierTTL(t *testing.T) {
	e := newEnv(t)
	e.rotate(t, 0)
	e.keyring(t)
	e.clock.Advance(ttl - time.Nanosecond)
	e.keyring(t)
	if got := e.loader.calls.Load(); got != 1 {
		t.Fatalf("loads just before the TTL = %d, want 1", got)
	}
	e.clock.Advance(time.Nanosecond)
	e.keyring(t)
	if got := e.loader.calls.Load(); got != 2 {
		t.Fatalf("loads at the TTL = %d, want 2", got)
	}
	// The TTL counts from the load, not from each use.
	e.clock.Advance(ttl / 2)
	e.keyring(t)
	e.clock.Advance(ttl / 2)
	e.keyring(t)
	if got := e.loader.calls.Load(); got != 3 {
		t.Errorf("loads one TTL after the second load = %d, want 3", got)
	}
	if got := e.v.TTL(); got != ttl {
		t.Errorf("TTL() = %s, want %s", got, ttl)
	}
	if got := identity.NewVerifier(e.store, e.sealer, identity.VerifierOptions{}).TTL(); got != 60*time.Second {
		t.Errorf("default TTL = %s, want 60s", got)
	}
}

// TestVerifierChangesThroughManager: a rotation or toggle made through this
// process's Manager takes effect at once, without waiting for the TTL.
func TestVerifierChangesThroughManager(t *testing.T) {
	e := newEnv(t)
	r1 := e.rotate(t, 0)
	if got := e.keyring(t).Version; got != 1 {
		t.Fatalf("version = %d", got)
	}
	r2 := e.rotate(t, 0)
	kr := e.keyring(t)
	if kr.Version != 2 {
		t.Errorf("version right after rotation = %d, want 2", kr.Version)
	}
	if got := kr.Verify("u_1", identity.Sign(r2.Secret, "u_1"), e.clock.Now()); got != identity.Verified {
		t.Errorf("new secret right after rotation: %s", got)
	}
	if got := kr.Verify("u_1", identity.Sign(r1.Secret, "u_1"), e.clock.Now()); got != identity.RotatedSecret {
		t.Errorf("old secret right after rotation: %s", got)
	}
	if err := e.m.SetStrict(context.Background(), e.project, true, admin); err != nil {
		t.Fatal(err)
	}
	if !e.keyring(t).Strict {
		t.Error("strict not seen right after SetStrict")
	}
}

// TestVerifierChangesElsewhere: a change made by another process (the CLI,
// through its own store handle and a Manager without verifier) is not seen
// before the TTL and is seen after it; Invalidate makes it seen at once.
func TestVerifierChangesElsewhere(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r1 := e.rotate(t, 0)
	e.keyring(t)

	cliStore, err := store.Open(ctx, e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer cliStore.Close()
	cli := identity.NewManager(cliStore, e.sealer, nil)
	r2, err := cli.Rotate(ctx, e.project, 0, identity.Actor{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.SetStrict(ctx, e.project, true, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(ttl - time.Second)
	kr := e.keyring(t)
	if kr.Version != 1 || kr.Strict {
		t.Errorf("within the TTL: version %d strict %v, want the cached 1 and off", kr.Version, kr.Strict)
	}
	if got := e.verify(t, r1.Secret); got != identity.Verified {
		t.Errorf("old secret within the TTL: %s, want verified (cached)", got)
	}
	e.clock.Advance(time.Second)
	kr = e.keyring(t)
	if kr.Version != 2 || !kr.Strict {
		t.Errorf("after the TTL: version %d strict %v, want 2 and on", kr.Version, kr.Strict)
	}
	if got := e.verify(t, r2.Secret); got != identity.Verified {
		t.Errorf("CLI's secret after the TTL: %s", got)
	}
	if got := e.verify(t, r1.Secret); got != identity.RotatedSecret {
		t.Errorf("old secret after the TTL: %s, want rotated_secret", got)
	}

	// Invalidate takes effect at once.
	r3, err := cli.Rotate(ctx, e.project, 0, identity.Actor{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.keyring(t).Version; got != 2 {
		t.Fatalf("version before Invalidate = %d, want the cached 2", got)
	}
	e.v.Invalidate(e.project)
	if got := e.keyring(t).Version; got != 3 {
		t.Errorf("version right after Invalidate = %d, want 3", got)
	}
	if got := e.verify(t, r3.Secret); got != identity.Verified {
		t.Errorf("newest secret after Invalidate: %s", got)
	}
}

// TestVerifierConcurrentMissesLoadOnce holds the first load open until every
// caller is waiting for it, then checks that one load served them all.
func TestVerifierConcurrentMissesLoadOnce(t *testing.T) {
	e := newEnv(t)
	e.rotate(t, 0)
	const n = 32
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) {
		if err := waitInKeyring(n); err != nil {
			t.Error(err) // the load runs on its own goroutine: no Fatal here
		}
		return read()
	})
	krs := make([]*identity.Keyring, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			kr, err := e.v.Keyring(context.Background(), e.project)
			if err != nil {
				t.Error(err)
			}
			krs[i] = kr
		})
	}
	wg.Wait()
	if got := e.loader.calls.Load(); got != 1 {
		t.Errorf("%d concurrent misses made %d loads, want 1", n, got)
	}
	for i, kr := range krs {
		if kr == nil || kr != krs[0] {
			t.Fatalf("caller %d got keyring %p, want the shared %p", i, kr, krs[0])
		}
	}
	if st := e.v.Stats(); st.Misses != n || st.Loads != 1 {
		t.Errorf("stats = %+v, want %d misses and 1 load", st, n)
	}
	// The shared load was cached.
	e.keyring(t)
	if got := e.loader.calls.Load(); got != 1 {
		t.Errorf("loads after the herd = %d, want 1", got)
	}
}

// TestVerifierCallerGivesUp: a caller whose context ends stops waiting, but
// the load it started completes for the others and is cached.
func TestVerifierCallerGivesUp(t *testing.T) {
	e := newEnv(t)
	e.rotate(t, 0)
	release := make(chan struct{})
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) {
		<-release
		return read()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.v.Keyring(ctx, e.project)
		done <- err
	}()
	if err := waitInKeyring(1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Keyring with a cancelled context: err = %v, want context.Canceled", err)
	}
	close(release)
	kr := e.keyring(t)
	if kr.Version != 1 {
		t.Errorf("version = %d", kr.Version)
	}
	e.keyring(t)
	if got := e.loader.calls.Load(); got != 1 {
		t.Errorf("loads = %d, want 1: the abandoned load should serve later callers", got)
	}
}

// TestVerifierInvalidateDuringLoad: a load that read the store before a
// rotation and finishes after it must not be cached.
func TestVerifierInvalidateDuringLoad(t *testing.T) {
	e := newEnv(t)
	e.rotate(t, 0)
	haveRead, release := make(chan struct{}), make(chan struct{})
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) {
		st, err := read()
		close(haveRead)
		<-release
		return st, err
	})
	stale := make(chan *identity.Keyring, 1)
	go func() {
		kr, _ := e.v.Keyring(context.Background(), e.project)
		stale <- kr
	}()
	<-haveRead
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) { return read() })
	e.rotate(t, 0) // commits and invalidates while the load is open
	close(release)
	if kr := <-stale; kr.Version != 1 {
		t.Errorf("the open load returned version %d, want the 1 it read", kr.Version)
	}
	if got := e.keyring(t).Version; got != 2 {
		t.Errorf("version after the rotation = %d, want 2: the stale load was cached", got)
	}
}

func TestVerifierLoadErrorsAreNotCached(t *testing.T) {
	e := newEnv(t)
	for range 2 {
		if _, err := e.v.Keyring(context.Background(), e.project+100); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Keyring(unknown project): err = %v, want ErrNotFound", err)
		}
	}
	if st := e.v.Stats(); st.Loads != 2 || st.LoadErrors != 2 {
		t.Errorf("stats = %+v, want 2 loads and 2 errors", st)
	}

	// A secret sealed under another master key is a clear error, not an
	// empty keyring that would report no_secret.
	other := identity.NewManager(e.store, identity.NewSealer(identity.NewMasterKey()), nil)
	if _, err := other.Rotate(context.Background(), e.project, 0, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Keyring(context.Background(), e.project); !errors.Is(err, identity.ErrWrongMasterKey) {
		t.Errorf("Keyring with a foreign secret: err = %v, want ErrWrongMasterKey", err)
	}
}

// TestVerifyWhileRotating rotates (with overlap) while many goroutines
// verify tokens of every secret so far, and checks each verdict against the
// keyring snapshot it came from. Run it with -race.
func TestVerifyWhileRotating(t *testing.T) {
	e := newEnv(t)
	const rotations, verifiers = 25, 8
	var mu sync.RWMutex
	secrets := map[int]identity.Secret{} // by version, once Rotate returned
	var published atomic.Int64
	stop := make(chan struct{})

	var wg sync.WaitGroup
	checks := atomic.Int64{}
	for w := range verifiers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			user := "u_" + string(rune('a'+w))
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := int(published.Load())
				kr, err := e.v.Keyring(context.Background(), e.project)
				if err != nil {
					t.Error(err)
					return
				}
				v := kr.Version
				if v < p {
					t.Errorf("keyring version %d after rotation %d returned", v, p)
					return
				}
				if p == 0 {
					continue
				}
				u := 1 + rng.IntN(p)
				mu.RLock()
				secret := secrets[u]
				mu.RUnlock()
				var want identity.Reason
				switch {
				case u == v || u == v-1:
					want = identity.Verified // current, or previous inside its 1 h overlap
				case u < v-1 && u >= v-1-identity.KeepRetired:
					want = identity.RotatedSecret
				default:
					want = identity.SignatureMismatch // deleted
				}
				if got := kr.Verify(user, identity.Sign(secret, user), e.v.Now()); got != want {
					t.Errorf("secret v%d under keyring v%d: %s, want %s", u, v, got, want)
					return
				}
				if got := kr.Verify(user, identity.Sign(secret, user+"x"), e.v.Now()); got != identity.SignatureMismatch {
					t.Errorf("another user's token, secret v%d under keyring v%d: %s, want signature_mismatch", u, v, got)
					return
				}
				checks.Add(1)
			}
		})
	}
	for range rotations {
		r := e.rotate(t, time.Hour)
		mu.Lock()
		secrets[r.Version] = r.Secret
		mu.Unlock()
		published.Store(int64(r.Version))
	}
	close(stop)
	wg.Wait()
	if checks.Load() == 0 {
		t.Error("no verification ran")
	}
	t.Logf("%d checks over %d rotations", checks.Load(), rotations)
}
