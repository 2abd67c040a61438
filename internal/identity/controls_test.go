package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// The admin controls of signed claims: the accepted schemes and maximum
// lifetime, and ending an overlap. Each runs on SQLite and, below, on
// PostgreSQL.

func TestEndOverlapOnPostgres(t *testing.T)      { storetest.OnPostgres(t, TestEndOverlap) }
func TestEndOverlapRacesOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestEndOverlapRaces) }
func TestSetSchemesOnPostgres(t *testing.T)      { storetest.OnPostgres(t, TestSetSchemes) }
func TestSchemesChangeElsewhereOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSchemesChangeElsewhere)
}

// TestEndOverlap: during an overlap both secrets verify; EndOverlap stops
// the previous one at once (rotated_secret, through this process's
// verifier without waiting for its cache), audited with the version and
// fingerprint, counted as a change. Ending it again, ending an overlap
// that ran out, or one that a later rotation replaced changes nothing.
func TestEndOverlap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.m.EndOverlap(ctx, e.project, identity.AnyVersion, admin); !errors.Is(err, identity.ErrNoOverlap) {
		t.Fatalf("EndOverlap without a secret = %v, want ErrNoOverlap", err)
	}
	r1 := e.rotate(t, 0)
	if _, err := e.m.EndOverlap(ctx, e.project, identity.AnyVersion, admin); !errors.Is(err, identity.ErrNoOverlap) {
		t.Fatalf("EndOverlap with one secret = %v, want ErrNoOverlap", err)
	}
	e.clock.Advance(time.Minute)
	r2 := e.rotate(t, time.Hour)
	if e.verify(t, r1.Secret) != identity.Verified || e.verify(t, r2.Secret) != identity.Verified {
		t.Fatal("both secrets do not verify during the overlap")
	}
	seq, _ := e.store.ChangeSeq(ctx)

	e.clock.Advance(10 * time.Minute)
	ended, err := e.m.EndOverlap(ctx, e.project, r1.Version, admin)
	if err != nil || ended != r1.Version {
		t.Fatalf("EndOverlap = v%d, %v; want v%d", ended, err, r1.Version)
	}
	if got := e.verify(t, r1.Secret); got != identity.RotatedSecret {
		t.Errorf("the previous secret after EndOverlap: %s, want rotated_secret at once", got)
	}
	if got := e.verify(t, r2.Secret); got != identity.Verified {
		t.Errorf("the current secret after EndOverlap: %s", got)
	}
	if got := statuses(e.state(t)); got != "v2:current v1:retired" {
		t.Errorf("state = %s, want v2:current v1:retired", got)
	}
	if k := e.state(t).Keys[1]; !k.ValidUntil.Equal(e.clock.Now()) {
		t.Errorf("the ended secret's ValidUntil = %s, want now (%s)", k.ValidUntil, e.clock.Now())
	}
	if after, _ := e.store.ChangeSeq(ctx); after != seq+1 {
		t.Errorf("change counter %d → %d, want one more: other servers must hear of it", seq, after)
	}
	ends := auditOf(t, e.store, store.ActionOverlapEnd)
	if len(ends) != 1 {
		t.Fatalf("%d overlap.end entries, want 1", len(ends))
	}
	a := ends[0]
	if a.Actor != admin.Name || a.IP != admin.IP || !a.At.Equal(e.clock.Now()) || a.Project != "shop" ||
		!strings.Contains(a.Detail, "version=1") || !strings.Contains(a.Detail, "fingerprint="+r1.Secret.Fingerprint()) || !strings.Contains(a.Detail, "50m0s before") {
		t.Errorf("audit entry = %+v", a)
	}
	if strings.Contains(a.Detail, r1.Secret.Reveal()[len(identity.SecretPrefix):]) {
		t.Error("the audit entry holds the secret")
	}

	// Twice: nothing more happens, and nothing is audited.
	if _, err := e.m.EndOverlap(ctx, e.project, r1.Version, admin); !errors.Is(err, identity.ErrNoOverlap) {
		t.Errorf("EndOverlap again = %v, want ErrNoOverlap", err)
	}
	if n := len(auditOf(t, e.store, store.ActionOverlapEnd)); n != 1 {
		t.Errorf("%d overlap.end entries after ending twice, want 1", n)
	}

	// A form made for v2's overlap, posted after another rotation made v3
	// current and v2 previous, must not end v2's new overlap... nor does a
	// form for v1's, which a rotation already ended.
	r3 := e.rotate(t, time.Hour)
	if _, err := e.m.EndOverlap(ctx, e.project, r1.Version, admin); !errors.Is(err, identity.ErrVersionChanged) {
		t.Errorf("EndOverlap for v1 while v2 is previous = %v, want ErrVersionChanged", err)
	}
	if got := e.verify(t, r2.Secret); got != identity.Verified {
		t.Errorf("v2 after a refused EndOverlap: %s, want still verified", got)
	}
	// An overlap that ran out is no overlap.
	e.clock.Advance(time.Hour)
	if _, err := e.m.EndOverlap(ctx, e.project, identity.AnyVersion, admin); !errors.Is(err, identity.ErrNoOverlap) {
		t.Errorf("EndOverlap after the overlap ran out = %v, want ErrNoOverlap", err)
	}
	if got := e.verify(t, r3.Secret); got != identity.Verified {
		t.Errorf("v3: %s", got)
	}
	if _, err := e.m.EndOverlap(ctx, 9999, identity.AnyVersion, admin); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndOverlap of no project = %v, want ErrNotFound", err)
	}
}

