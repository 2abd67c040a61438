package identity_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store/storetest"
)

// The hot path of ingestion: one event's token against a cached keyring.
// The budget is 1 µs and 2 allocations per event; make bench and
// docs/BENCHMARKS.md report the figures.

func benchKeyring(b *testing.B) (*identity.Keyring, identity.Secret, identity.Secret) {
	cur, prev := identity.NewSecret(), identity.NewSecret()
	kr := newKeyring(b, true,
		key{secret: cur, status: identity.StatusCurrent},
		key{secret: prev, status: identity.StatusPrevious, until: t0.Add(time.Hour)},
		key{secret: identity.NewSecret(), status: identity.StatusRetired},
	)
	return kr, cur, prev
}

func BenchmarkKeyringVerify(b *testing.B) {
	kr, cur, prev := benchKeyring(b)
	const user = "usr_2f9c1e7a4b"
	for _, bc := range []struct {
		name  string
		token string
		want  identity.Reason
	}{
		{"current", identity.Sign(cur, user), identity.Verified},
		{"previous", identity.Sign(prev, user), identity.Verified},
		{"mismatch", identity.Sign(identity.NewSecret(), user), identity.SignatureMismatch},
		{"malformed", "hmac_v1:nope", identity.MalformedToken},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if r := kr.Verify(user, bc.token, t0); r != bc.want {
					b.Fatalf("Verify = %s, want %s", r, bc.want)
				}
			}
		})
	}
}

// BenchmarkKeyringVerifyWorstCase is a forged token against the fullest
// keyring a project can have (current, previous and KeepRetired retired
// secrets): one HMAC per secret before signature_mismatch.
func BenchmarkKeyringVerifyWorstCase(b *testing.B) {
	keys := []key{
		{secret: identity.NewSecret(), status: identity.StatusCurrent},
		{secret: identity.NewSecret(), status: identity.StatusPrevious, until: t0.Add(time.Hour)},
	}
	for range identity.KeepRetired {
		keys = append(keys, key{secret: identity.NewSecret(), status: identity.StatusRetired})
	}
	kr := newKeyring(b, true, keys...)
	const user = "usr_2f9c1e7a4b"
	token := identity.Sign(identity.NewSecret(), user)
	b.ReportAllocs()
	for b.Loop() {
		if kr.Verify(user, token, t0) != identity.SignatureMismatch {
			b.Fatal("not a mismatch")
		}
	}
}

// BenchmarkKeyringVerifyParallel is the same on every core at once, as
// concurrent requests run it.
func BenchmarkKeyringVerifyParallel(b *testing.B) {
	kr, cur, _ := benchKeyring(b)
	const user = "usr_2f9c1e7a4b"
	token := identity.Sign(cur, user)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if kr.Verify(user, token, t0) != identity.Verified {
				b.Fatal("not verified")
			}
		}
	})
}

// BenchmarkVerifierKeyringVerify is one event as ingestion handles it: the
// cached keyring from the Verifier (a hit), then Verify, over a real store.
func BenchmarkVerifierKeyringVerify(b *testing.B) {
	s := storetest.New(b)
	sealer := storetest.Sealer()
	p := storetest.Project(b, s, "bench")
	v := identity.NewVerifier(s, sealer, identity.VerifierOptions{TTL: time.Hour})
	r, err := identity.NewManager(s, sealer, v).Rotate(context.Background(), p.ID, 0, identity.Actor{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	const user = "usr_2f9c1e7a4b"
	token := identity.Sign(r.Secret, user)
	ctx := context.Background()
	run := func(pb interface{ Next() bool }) {
		for pb.Next() {
			kr, err := v.Keyring(ctx, p.ID)
			if err != nil {
				b.Fatal(err)
			}
			if kr.Verify(user, token, v.Now()) != identity.Verified {
				b.Fatal("not verified")
			}
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		run(loopNext{b})
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) { run(pb) })
	})
	if st := v.Stats(); st.Loads != 1 {
		b.Errorf("%d loads, want 1: the benchmark measured misses", st.Loads)
	}
}

