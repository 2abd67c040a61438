package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// env is one project on a real SQLite file, a verifier on a fake clock and
// the Manager the dashboard would use.
type env struct {
	store   *store.Store
	sealer  *identity.Sealer
	clock   *fakeclock.Clock
	loader  *countingLoader
	v       *identity.Verifier
	m       *identity.Manager
	project int64
}

const ttl = time.Minute

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: storetest.New(t), sealer: storetest.Sealer(), clock: fakeclock.New(t0)}
	e.project = storetest.Project(t, e.store, "shop").ID
	e.loader = &countingLoader{StateLoader: e.store}
	e.v = identity.NewVerifier(e.loader, e.sealer, identity.VerifierOptions{TTL: ttl, Now: e.clock.Now})
	e.m = identity.NewManager(e.store, e.sealer, e.v)
	return e
}

var admin = identity.Actor{Name: "sam@acme.co", IP: "203.0.113.9"}

func (e *env) rotate(t *testing.T, overlap time.Duration) identity.Rotated {
	t.Helper()
	r, err := e.m.Rotate(context.Background(), e.project, overlap, admin)
	if err != nil {
		t.Fatalf("Rotate(%s): %v", overlap, err)
	}
	return r
}

func (e *env) keyring(t *testing.T) *identity.Keyring {
	t.Helper()
	kr, err := e.v.Keyring(context.Background(), e.project)
	if err != nil {
		t.Fatalf("Keyring: %v", err)
	}
	return kr
}

func (e *env) state(t *testing.T) identity.State {
	t.Helper()
	st, err := e.store.IdentityState(context.Background(), e.project)
	if err != nil {
		t.Fatalf("IdentityState: %v", err)
	}
	return st
}

// verify checks a token signed by secret for "u_1" through the verifier, at
// the verifier's time.
func (e *env) verify(t *testing.T, secret identity.Secret) identity.Reason {
	t.Helper()
	return e.keyring(t).Verify("u_1", identity.Sign(secret, "u_1"), e.v.Now())
}

func statuses(st identity.State) string {
	var b strings.Builder
	for _, k := range st.Keys {
		fmt.Fprintf(&b, "v%d:%s ", k.Version, k.Status)
	}
	return strings.TrimSpace(b.String())
}

func TestRotateFirstSecret(t *testing.T) {
	e := newEnv(t)
	if r := e.keyring(t).Verify("u_1", "hmac_v1:"+strings.Repeat("0", 64), e.v.Now()); r != identity.NoSecret {
		t.Fatalf("before any rotation: %s, want no_secret", r)
	}
	r1 := e.rotate(t, time.Hour)
	if r1.Version != 1 {
		t.Errorf("first version = %d, want 1", r1.Version)
	}
	if got := e.verify(t, r1.Secret); got != identity.Verified {
		t.Errorf("new secret: %s, want verified", got)
	}
	kr := e.keyring(t)
	if !kr.HasSecret() || kr.Version != 1 {
		t.Errorf("keyring: HasSecret %v, Version %d", kr.HasSecret(), kr.Version)
	}
	st := e.state(t)
	if got := statuses(st); got != "v1:current" {
		t.Errorf("state = %s, want v1:current", got)
	}
	cur, _ := st.Current()
	if cur.Fingerprint != r1.Secret.Fingerprint() || cur.CreatedBy != admin.Name || !cur.CreatedAt.Equal(t0) {
		t.Errorf("current key = %+v", cur)
	}
}