// TestEndOverlapRaces ends one overlap from many goroutines, half through
// a second handle on the database (another instance, the CLI): exactly one
// ends it, the others are told there is none, one audit entry.
func TestEndOverlapRaces(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.rotate(t, 0)
	r1 := e.state(t).Keys[0]
	e.rotate(t, 24*time.Hour)
	other := identity.NewManager(storetest.Reopen(t, e.store), e.sealer, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, none int
	var unexpected []error
	for i := range 8 {
		m := e.m
		if i%2 == 1 {
			m = other
		}
		wg.Go(func() {
			_, err := m.EndOverlap(ctx, e.project, r1.Version, admin)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, identity.ErrNoOverlap):
				none++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || none != 7 || unexpected != nil {
		t.Errorf("%d ended, %d found none, errors %v; want 1 and 7", ok, none, unexpected)
	}
	if n := len(auditOf(t, e.store, store.ActionOverlapEnd)); n != 1 {
		t.Errorf("%d overlap.end entries, want 1", n)
	}
	if got := statuses(e.state(t)); got != "v2:current v1:retired" {
		t.Errorf("state = %s", got)
	}
}

// TestSetSchemes: the default accepts both schemes with no maximum
// lifetime; each setting is stored, loaded into the keyring (through this
// process's verifier at once) and audited with what it replaced; a bad
// lifetime changes nothing.
func TestSetSchemes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.rotate(t, 0)
	st := e.state(t)
	if st.Schemes != identity.AcceptHMACAndJWT || st.MaxLifetime != 0 {
		t.Fatalf("default: %s, max %s; want hmac_v1,jwt and none", st.Schemes, st.MaxLifetime)
	}
	hmacTok := identity.Sign(r.Secret, "u_1")
	jwtTok := func(ttl time.Duration) string {
		now := e.clock.Now()
		tok, err := identity.SignJWT(r.Secret, identity.JWTClaims{Subject: "u_1", IssuedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	check := func(what string, wantHMAC, wantJWT, wantLong identity.Reason) {
		t.Helper()
		kr := e.keyring(t)
		for _, c := range []struct {
			tok  string
			want identity.Reason
			name string
		}{{hmacTok, wantHMAC, "hmac_v1"}, {jwtTok(time.Hour), wantJWT, "1 h JWT"}, {jwtTok(48 * time.Hour), wantLong, "48 h JWT"}} {
			if got := kr.Verify("u_1", c.tok, e.clock.Now()); got != c.want {
				t.Errorf("%s: %s = %s, want %s", what, c.name, got, c.want)
			}
		}
	}
	check("default", identity.Verified, identity.Verified, identity.Verified)

	for _, c := range []struct {
		schemes identity.SchemePolicy
		max     time.Duration
		hmac    identity.Reason
		jwt     identity.Reason
		long    identity.Reason
		detail  string
	}{
		{identity.AcceptJWTOnly, 24 * time.Hour, identity.UnsupportedScheme, identity.Verified, identity.MalformedToken,
			"schemes=jwt max_lifetime=24h0m0s (was schemes=hmac_v1,jwt max_lifetime=none)"},
		{identity.AcceptHMACOnly, 0, identity.Verified, identity.UnsupportedScheme, identity.UnsupportedScheme,
			"schemes=hmac_v1 max_lifetime=none (was schemes=jwt max_lifetime=24h0m0s)"},
		{identity.AcceptHMACAndJWT, 2 * time.Hour, identity.Verified, identity.Verified, identity.MalformedToken,
			"schemes=hmac_v1,jwt max_lifetime=2h0m0s (was schemes=hmac_v1 max_lifetime=none)"},
	} {
		seq, _ := e.store.ChangeSeq(ctx)
		e.clock.Advance(time.Minute)
		if err := e.m.SetSchemes(ctx, e.project, c.schemes, c.max, admin); err != nil {
			t.Fatalf("SetSchemes(%s, %s): %v", c.schemes, c.max, err)
		}
		if st := e.state(t); st.Schemes != c.schemes || st.MaxLifetime != c.max {
			t.Errorf("stored %s, %s; want %s, %s", st.Schemes, st.MaxLifetime, c.schemes, c.max)
		}
		check(c.schemes.String(), c.hmac, c.jwt, c.long)
		if after, _ := e.store.ChangeSeq(ctx); after != seq+1 {
			t.Errorf("change counter %d → %d, want one more", seq, after)
		}
		entries := auditOf(t, e.store, store.ActionSchemesSet)
		if a := entries[0]; a.Detail != c.detail || a.Actor != admin.Name || a.IP != admin.IP || !a.At.Equal(e.clock.Now()) {
			t.Errorf("audit entry = %+v, want detail %q", a, c.detail)
		}
	}

	n := len(auditOf(t, e.store, store.ActionSchemesSet))
	for _, bad := range []time.Duration{-time.Hour, time.Second, 59 * time.Second, 366 * 24 * time.Hour} {
		if err := e.m.SetSchemes(ctx, e.project, identity.AcceptJWTOnly, bad, admin); !errors.Is(err, identity.ErrBadLifetime) {
			t.Errorf("SetSchemes(max %s) = %v, want ErrBadLifetime", bad, err)
		}
	}
	if err := e.m.SetSchemes(ctx, e.project, identity.SchemePolicy(9), 0, admin); !errors.Is(err, identity.ErrBadSchemes) {
		t.Errorf("SetSchemes(policy 9) = %v, want ErrBadSchemes", err)
	}
	if st := e.state(t); st.Schemes != identity.AcceptHMACAndJWT || st.MaxLifetime != 2*time.Hour {
		t.Errorf("refused settings changed the state: %s, %s", st.Schemes, st.MaxLifetime)
	}
	if got := len(auditOf(t, e.store, store.ActionSchemesSet)); got != n {
		t.Errorf("refused settings were audited")
	}
	if err := e.m.SetSchemes(ctx, 9999, identity.AcceptJWTOnly, 0, admin); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetSchemes of no project = %v, want ErrNotFound", err)
	}
}

// TestSchemesChangeElsewhere: a scheme change made by the CLI (its own
// store handle, no verifier) reaches a server's verifier when its change
// watcher reads the counter, before the cache's TTL: the clock never moves.
func TestSchemesChangeElsewhere(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.rotate(t, 0)
	watcher, err := e.store.WatchChanges(ctx, e.v.InvalidateAll)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.verify(t, r.Secret); got != identity.Verified {
		t.Fatalf("before: %s", got)
	}
	// The CLI's own handle; a verifier of its own only lends it the test's clock.
	cliStore := storetest.Reopen(t, e.store)
	cli := identity.NewManager(cliStore, e.sealer, identity.NewVerifier(cliStore, e.sealer, identity.VerifierOptions{Now: e.clock.Now}))
	if err := cli.SetSchemes(ctx, e.project, identity.AcceptJWTOnly, 0, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	if got := e.verify(t, r.Secret); got != identity.Verified {
		t.Errorf("before the watcher's read: %s, want the cached verified", got)
	}
	if err := watcher.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.verify(t, r.Secret); got != identity.UnsupportedScheme {
		t.Errorf("after the watcher's read: %s, want unsupported_scheme", got)
	}
	// The same for an overlap the CLI ends.
	e.rotate(t, time.Hour)
	if got := e.verify(t, r.Secret); got != identity.UnsupportedScheme {
		t.Fatalf("hmac_v1 in a jwt-only project: %s", got)
	}
	if err := cli.SetSchemes(ctx, e.project, identity.AcceptHMACAndJWT, 0, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	watcher.Poll(ctx)
	if got := e.verify(t, r.Secret); got != identity.Verified {
		t.Fatalf("the previous secret in its overlap: %s", got)
	}
	if _, err := cli.EndOverlap(ctx, e.project, identity.AnyVersion, identity.Actor{Name: "cli"}); err != nil {
		t.Fatal(err)
	}
	watcher.Poll(ctx)
	if got := e.verify(t, r.Secret); got != identity.RotatedSecret {
		t.Errorf("the previous secret after the CLI ended its overlap: %s, want rotated_secret", got)
	}
}

// auditOf returns the audit entries with action, newest first.
func auditOf(t *testing.T, s *store.Store, action string) []store.Audit {
	t.Helper()
	var out []store.Audit
	for _, a := range auditLog(t, s) {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

// TestLifetimeClasses holds the counters' lifetime classes to the
// verifier: for exp offsets around every bound, a token of the class
// LifetimeRefuses says a maximum refuses entirely is refused by a keyring
// with that maximum, one it says the maximum refuses none of verifies.
func TestLifetimeClasses(t *testing.T) {
	secret := mustSecret(t, curValue)
	var offsets []time.Duration
	for _, c := range identity.LifetimeClasses {
		for _, d := range []time.Duration{-2 * time.Second, -time.Second, 0, time.Second, 59 * time.Second, 60 * time.Second, 61 * time.Second, 62 * time.Second} {
			offsets = append(offsets, c.Bound+d)
		}
	}
	offsets = append(offsets, 30*24*time.Hour, 400*24*time.Hour, 10*time.Second)
	limits := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour, 90 * time.Minute, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
	now := t0.Add(123 * time.Millisecond) // a time between seconds
	seen := map[string]bool{}
	for _, off := range append(offsets, -1) {
		exp := time.Time{}
		claims := identity.JWTClaims{Subject: "u"}
		if off >= 0 {
			exp = now.Add(off).Truncate(time.Second)
			claims.ExpiresAt = exp
		}
		tok, err := identity.SignJWT(secret, claims)
		if err != nil {
			t.Fatal(err)
		}
		res := newKeyring(t, true, key{secret: secret, status: identity.StatusCurrent}).VerifyToken("u", tok, now)
		if res.Reason != identity.Verified || !res.ExpiresAt.Equal(exp) {
			t.Fatalf("exp %s ahead: %s, ExpiresAt %s", off, res.Reason, res.ExpiresAt)
		}
		class := identity.ClassOfLifetime(res.ExpiresAt, now)
		seen[class] = true
		for _, limit := range limits {
			kr := newKeyringWith(t, func(st *identity.State) { st.MaxLifetime = limit }, key{secret: secret, status: identity.StatusCurrent})
			got := kr.Verify("u", tok, now)
			all, some := identity.LifetimeRefuses(class, limit)
			switch {
			case all && got != identity.MalformedToken:
				t.Errorf("exp %s ahead (class %s), max %s: %s, but LifetimeRefuses says all", off, class, limit, got)
			case !some && got != identity.Verified:
				t.Errorf("exp %s ahead (class %s), max %s: %s, but LifetimeRefuses says none", off, class, limit, got)
			case all && !some:
				t.Errorf("LifetimeRefuses(%s, %s): all but not some", class, limit)
			}
			for _, c := range identity.LifetimeClasses {
				if c.Bound == limit {
					if all != some {
						t.Errorf("LifetimeRefuses(%s, %s) is not exact for an offered maximum", class, limit)
					}
				}
			}
		}
	}
	for _, c := range identity.LifetimeClasses {
		if !seen[c.Name] {
			t.Errorf("no token fell in class %s", c.Name)
		}
	}
}
