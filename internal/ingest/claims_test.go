package ingest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// Signed claims through the ingestion API: a verified JWT's traits win,
// the counters say which scheme and which secret each stored event used,
// and a change of the accepted schemes applies to the next request.

func TestSignedTraitsWinOnPostgres(t *testing.T)         { onPostgres(t, TestSignedTraitsWin) }
func TestSignedTraitsHostileOnPostgres(t *testing.T)     { onPostgres(t, TestSignedTraitsHostile) }
func TestTokenCountsOnPostgres(t *testing.T)             { onPostgres(t, TestTokenCounts) }
func TestSchemeChangeRacesIngestOnPostgres(t *testing.T) { onPostgres(t, TestSchemeChangeRacesIngest) }

// jwtFor signs a JWT for userID with traits (a JSON object, or "") that
// expires ttl after the harness's now.
func (h *harness) jwtFor(secret identity.Secret, userID, traits string, ttl time.Duration) string {
	h.t.Helper()
	now := h.clock.Now()
	c := identity.JWTClaims{Subject: userID, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	if traits != "" {
		c.Traits = json.RawMessage(traits)
	}
	tok, err := identity.SignJWT(secret, c)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// stored returns the stored event with messageId id.
func (h *harness) stored(id string) store.StoredEvent {
	h.t.Helper()
	for _, e := range h.events() {
		if e.MessageID == id {
			return e
		}
	}
	h.t.Fatalf("no stored event %q", id)
	return store.StoredEvent{}
}

// profileTraits returns userID's profile traits, decoded.
func (h *harness) profileTraits(userID string) map[string]any {
	h.t.Helper()
	p, err := h.st.Profile(context.Background(), h.project.ID, userID)
	if err != nil {
		h.t.Fatalf("profile of %s: %v", userID, err)
	}
	var m map[string]any
	if err := json.Unmarshal(p.Traits, &m); err != nil {
		h.t.Fatalf("profile traits %s: %v", p.Traits, err)
	}
	return m
}

func decodeObject(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	return m
}

// TestSignedTraitsWin: the test. A valid JWT signing
// {"plan":"startup"} on an identify whose client traits say
// {"plan":"enterprise"} stores startup in the event and the profile, and
// the event records plan as signed; in a batch too; on track and page the
// signed value replaces a key the client sent and adds none; an hmac_v1
// event, and a JWT that does not verify (report-only), keep the traits as
// sent, byte for byte.
func TestSignedTraitsWin(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	tok := h.jwtFor(secret, "u1", `{"plan":"startup"}`, time.Hour)

	r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "messageId", "m1", "identityToken", tok,
		"traits", ev("plan", "enterprise", "email", "sam@acme.co"))))
	if r.status != 200 {
		t.Fatalf("identify with a JWT: %d %s", r.status, r.raw)
	}
	e := h.stored("m1")
	if got := decodeObject(t, e.Traits); got["plan"] != "startup" || got["email"] != "sam@acme.co" || len(got) != 2 {
		t.Errorf("stored traits = %s, want plan startup (signed) and the client's email", e.Traits)
	}
	if string(e.SignedTraits) != `["plan"]` || e.Verification != "verified" {
		t.Errorf("stored signedTraits = %s, verification %s; want [\"plan\"], verified", e.SignedTraits, e.Verification)
	}
	if got := h.profileTraits("u1"); got["plan"] != "startup" || got["email"] != "sam@acme.co" {
		t.Errorf("profile = %v, want plan startup", got)
	}
	h.checkSigned("u1", map[string]bool{"plan": true, "email": false})

	// A batch: an identify, a track that sends the signed key, a track
	// and a page that do not, and a signed key the identify did not send.
	tok2 := h.jwtFor(secret, "u2", `{"plan":"startup","mrr":99}`, time.Hour)
	r = h.post("/events/batch", h.batch(
		ev("type", "identify", "userId", "u2", "messageId", "b0", "identityToken", tok2, "traits", ev("plan", "enterprise")),
		ev("type", "track", "event", "Upgraded", "userId", "u2", "messageId", "b1", "identityToken", tok2, "traits", ev("plan", "enterprise", "seats", 5)),
		ev("type", "track", "event", "Clicked", "userId", "u2", "messageId", "b2", "identityToken", tok2),
		ev("type", "page", "userId", "u2", "messageId", "b3", "identityToken", tok2, "properties", ev("path", "/")),
	))
	if r.status != 200 || r.body["accepted"] != 4.0 {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	if e := h.stored("b0"); string(e.Traits) != `{"plan":"startup","mrr":99}` || string(e.SignedTraits) != `["plan","mrr"]` {
		t.Errorf("batch identify: traits %s signed %s", e.Traits, e.SignedTraits)
	}
	if e := h.stored("b1"); string(e.Traits) != `{"plan":"startup","seats":5}` || string(e.SignedTraits) != `["plan"]` {
		t.Errorf("track sending the signed key: traits %s signed %s; want plan replaced, mrr not added", e.Traits, e.SignedTraits)
	}
	for _, id := range []string{"b2", "b3"} {
		if e := h.stored(id); e.Traits != nil || e.SignedTraits != nil {
			t.Errorf("%s without traits: traits %s signed %s; want none added", id, e.Traits, e.SignedTraits)
		}
	}
	if got := h.profileTraits("u2"); got["plan"] != "startup" || got["mrr"] != 99.0 || got["seats"] != nil {
		t.Errorf("profile of u2 = %v, want the signed plan and mrr, nothing from the track", got)
	}

	// hmac_v1 and failed JWTs: the client's traits exactly as sent.
	const asSent = `{ "plan" :"enterprise",  "b":[1, 2 ] }`
	for _, c := range []struct{ id, user, token string }{
		{"h1", "u3", identity.Sign(secret, "u3")},
		{"x1", "u3", h.jwtFor(secret, "u3", `{"plan":"startup"}`, -time.Hour)}, // expired: report-only
		{"x2", "u3", h.jwtFor(secret, "someone", `{"plan":"startup"}`, time.Hour)},
	} {
		body := `{"publicKey":"` + h.key + `","type":"identify","userId":"` + c.user + `","messageId":"` + c.id +
			`","identityToken":"` + c.token + `","traits":` + asSent + `}`
		if r := h.post("/events", body); r.status != 200 {
			t.Fatalf("%s: %d %s", c.id, r.status, r.raw)
		}
		if e := h.stored(c.id); string(e.Traits) != asSent || e.SignedTraits != nil {
			t.Errorf("%s (%s): traits %q signed %s, want as sent and none signed", c.id, e.Verification, e.Traits, e.SignedTraits)
		}
	}
	if e := h.stored("x1"); e.Verification != "expired_token" {
		t.Errorf("expired JWT stored as %s", e.Verification)
	}

	// Strict mode refuses the failing ones; the verified one still wins.
	h.strict(true)
	if r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", h.jwtFor(secret, "u1", `{"plan":"startup"}`, -time.Hour),
		"traits", ev("plan", "enterprise")))); r.status != 401 {
		t.Errorf("expired JWT in strict mode: %d %s", r.status, r.raw)
	}
	if got := h.profileTraits("u1"); got["plan"] != "startup" {
		t.Errorf("profile after a refused event = %v", got)
	}
}