func TestRotateOverlap(t *testing.T) {
	for _, overlap := range []time.Duration{time.Hour, 24 * time.Hour} {
		t.Run(overlap.String(), func(t *testing.T) {
			e := newEnv(t)
			r1 := e.rotate(t, 0)
			e.clock.Advance(10 * time.Minute)
			rotatedAt := e.clock.Now()
			r2 := e.rotate(t, overlap)

			if got := statuses(e.state(t)); got != "v2:current v1:previous" {
				t.Fatalf("state = %s, want v2:current v1:previous", got)
			}
			prev, _ := e.state(t).Previous()
			if want := rotatedAt.Add(overlap); !prev.ValidUntil.Equal(want) || !prev.RetiredAt.Equal(rotatedAt) {
				t.Errorf("previous: ValidUntil %s RetiredAt %s, want %s and %s", prev.ValidUntil, prev.RetiredAt, want, rotatedAt)
			}
			if got := e.verify(t, r2.Secret); got != identity.Verified {
				t.Errorf("new secret: %s, want verified", got)
			}
			if got := e.verify(t, r1.Secret); got != identity.Verified {
				t.Errorf("previous secret right after rotation: %s, want verified", got)
			}
			// The cached keyring judges the overlap by the time of each
			// event, not the time it was loaded.
			kr := e.keyring(t)
			tok := identity.Sign(r1.Secret, "u_1")
			if got := kr.Verify("u_1", tok, rotatedAt.Add(overlap-time.Millisecond)); got != identity.Verified {
				t.Errorf("previous secret 1 ms before overlap end: %s, want verified", got)
			}
			if got := kr.Verify("u_1", tok, rotatedAt.Add(overlap)); got != identity.RotatedSecret {
				t.Errorf("previous secret at overlap end: %s, want rotated_secret", got)
			}

			e.clock.Advance(overlap - time.Second)
			if got := e.verify(t, r1.Secret); got != identity.Verified {
				t.Errorf("previous secret 1 s before overlap end: %s, want verified", got)
			}
			e.clock.Advance(time.Second)
			if got := e.verify(t, r1.Secret); got != identity.RotatedSecret {
				t.Errorf("previous secret after overlap end: %s, want rotated_secret", got)
			}
			if got := e.verify(t, r2.Secret); got != identity.Verified {
				t.Errorf("current secret after overlap end: %s, want verified", got)
			}
		})
	}
}

func TestRotateWithoutOverlapRetiresAtOnce(t *testing.T) {
	e := newEnv(t)
	r1 := e.rotate(t, 0)
	if got := e.verify(t, r1.Secret); got != identity.Verified {
		t.Fatalf("first secret: %s", got)
	}
	r2 := e.rotate(t, 0)
	if got := e.verify(t, r1.Secret); got != identity.RotatedSecret {
		t.Errorf("replaced secret with no overlap: %s, want rotated_secret", got)
	}
	if got := e.verify(t, r2.Secret); got != identity.Verified {
		t.Errorf("new secret: %s, want verified", got)
	}
	if got := statuses(e.state(t)); got != "v2:current v1:retired" {
		t.Errorf("state = %s, want v2:current v1:retired", got)
	}
}

func TestNewRotationEndsEarlierOverlap(t *testing.T) {
	e := newEnv(t)
	r1 := e.rotate(t, 0)
	r2 := e.rotate(t, 24*time.Hour)
	e.clock.Advance(time.Minute)
	r3 := e.rotate(t, 24*time.Hour)

	if got := statuses(e.state(t)); got != "v3:current v2:previous v1:retired" {
		t.Errorf("state = %s", got)
	}
	want := map[int]identity.Reason{1: identity.RotatedSecret, 2: identity.Verified, 3: identity.Verified}
	verified := 0
	for _, r := range []identity.Rotated{r1, r2, r3} {
		got := e.verify(t, r.Secret)
		if got != want[r.Version] {
			t.Errorf("v%d: %s, want %s", r.Version, got, want[r.Version])
		}
		if got == identity.Verified {
			verified++
		}
	}
	if verified > 2 {
		t.Errorf("%d secrets verify, want at most 2", verified)
	}

	// A rotation without overlap ends the running one too: one secret left.
	r4 := e.rotate(t, 0)
	for _, r := range []identity.Rotated{r1, r2, r3} {
		if got := e.verify(t, r.Secret); got != identity.RotatedSecret {
			t.Errorf("v%d after a rotation without overlap: %s, want rotated_secret", r.Version, got)
		}
	}
	if got := e.verify(t, r4.Secret); got != identity.Verified {
		t.Errorf("v4: %s, want verified", got)
	}
}