// BenchmarkVerifierKeyringVerifyJWT is one event carrying a JWT as
// ingestion handles it: the cached keyring (a hit, over a real store),
// then VerifyToken. The budget: 3 µs.
func BenchmarkVerifierKeyringVerifyJWT(b *testing.B) {
	s := storetest.New(b)
	sealer := storetest.Sealer()
	p := storetest.Project(b, s, "bench")
	v := identity.NewVerifier(s, sealer, identity.VerifierOptions{TTL: time.Hour})
	r, err := identity.NewManager(s, sealer, v).Rotate(context.Background(), p.ID, 0, identity.Actor{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	const user = "usr_2f9c1e7a4b"
	now := v.Now()
	token, err := identity.SignJWT(r.Secret, identity.JWTClaims{Subject: user, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Traits: []byte(`{"plan":"startup","mrr":99,"email":"sam@acme.co"}`)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		kr, err := v.Keyring(ctx, p.ID)
		if err != nil {
			b.Fatal(err)
		}
		if res := kr.VerifyToken(user, token, now); res.Reason != identity.Verified || res.Traits == nil {
			b.Fatalf("VerifyToken = %s", res.Reason)
		}
	}
	if st := v.Stats(); st.Loads != 1 {
		b.Errorf("%d loads, want 1: the benchmark measured misses", st.Loads)
	}
}

// BenchmarkGolangJWTParse is the reference VerifyToken's JWT path is
// measured against: the same token through golang-jwt's own Parser, pinned
// to HS256 with the same leeway and rules, decoding into MapClaims, with
// its key handed over as a []byte (it builds a new HMAC each time).
func BenchmarkGolangJWTParse(b *testing.B) {
	cur := identity.NewSecret()
	const user = "usr_2f9c1e7a4b"
	token := jwtBenchToken(b, cur, user)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := oracle(token, user, t0, cur); err != nil {
			b.Fatal(err)
		}
	}
}

type loopNext struct{ b *testing.B }

func (l loopNext) Next() bool { return l.b.Loop() }

// jwtBenchToken is a typical identity JWT: sub, iat, exp and a few traits.
func jwtBenchToken(b *testing.B, secret identity.Secret, user string) string {
	tok, err := identity.SignJWT(secret, identity.JWTClaims{
		Subject: user, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Traits: []byte(`{"plan":"startup","mrr":99,"email":"sam@acme.co"}`),
	})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkKeyringVerifyJWT is VerifyToken on a JWT: the budget is
// 3 µs for a verified one on a cache hit.
func BenchmarkKeyringVerifyJWT(b *testing.B) {
	kr, cur, prev := benchKeyring(b)
	const user = "usr_2f9c1e7a4b"
	for _, bc := range []struct {
		name  string
		token string
		want  identity.Reason
	}{
		{"current", jwtBenchToken(b, cur, user), identity.Verified},
		{"previous", jwtBenchToken(b, prev, user), identity.Verified},
		{"mismatch", jwtBenchToken(b, identity.NewSecret(), user), identity.SignatureMismatch},
		{"user_mismatch", jwtBenchToken(b, cur, "someone_else"), identity.UserMismatch},
		{"alg_none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfMmY5YzFlN2E0YiJ9.", identity.UnsupportedScheme},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.token)))
			defer cpuPerOp(b)()
			for b.Loop() {
				if r := kr.VerifyToken(user, bc.token, t0); r.Reason != bc.want {
					b.Fatalf("VerifyToken = %s, want %s", r.Reason, bc.want)
				}
			}
		})
	}
}

// BenchmarkKeyringVerifyJWTWorstCase is what a forger can make a JWT cost:
// against the fullest keyring (one HMAC per secret, five), a typical
// token, and one of MaxTokenLength bytes whose traits are as many short
// keys as fit (the duplicate-key check's map path); and a token of that
// size refused for a duplicated trait (all of the parsing, no HMAC).
func BenchmarkKeyringVerifyJWTWorstCase(b *testing.B) {
	keys := []key{
		{secret: identity.NewSecret(), status: identity.StatusCurrent},
		{secret: identity.NewSecret(), status: identity.StatusPrevious, until: t0.Add(time.Hour)},
	}
	for range identity.KeepRetired {
		keys = append(keys, key{secret: identity.NewSecret(), status: identity.StatusRetired})
	}
	kr := newKeyring(b, true, keys...)
	const user = "usr_2f9c1e7a4b"
	forger := identity.NewSecret()
	big := func(dup bool) string {
		var tr strings.Builder
		tr.WriteString(`{"0":0`)
		for i := 1; ; i++ {
			k := strconv.Itoa(i)
			if dup && i == 500 {
				k = "0"
			}
			next := tr.String() + `,"` + k + `":0`
			tok := rawJWT(hs256, `{"sub":"`+user+`","exp":`+unix(time.Hour)+`,"traits":`+next+`}}`, forger.Reveal())
			if len(tok) > identity.MaxTokenLength {
				return rawJWT(hs256, `{"sub":"`+user+`","exp":`+unix(time.Hour)+`,"traits":`+tr.String()+`}}`, forger.Reveal())
			}
			tr.WriteString(`,"` + k + `":0`)
		}
	}
	for _, bc := range []struct {
		name  string
		token string
		want  identity.Reason
	}{
		{"typical", jwtBenchToken(b, forger, user), identity.SignatureMismatch},
		{"8KiB_of_traits", big(false), identity.SignatureMismatch},
		{"8KiB_duplicated_trait", big(true), identity.MalformedToken},
	} {
		if len(bc.token) > identity.MaxTokenLength {
			b.Fatalf("%s: %d bytes", bc.name, len(bc.token))
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.token)))
			defer cpuPerOp(b)()
			for b.Loop() {
				if r := kr.Verify(user, bc.token, t0); r != bc.want {
					b.Fatalf("Verify = %s, want %s", r, bc.want)
				}
			}
		})
	}
}