// checkSigned asserts which traits of userID's profile its provenance
// records as signed by a verified JWT.
func (h *harness) checkSigned(userID string, want map[string]bool) {
	h.t.Helper()
	p, err := h.st.Profile(context.Background(), h.project.ID, userID)
	if err != nil {
		h.t.Fatal(err)
	}
	list, err := p.TraitList()
	if err != nil {
		h.t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tr := range list {
		got[tr.Key] = tr.Source.Signed
	}
	for k, signed := range want {
		if s, ok := got[k]; !ok || s != signed {
			h.t.Errorf("profile of %s: trait %q recorded signed=%v (present %v), want signed=%v", userID, k, s, ok, signed)
		}
	}
}

// TestSignedTraitsReplaceNestedValues: a signed object replaces the
// profile's value whole, as it replaces the client's on the event: no key
// an unsigned event put inside it survives under a trait recorded as
// signed.
func TestSignedTraitsReplaceNestedValues(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	// Report-only (strict off): an unsigned identify sets company with a
	// key the backend never vouched for.
	if r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "traits", ev("company", ev("name", "X", "admin", true))))); r.status != 200 {
		t.Fatal(r.raw)
	}
	tok := h.jwtFor(secret, "u1", `{"company":{"name":"Acme"}}`, time.Hour)
	if r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", tok))); r.status != 200 {
		t.Fatal(r.raw)
	}
	got, _ := json.Marshal(h.profileTraits("u1")["company"])
	if string(got) != `{"name":"Acme"}` {
		t.Errorf("profile company = %s, want the signed value whole", got)
	}
	h.checkSigned("u1", map[string]bool{"company": true})
}