func TestRetiredBeyondKeepAreDeleted(t *testing.T) {
	for _, overlap := range []time.Duration{0, time.Hour} {
		t.Run("overlap "+overlap.String(), func(t *testing.T) {
			e := newEnv(t)
			n := identity.KeepRetired + 6
			var rs []identity.Rotated
			for range n {
				rs = append(rs, e.rotate(t, overlap))
				e.clock.Advance(time.Minute)
			}
			st := e.state(t)
			inOverlap := 0
			if overlap > 0 {
				inOverlap = 1
			}
			if len(st.Keys) != 1+inOverlap+identity.KeepRetired {
				t.Fatalf("kept %d secrets (%s), want current, %d previous and %d retired", len(st.Keys), statuses(st), inOverlap, identity.KeepRetired)
			}
			for i, k := range st.Keys {
				if k.Version != n-i {
					t.Errorf("kept v%d at position %d, want the newest: v%d", k.Version, i, n-i)
				}
			}
			for _, r := range rs {
				var want identity.Reason
				switch oldest := n - len(st.Keys) + 1; {
				case r.Version == n, r.Version == n-1 && overlap > 0:
					want = identity.Verified
				case r.Version >= oldest:
					want = identity.RotatedSecret
				default: // deleted: nothing left to recognise it by
					want = identity.SignatureMismatch
				}
				if got := e.verify(t, r.Secret); got != want {
					t.Errorf("v%d of %d: %s, want %s", r.Version, n, got, want)
				}
			}
		})
	}
}

func TestRotateRefusesBadOverlap(t *testing.T) {
	e := newEnv(t)
	for _, d := range []time.Duration{-time.Second, 24*time.Hour + time.Millisecond, 48 * time.Hour} {
		if _, err := e.m.Rotate(context.Background(), e.project, d, admin); !errors.Is(err, identity.ErrBadOverlap) {
			t.Errorf("Rotate(overlap %s): err = %v, want ErrBadOverlap", d, err)
		}
	}
	if st := e.state(t); len(st.Keys) != 0 {
		t.Errorf("a refused rotation stored %s", statuses(st))
	}
	if _, err := e.m.Rotate(context.Background(), e.project+100, 0, admin); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Rotate(unknown project): err = %v, want ErrNotFound", err)
	}
}

func TestStrictNeedsSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.m.SetStrict(ctx, e.project, true, admin); !errors.Is(err, identity.ErrNoSecret) {
		t.Fatalf("strict on without a secret: err = %v, want ErrNoSecret", err)
	}
	if e.state(t).Strict || e.keyring(t).Strict {
		t.Fatal("strict is on after a refusal")
	}
	if err := e.m.SetStrict(ctx, e.project, false, admin); err != nil {
		t.Errorf("strict off without a secret: %v", err)
	}
	e.rotate(t, 0)
	if err := e.m.SetStrict(ctx, e.project, true, admin); err != nil {
		t.Fatalf("strict on with a secret: %v", err)
	}
	// Through this process's Manager, at once: the clock has not moved.
	if !e.keyring(t).Strict {
		t.Error("keyring not strict right after SetStrict(on)")
	}
	if err := e.m.SetStrict(ctx, e.project, false, admin); err != nil {
		t.Fatal(err)
	}
	if e.keyring(t).Strict || e.state(t).Strict {
		t.Error("still strict after SetStrict(off)")
	}
	if err := e.m.SetStrict(ctx, e.project+100, true, admin); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetStrict(unknown project): err = %v, want ErrNotFound", err)
	}

	var actions []string
	for _, a := range auditLog(t, e.store) {
		actions = append(actions, a.Action)
	}
	// Newest first; the refused toggle left no entry.
	if got, want := strings.Join(actions, " "), "strict.off strict.on secret.rotate strict.off"; got != want {
		t.Errorf("audit actions = %s, want %s", got, want)
	}
}

