package identity_test

import (
	"context"
	"testing"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestVerifierInvalidateAll: the change watcher's InvalidateAll drops every
// project's cached keyring at once (a change made by the CLI is seen by
// the next call, long before the TTL), and a load that read the store
// before it is neither cached nor joined by callers after it.
func TestVerifierInvalidateAll(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := storetest.Project(t, e.store, "blog").ID
	e.rotate(t, 0)
	if _, err := e.m.Rotate(ctx, other, 0, admin); err != nil {
		t.Fatal(err)
	}
	e.keyring(t)
	if _, err := e.v.Keyring(ctx, other); err != nil {
		t.Fatal(err)
	}

	cli := identity.NewManager(storetest.Reopen(t, e.store), e.sealer, nil)
	r2, err := cli.Rotate(ctx, e.project, 0, identity.Actor{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.SetStrict(ctx, other, true, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	if kr := e.keyring(t); kr.Version != 1 {
		t.Fatalf("before InvalidateAll: version %d, want the cached 1", kr.Version)
	}
	loads := e.loader.calls.Load()
	e.v.InvalidateAll()
	if kr := e.keyring(t); kr.Version != 2 {
		t.Errorf("after InvalidateAll: version %d, want 2", kr.Version)
	}
	if got := e.verify(t, r2.Secret); got != identity.Verified {
		t.Errorf("the CLI's secret after InvalidateAll: %s", got)
	}
	if kr, err := e.v.Keyring(ctx, other); err != nil || !kr.Strict {
		t.Errorf("the other project after InvalidateAll: strict %v, %v; want on", kr != nil && kr.Strict, err)
	}
	if got := e.loader.calls.Load() - loads; got != 2 {
		t.Errorf("loads after InvalidateAll = %d, want one per project", got)
	}

	// A load that read the store before InvalidateAll returns what it
	// read to its caller but is not cached, and a caller after
	// InvalidateAll does not wait for it: it loads afresh.
	haveRead, release := make(chan struct{}), make(chan struct{})
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) {
		st, err := read()
		close(haveRead)
		<-release
		return st, err
	})
	e.v.InvalidateAll()
	stale := make(chan *identity.Keyring, 1)
	go func() {
		kr, _ := e.v.Keyring(context.Background(), e.project)
		stale <- kr
	}()
	<-haveRead
	e.loader.setHook(func(read func() (identity.State, error)) (identity.State, error) { return read() })
	if _, err := cli.Rotate(ctx, e.project, 0, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	e.v.InvalidateAll()
	if kr := e.keyring(t); kr.Version != 3 { // did not join the open load
		t.Errorf("a caller after InvalidateAll got version %d, want 3", kr.Version)
	}
	close(release)
	if kr := <-stale; kr.Version != 2 {
		t.Errorf("the open load returned version %d, want the 2 it read", kr.Version)
	}
	if kr := e.keyring(t); kr.Version != 3 {
		t.Errorf("version after the stale load finished = %d, want 3: it was cached", kr.Version)
	}
}