func TestSignedTraitsReplaceNestedValuesOnPostgres(t *testing.T) {
	onPostgres(t, TestSignedTraitsReplaceNestedValues)
}

// TestSignedTraitsHostile: what a user holding their own valid JWT can
// send to get another plan past it: the key repeated, escaped, nested,
// in thousands of keys, or a trait the token signs as null. None works.
func TestSignedTraitsHostile(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	tok := h.jwtFor(secret, "u1", `{"plan":"startup","role":null}`, time.Hour)
	send := func(id, traits string) {
		t.Helper()
		body := `{"publicKey":"` + h.key + `","type":"identify","userId":"u1","messageId":"` + id + `","identityToken":"` + tok + `","traits":` + traits + `}`
		if r := h.post("/events", body); r.status != 200 {
			t.Fatalf("%s: %d %s", id, r.status, r.raw)
		}
	}
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 600 { // under the 32 KiB of an event
		fmt.Fprintf(&many, `"k%d":%d,"plan":"enterprise%d",`, i, i, i)
	}
	many.WriteString(`"role":"admin"}`)
	for i, traits := range []string{
		`{"plan":"enterprise","plan":"enterprise"}`,
		`{"pl\u0061n":"enterprise"}`,
		`{"plan":"enterprise","pl\u0061n":"enterprise","\u0070lan":"enterprise"}`,
		`{"plan":{"tier":"enterprise"}}`,
		`{"role":"admin"}`,
		many.String(),
	} {
		send(fmt.Sprintf("m%d", i), traits)
		got := h.profileTraits("u1")
		if got["plan"] != "startup" {
			t.Errorf("after %.80s: plan = %v, want startup", traits, got["plan"])
		}
		if _, ok := got["role"]; ok {
			t.Errorf("after %.80s: role = %v, want removed (signed null)", traits, got["role"])
		}
		e := h.stored(fmt.Sprintf("m%d", i))
		if strings.Count(string(e.Traits), `"plan"`)+strings.Count(string(e.Traits), `\u0061`) != 1 {
			t.Errorf("stored traits hold plan more than once: %.200s", e.Traits)
		}
	}
	// The nested form the user tried does not leave "tier" in the profile.
	if got := h.profileTraits("u1"); fmt.Sprint(got["plan"]) != "startup" {
		t.Errorf("plan = %v", got["plan"])
	}
}