func auditLog(t *testing.T, s *store.Store) []store.Audit {
	t.Helper()
	entries, err := s.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestAuditAndFileHoldNoSecret rotates and toggles strict mode, then checks
// the audit entries (who, when, version, fingerprint) and every byte of the
// database files for the secrets.
func TestAuditAndFileHoldNoSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var rs []identity.Rotated
	for i, overlap := range []time.Duration{0, time.Hour, 24 * time.Hour, 0} {
		e.clock.Advance(time.Duration(i) * time.Minute)
		rs = append(rs, e.rotate(t, overlap))
	}
	if err := e.m.SetStrict(ctx, e.project, true, admin); err != nil {
		t.Fatal(err)
	}
	cli := identity.NewManager(e.store, e.sealer, nil)
	rCLI, err := cli.Rotate(ctx, e.project, time.Hour, identity.Actor{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	rs = append(rs, rCLI)

	entries := auditLog(t, e.store)
	var rotations []store.Audit
	for _, a := range entries {
		if a.Action == store.ActionSecretRotate {
			rotations = append([]store.Audit{a}, rotations...) // oldest first
		}
	}
	if len(rotations) != len(rs) {
		t.Fatalf("%d rotation entries, want %d", len(rotations), len(rs))
	}
	for i, a := range rotations {
		r := rs[i]
		if !strings.Contains(a.Detail, fmt.Sprintf("version=%d", r.Version)) || !strings.Contains(a.Detail, "fingerprint="+r.Secret.Fingerprint()) {
			t.Errorf("rotation entry %q, want version=%d and fingerprint=%s", a.Detail, r.Version, r.Secret.Fingerprint())
		}
		if a.ProjectID != e.project || a.Project != "shop" {
			t.Errorf("rotation entry for project %d %q", a.ProjectID, a.Project)
		}
	}
	first := rotations[0]
	if first.Actor != admin.Name || first.IP != admin.IP || !first.At.Equal(t0) {
		t.Errorf("first rotation entry: actor %q ip %q at %s, want %q %q %s", first.Actor, first.IP, first.At, admin.Name, admin.IP, t0)
	}
	if last := rotations[len(rotations)-1]; last.Actor != "cli" || last.IP != "" {
		t.Errorf("CLI rotation entry: actor %q ip %q", last.Actor, last.IP)
	}
	if entries[1].Action != store.ActionStrictOn || entries[1].Actor != admin.Name {
		t.Errorf("strict entry = %+v", entries[1])
	}

	for _, a := range entries {
		for _, r := range rs {
			if v := r.Secret.Reveal(); strings.Contains(fmt.Sprintf("%+v", a), v[len(identity.SecretPrefix):]) {
				t.Errorf("audit entry %+v holds secret v%d", a, r.Version)
			}
		}
	}

	// Every byte SQLite wrote: the database, its WAL and shared memory.
	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(e.store.Path() + suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	all := bytes.Join(files, nil)
	if !bytes.Contains(all, []byte(rs[0].Secret.Fingerprint())) {
		t.Fatalf("database files (%d bytes) do not even hold the fingerprint: the scan reads nothing", len(all))
	}
	for _, r := range rs {
		v := r.Secret.Reveal()
		if bytes.Contains(all, []byte(v[len(identity.SecretPrefix):len(identity.SecretPrefix)+16])) {
			t.Errorf("database files in %s hold secret v%d", filepath.Dir(e.store.Path()), r.Version)
		}
	}
}

// TestConcurrentRotations rotates from many goroutines, through one store
// and through a second handle on the same file (another process: the CLI),
// and checks that the state stays consistent.
func TestConcurrentRotations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := store.Open(ctx, e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	managers := []*identity.Manager{e.m, identity.NewManager(other, e.sealer, nil)}

	const workers, each = 8, 6
	var mu sync.Mutex
	var rs []identity.Rotated
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			m := managers[w%len(managers)]
			for i := range each {
				overlap := time.Duration((w+i)%2) * time.Hour
				r, err := m.Rotate(ctx, e.project, overlap, identity.Actor{Name: fmt.Sprintf("worker%d", w)})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				rs = append(rs, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Rotate: %v", err)
	}
	n := workers * each
	if len(rs) != n {
		t.Fatalf("%d rotations succeeded, want %d", len(rs), n)
	}

	versions := map[int]identity.Rotated{}
	for _, r := range rs {
		if _, dup := versions[r.Version]; dup {
			t.Errorf("version %d returned twice", r.Version)
		}
		versions[r.Version] = r
	}
	for v := 1; v <= n; v++ {
		if _, ok := versions[v]; !ok {
			t.Errorf("no rotation got version %d", v)
		}
	}

	st := e.state(t)
	count := map[identity.KeyStatus]int{}
	for _, k := range st.Keys {
		count[k.Status]++
	}
	if count[identity.StatusCurrent] != 1 || count[identity.StatusPrevious] > 1 || count[identity.StatusRetired] > identity.KeepRetired {
		t.Fatalf("state after concurrent rotations: %s", statuses(st))
	}
	cur, _ := st.Current()
	if cur.Version != n || cur.Fingerprint != versions[n].Secret.Fingerprint() {
		t.Errorf("current = v%d (%s), want v%d (%s)", cur.Version, cur.Fingerprint, n, versions[n].Secret.Fingerprint())
	}
	if prev, ok := st.Previous(); ok && prev.Version != n-1 {
		t.Errorf("previous = v%d, want v%d", prev.Version, n-1)
	}

	// At most two secrets verify, and the newest is one of them.
	e.v.Invalidate(e.project) // the other handle's rotations are not this verifier's
	verified := 0
	for _, r := range rs {
		if e.verify(t, r.Secret) == identity.Verified {
			verified++
		}
	}
	if verified < 1 || verified > 2 || e.verify(t, versions[n].Secret) != identity.Verified {
		t.Errorf("%d secrets verify after concurrent rotations; want the newest and at most one more", verified)
	}

	rotations := 0
	for _, a := range auditLog(t, e.store) {
		if a.Action == store.ActionSecretRotate {
			rotations++
		}
	}
	if rotations != n {
		t.Errorf("%d rotation audit entries, want %d", rotations, n)
	}
}

// TestRotateFromVersion: a rotation asked against a version that is no
// longer current (a second admin on another instance, a resubmitted form)
// is refused inside the store's transaction and changes nothing.
func TestRotateFromVersion(t *testing.T) {
	e := newEnv(t)
	other := identity.NewManager(e.store, e.sealer, nil) // another instance or the CLI
	ctx := context.Background()

	first, err := e.m.RotateFrom(ctx, e.project, 0, time.Hour, admin)
	if err != nil || first.Version != 1 {
		t.Fatalf("RotateFrom(0) = v%d, %v; want v1", first.Version, err)
	}
	if _, err := other.RotateFrom(ctx, e.project, 0, time.Hour, admin); !errors.Is(err, identity.ErrVersionChanged) {
		t.Fatalf("second RotateFrom(0) = %v, want ErrVersionChanged", err)
	}
	if _, err := other.RotateFrom(ctx, e.project, 1, 0, admin); err != nil {
		t.Fatalf("RotateFrom(1): %v", err)
	}
	if _, err := e.m.RotateFrom(ctx, e.project, 1, time.Hour, admin); !errors.Is(err, identity.ErrVersionChanged) {
		t.Fatalf("stale RotateFrom(1) = %v, want ErrVersionChanged", err)
	}
	if got := statuses(e.state(t)); got != "v2:current v1:retired" {
		t.Errorf("state = %s, want v2:current v1:retired", got)
	}
	if _, err := e.m.Rotate(ctx, e.project, 0, admin); err != nil { // AnyVersion still rotates
		t.Fatalf("Rotate: %v", err)
	}
}