// TestTokenCounts: each stored event with a token is counted by scheme, by
// the version of the secret that signed it, by whether it verified and,
// for verified JWTs, by lifetime class; in the group commit, so a retry
// (same messageId) counts once and a refused event not at all.
func TestTokenCounts(t *testing.T) {
	h := newHarness(t)
	v1 := h.rotate(0)
	h.clock.Advance(time.Minute)
	v2 := h.rotate(time.Hour)
	events := []map[string]any{
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c1", "identityToken", identity.Sign(v2, "u1")),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c2", "identityToken", identity.Sign(v1, "u1")),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c3", "identityToken", h.jwtFor(v2, "u1", "", 50*time.Minute)),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c4", "identityToken", h.jwtFor(v2, "u1", "", 20*time.Hour)),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c5", "identityToken", h.jwtFor(v1, "u1", "", 3*time.Hour)),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c6", "identityToken", identity.Sign(identity.NewSecret(), "u1")),
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c7", "identityToken", h.jwtFor(v2, "u2", "", time.Hour)), // user_mismatch
		ev("type", "track", "event", "a", "userId", "u1", "messageId", "c8"),                                                     // no token
	}
	if r := h.post("/events/batch", h.batch(events...)); r.status != 200 || r.body["accepted"] != 8.0 {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	h.post("/events/batch", h.batch(events...)) // a retry: stored once, counted once
	h.strict(true)
	h.post("/events", h.js(ev("type", "track", "event", "a", "userId", "u1", "identityToken", identity.Sign(identity.NewSecret(), "u1")))) // refused
	h.flush()

	totals, err := h.st.TokenTotals(context.Background(), h.project.ID, h.clock.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range totals {
		got = append(got, fmt.Sprintf("%s v%d verified=%v %s: %d", c.Scheme, c.KeyVersion, c.Verified, c.Lifetime, c.N))
		if !c.LastAt.Equal(h.clock.Now()) {
			t.Errorf("%s: last at %s, want %s", got[len(got)-1], c.LastAt, h.clock.Now())
		}
	}
	want := []string{
		"hmac_v1 v0 verified=false : 1",
		"hmac_v1 v1 verified=true : 1",
		"hmac_v1 v2 verified=true : 1",
		"jwt v1 verified=true 6h: 1",
		"jwt v2 verified=false : 1",
		"jwt v2 verified=true 1h: 1",
		"jwt v2 verified=true 24h: 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("token totals:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if none, _ := h.st.TokenTotals(context.Background(), h.project.ID, h.clock.Now().Add(time.Minute)); len(none) != 0 {
		t.Errorf("totals from the next minute on: %v, want none", none)
	}
}

// TestSchemeChangeRacesIngest flips the accepted schemes while batches of
// hmac_v1 and JWT events arrive. Every event is judged under one policy or
// the other, never a mix that verifies what neither accepts; once a change
// returns, the next request is judged under it (this process's verifier
// is invalidated in the change).
func TestSchemeChangeRacesIngest(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	hmacTok := identity.Sign(secret, "u1")
	jwtTok := h.jwtFor(secret, "u1", "", time.Hour)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := h.post("/events/batch", h.batch(
					ev("type", "track", "event", "a", "userId", "u1", "messageId", fmt.Sprintf("w%d-%d-h", w, i), "identityToken", hmacTok),
					ev("type", "track", "event", "a", "userId", "u1", "messageId", fmt.Sprintf("w%d-%d-j", w, i), "identityToken", jwtTok),
				))
				rej, _ := r.body["rejected"].([]any)
				if r.status != 200 || len(rej) > 1 {
					mu.Lock()
					bad = append(bad, r.raw) // both refused: no policy refuses both
					mu.Unlock()
				}
				for _, x := range rej {
					if m := x.(map[string]any); m["reason"] != "unsupported_scheme" {
						mu.Lock()
						bad = append(bad, r.raw)
						mu.Unlock()
					}
				}
			}
		})
	}
	for i := range 30 {
		p := identity.Policies[i%len(identity.Policies)]
		if err := h.manager.SetSchemes(ctx, h.project.ID, p, 0, identity.Actor{Name: "test"}); err != nil {
			t.Fatal(err)
		}
		// The next request after the change is judged under it.
		r := h.post("/events/batch", h.batch(
			ev("type", "track", "event", "a", "userId", "u1", "identityToken", hmacTok),
			ev("type", "track", "event", "a", "userId", "u1", "identityToken", jwtTok),
		))
		rej, _ := r.body["rejected"].([]any)
		var refused []float64
		for _, x := range rej {
			refused = append(refused, x.(map[string]any)["index"].(float64))
		}
		want := map[identity.SchemePolicy][]float64{identity.AcceptHMACAndJWT: nil, identity.AcceptJWTOnly: {0}, identity.AcceptHMACOnly: {1}}[p]
		if !slices.Equal(refused, want) {
			t.Errorf("right after setting %s: refused indexes %v, want %v", p, refused, want)
		}
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Errorf("%d answers no policy gives, e.g. %s", len(bad), bad[0])
	}
}

func TestSignedTraitsAtTheLimitsOnPostgres(t *testing.T) { onPostgres(t, TestSignedTraitsAtTheLimits) }
func TestTokenFromAnotherProjectOnPostgres(t *testing.T) { onPostgres(t, TestTokenFromAnotherProject) }

// TestSignedTraitsAtTheLimits: what a backend may sign, at the edges. Signed
// traits nesting 32 levels (the most an event's may) and a token of
// MaxTokenLength holding hundreds of traits, merged into client traits
// near the event's own limit, are stored and merged into the profile on
// both stores; 33 levels is malformed_token, and so is a trait holding
// U+0000, before any of it reaches the store.
func TestSignedTraitsAtTheLimits(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	nested := func(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }
	send := func(id, token string, traits string) response {
		t.Helper()
		body := `{"publicKey":"` + h.key + `","type":"identify","userId":"u1","messageId":"` + id + `","identityToken":"` + token + `","traits":` + traits + `}`
		return h.post("/events", body)
	}

	// 32 levels signed, over client traits as deep.
	deep := `{"deep":` + nested(31) + `}` // the traits object is level 1
	if r := send("d1", h.jwtFor(secret, "u1", deep, time.Hour), `{"deep":`+nested(31)+`,"x":1}`); r.status != 200 {
		t.Fatalf("32 levels of signed traits: %d %s", r.status, r.raw)
	}
	if got := h.profileTraits("u1"); got["deep"] == nil || got["x"] != 1.0 {
		t.Errorf("profile after deep signed traits = %.100v", got)
	}
	if r := send("d2", h.jwtFor(secret, "u1", `{"deep":`+nested(32)+`}`, time.Hour), `{}`); r.status != 401 {
		t.Errorf("33 levels of signed traits: %d, want 401", r.status)
	} else if _, reason := errorOf(r); reason != "malformed_token" {
		t.Errorf("33 levels: %s, want malformed_token", reason)
	}

	// A token of MaxTokenLength, as many short traits as fit, over ~24 KiB
	// of client traits, half of them the same keys.
	var signed, client strings.Builder
	signed.WriteByte('{')
	n := 0
	for ; ; n++ {
		k := fmt.Sprintf(`"t%d":%d`, n, n)
		c := identity.JWTClaims{Subject: "u1", ExpiresAt: h.clock.Now().Add(time.Hour), Traits: json.RawMessage(signed.String() + map[bool]string{true: ",", false: ""}[n > 0] + k + "}")}
		tok, err := identity.SignJWT(secret, c)
		if err != nil || len(tok) > identity.MaxTokenLength {
			break
		}
		if n > 0 {
			signed.WriteByte(',')
		}
		signed.WriteString(k)
	}
	signed.WriteByte('}')
	big, err := identity.SignJWT(secret, identity.JWTClaims{Subject: "u1", ExpiresAt: h.clock.Now().Add(time.Hour), Traits: json.RawMessage(signed.String())})
	if err != nil {
		t.Fatal(err)
	}
	client.WriteByte('{')
	for i := range 2 * n {
		if i > 0 {
			client.WriteByte(',')
		}
		fmt.Fprintf(&client, `"t%d":"client %d"`, i, i)
	}
	client.WriteByte('}')
	r := send("b1", big, client.String())
	if r.status != 200 {
		t.Fatalf("a %d-byte token with %d traits over %d bytes of client traits: %d %s", len(big), n, client.Len(), r.status, r.raw)
	}
	e := h.stored("b1")
	var sk []string
	json.Unmarshal(e.SignedTraits, &sk)
	got := h.profileTraits("u1")
	if len(sk) != n || got["t0"] != 0.0 || got[fmt.Sprint("t", n-1)] != float64(n-1) || got[fmt.Sprint("t", n)] != fmt.Sprint("client ", n) {
		t.Errorf("%d signed keys recorded (want %d); profile t0=%v t%d=%v t%d=%v", len(sk), n, got["t0"], n-1, got[fmt.Sprint("t", n-1)], n, got[fmt.Sprint("t", n)])
	}
	t.Logf("token of %d bytes, %d signed traits, over %d bytes of client traits", len(big), n, client.Len())

	// U+0000 in a signed trait: malformed_token, nothing stored.
	nul := rawJWTFor(secret, `{"sub":"u1","traits":{"plan":"a\u0000b"}}`)
	if r := send("n1", nul, `{}`); r.status != 401 {
		t.Errorf("U+0000 in a signed trait: %d %s", r.status, r.raw)
	} else if _, reason := errorOf(r); reason != "malformed_token" {
		t.Errorf("U+0000 in a signed trait: %s, want malformed_token", reason)
	}
}

// rawJWTFor signs claims exactly as written, with HS256 under s.
func rawJWTFor(s identity.Secret, claims string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(s.Reveal()))
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil))
}

// TestTokenFromAnotherProject: a token copied from another project (its
// own secret, the same userId) verifies nothing here, JWT or hmac_v1, and
// its traits reach no profile: each project's keyring holds its own
// secrets only.
func TestTokenFromAnotherProject(t *testing.T) {
	h := newHarness(t)
	h.rotate(0)
	h.strict(true)
	other := storetest.Project(t, h.st, "other")
	rot, err := h.manager.Rotate(context.Background(), other.ID, 0, identity.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{identity.Sign(rot.Secret, "u1"), h.jwtFor(rot.Secret, "u1", `{"plan":"enterprise"}`, time.Hour)} {
		r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", tok, "traits", ev("plan", "enterprise"))))
		if _, reason := errorOf(r); r.status != 401 || reason != "signature_mismatch" {
			t.Errorf("%.20s… from another project: %d %s, want 401 signature_mismatch", tok, r.status, r.raw)
		}
		// The same token where it belongs verifies.
		body := `{"publicKey":"` + other.PublicKey + `","type":"identify","userId":"u1","identityToken":"` + tok + `"}`
		if r := h.post("/events", body); r.status != 200 {
			t.Errorf("in its own project: %d %s", r.status, r.raw)
		}
	}
	if _, err := h.st.Profile(context.Background(), h.project.ID, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a profile was written in the wrong project: %v", err)
	}
}
