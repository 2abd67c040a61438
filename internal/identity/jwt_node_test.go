package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/nodetest"
)

// jwtJob is one job of testdata/node/jwt.mjs and, after it ran, its result.
type jwtJob struct {
	Op         string          `json:"op"`
	Lib        string          `json:"lib"`
	Note       string          `json:"note,omitempty"`
	Secret     string          `json:"secret"`
	UserID     string          `json:"userId,omitempty"`
	Now        int64           `json:"now,omitempty"`
	Want       string          `json:"want,omitempty"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	Alg        string          `json:"alg,omitempty"`
	Header     json.RawMessage `json:"header,omitempty"`
	VerifyWith string          `json:"verifyWith,omitempty"`
	Token      string          `json:"token,omitempty"`
	// verify results
	OK     bool   `json:"ok,omitempty"`
	Sub    string `json:"sub,omitempty"`
	Traits string `json:"traits,omitempty"`
	Error  string `json:"error,omitempty"`
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestJWTNodeVectors verifies tokens that Node's jsonwebtoken and jose
// made (testdata/node/jwt.mjs from testdata/node/jwt_cases.json; the
// script says how to regenerate testdata/jwt_vectors.json): every userId
// of the hmac_v1 vectors, both libraries, and each reason a customer's
// library can produce.
func TestJWTNodeVectors(t *testing.T) {
	checkJWTVectors(t, "testdata/jwt_vectors.json", map[string]int{"jsonwebtoken": 50, "jose": 50})
}

// TestJWTPyJWTVectors does the same with tokens PyJWT made from the same
// cases (testdata/python/jwt_pyjwt.py). PyJWT escapes every non-ASCII
// character, astral ones as surrogate pairs ("\ud83c\udf89").
func TestJWTPyJWTVectors(t *testing.T) {
	checkJWTVectors(t, "testdata/jwt_vectors_pyjwt.json", map[string]int{"pyjwt": 50})
}

func checkJWTVectors(t *testing.T, file string, wantLibs map[string]int) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var vectors []jwtJob
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	libs, reasons := map[string]int{}, map[string]int{}
	for _, v := range vectors {
		if v.Token == "" || v.Error != "" {
			t.Errorf("%s (%s): not signed: %s", v.Note, v.Lib, v.Error)
			continue
		}
		libs[v.Lib]++
		reasons[v.Want]++
		secret := v.Secret
		if v.VerifyWith != "" {
			secret = v.VerifyWith
		}
		kr := newKeyring(t, true, key{secret: mustSecret(t, secret), status: identity.StatusCurrent})
		got := kr.VerifyToken(v.UserID, v.Token, time.Unix(v.Now, 0))
		if got.Reason.String() != v.Want {
			t.Errorf("%s (%s): VerifyToken = %s, want %s", v.Note, v.Lib, got.Reason, v.Want)
			continue
		}
		var p struct {
			Traits json.RawMessage `json:"traits"`
		}
		if err := json.Unmarshal(v.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if string(p.Traits) == "null" { // no traits
			p.Traits = nil
		}
		if got.Reason == identity.Verified && (p.Traits == nil) != (got.Traits == nil) ||
			got.Traits != nil && !sameJSON(t, got.Traits, p.Traits) {
			t.Errorf("%s (%s): traits %s, signed %s", v.Note, v.Lib, got.Traits, p.Traits)
		}
	}
	for lib, n := range wantLibs {
		if libs[lib] < n {
			t.Errorf("%d vectors from %s, want at least %d", libs[lib], lib, n)
		}
	}
	for _, r := range []string{"verified", "malformed_token", "unsupported_scheme", "signature_mismatch", "expired_token", "user_mismatch"} {
		if reasons[r] == 0 {
			t.Errorf("no vector for %s", r)
		}
	}
}

// TestJWTMatchesPyJWT signs random claims with PyJWT and verifies them
// here, then has PyJWT verify SignJWT's tokens. PyJWT comes from Debian's
// python3-jwt for the system Python (PyPI is not reachable here); without
// it the test skips.
func TestJWTMatchesPyJWT(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jwt").Run(); err != nil {
		t.Skipf("PyJWT is not installed for %s (apt-get install python3-jwt): %v", py, err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	now := time.Now().Truncate(time.Second)
	type claimSet struct {
		secret identity.Secret
		userID string
		traits json.RawMessage
	}
	var sets []claimSet
	var jobs []jwtJob
	for range 100 {
		c := claimSet{secret: identity.NewSecret(), userID: randomShort(rng), traits: randomTraits(rng)}
		if c.userID == "" {
			c.userID = "u"
		}
		sets = append(sets, c)
		payload, _ := json.Marshal(map[string]any{"sub": c.userID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "traits": c.traits})
		jobs = append(jobs, jwtJob{Op: "sign", Secret: c.secret.Reveal(), Payload: payload})
	}
	run := func(jobs []jwtJob) []jwtJob {
		in, _ := json.Marshal(jobs)
		cmd := exec.Command(py, "testdata/python/jwt_pyjwt.py")
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, stderr.String())
		}
		var done []jwtJob
		if err := json.Unmarshal(out, &done); err != nil || len(done) != len(jobs) {
			t.Fatalf("python output: %v, %d jobs", err, len(done))
		}
		return done
	}
	for i, j := range run(jobs) {
		c := sets[i]
		got := newKeyring(t, true, key{secret: c.secret, status: identity.StatusCurrent}).VerifyToken(c.userID, j.Token, now)
		if j.Error != "" || got.Reason != identity.Verified || !sameJSON(t, got.Traits, c.traits) {
			t.Errorf("PyJWT's token for %q (%s): %s with traits %s, want verified with %s", c.userID, j.Error, got.Reason, got.Traits, c.traits)
		}
	}
	jobs = jobs[:0]
	for _, c := range sets {
		tok, err := identity.SignJWT(c.secret, identity.JWTClaims{Subject: c.userID, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Traits: c.traits})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, jwtJob{Op: "verify", Secret: c.secret.Reveal(), Token: tok})
	}
	for i, j := range run(jobs) {
		c := sets[i]
		if !j.OK || j.Sub != c.userID || !sameJSON(t, []byte(j.Traits), c.traits) {
			t.Errorf("PyJWT on SignJWT's token for %q: ok %v, sub %q, traits %s, error %q", c.userID, j.OK, j.Sub, j.Traits, j.Error)
		}
	}
}

// nodeJWT returns node and a directory holding jwt.mjs with its libraries
// installed (nodetest.Libraries: it skips without node, or fails under
// SENDORA_NODE_TESTS=required).
func nodeJWT(t *testing.T) (node, dir string) {
	t.Helper()
	node, modules := nodetest.Libraries(t)
	src := filepath.Join("testdata", "node")
	// The script itself always comes from the repository.
	script, err := os.ReadFile(filepath.Join(src, "jwt.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	if err := os.WriteFile(filepath.Join(run, "jwt.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "package.json"), []byte(`{"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return node, run
}

// runNodeJWT runs jobs through jwt.mjs.
func runNodeJWT(t *testing.T, node, dir string, jobs []jwtJob) []jwtJob {
	t.Helper()
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "jwt.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var done []jwtJob
	if err := json.Unmarshal(out, &done); err != nil {
		t.Fatalf("node output: %v", err)
	}
	if len(done) != len(jobs) {
		t.Fatalf("node ran %d jobs, want %d", len(done), len(jobs))
	}
	return done
}

// randomShort is randomUserID cut to at most 40 characters.
func randomShort(rng *rand.Rand) string {
	s := randomUserID(rng)
	if r := []rune(s); len(r) > 40 {
		return string(r[:40])
	}
	return s
}

// randomTraits is a small random traits object, as JSON. Its strings hold
// no U+0000, which traits may not (TestJWTReasons has that case).
func randomTraits(rng *rand.Rand) json.RawMessage {
	m := map[string]any{}
	text := func() string { return strings.ReplaceAll(randomShort(rng), "\x00", "") }
	for range rng.IntN(5) {
		k := text()
		switch rng.IntN(4) {
		case 0:
			m[k] = text()
		case 1:
			m[k] = rng.IntN(1000000)
		case 2:
			m[k] = rng.IntN(2) == 0
		default:
			m[k] = map[string]any{"n": []any{text(), nil, 1.5}}
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// TestJWTMatchesNode signs fresh random claims with Node's jsonwebtoken
// and jose and verifies them here; then signs with SignJWT (what `sendora
// sign --jwt` runs) and has both libraries verify those.
func TestJWTMatchesNode(t *testing.T) {
	node, dir := nodeJWT(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	now := time.Now().Truncate(time.Second)

	type claimSet struct {
		secret identity.Secret
		userID string
		traits json.RawMessage
	}
	var sets []claimSet
	var jobs []jwtJob
	for i := range 150 {
		c := claimSet{secret: identity.NewSecret(), userID: randomUserID(rng), traits: randomTraits(rng)}
		if c.userID == "" {
			c.userID = "u"
		}
		if r := []rune(c.userID); len(r) > 500 { // a token holds at most MaxTokenLength bytes
			c.userID = string(r[:500])
		}
		sets = append(sets, c)
		payload, _ := json.Marshal(map[string]any{"sub": c.userID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "traits": c.traits})
		lib := []string{"jsonwebtoken", "jose"}[i%2]
		jobs = append(jobs, jwtJob{Op: "sign", Lib: lib, Secret: c.secret.Reveal(), Payload: payload})
	}
	for i, j := range runNodeJWT(t, node, dir, jobs) {
		c := sets[i]
		if j.Error != "" {
			t.Fatalf("%s could not sign %q: %s", j.Lib, c.userID, j.Error)
		}
		kr := newKeyring(t, true, key{secret: c.secret, status: identity.StatusCurrent})
		got := kr.VerifyToken(c.userID, j.Token, now)
		if got.Reason != identity.Verified || !sameJSON(t, got.Traits, c.traits) {
			t.Errorf("%s's token for %.100q: %s with traits %.200s, want verified with %.200s", j.Lib, c.userID, got.Reason, got.Traits, c.traits)
		}
		if r := kr.Verify(c.userID+"x", j.Token, now); r != identity.UserMismatch {
			t.Errorf("%s's token for %q verified against another userId: %s", j.Lib, c.userID, r)
		}
	}

	jobs = jobs[:0]
	for i, c := range sets {
		tok, err := identity.SignJWT(c.secret, identity.JWTClaims{Subject: c.userID, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Traits: c.traits})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, jwtJob{Op: "verify", Lib: []string{"jsonwebtoken", "jose"}[i%2], Secret: c.secret.Reveal(), Token: tok, Now: now.Unix()})
	}
	for i, j := range runNodeJWT(t, node, dir, jobs) {
		c := sets[i]
		if !j.OK || j.Sub != c.userID || !sameJSON(t, []byte(j.Traits), c.traits) {
			t.Errorf("%s on SignJWT's token for %q: ok %v, sub %q, traits %s, error %q", j.Lib, c.userID, j.OK, j.Sub, j.Traits, j.Error)
		}
	}
	// And both refuse it under another secret, as this server does.
	bad := []jwtJob{{Op: "verify", Lib: "jsonwebtoken", Secret: identity.NewSecret().Reveal(), Token: jobs[0].Token, Now: now.Unix()},
		{Op: "verify", Lib: "jose", Secret: identity.NewSecret().Reveal(), Token: jobs[1].Token, Now: now.Unix()}}
	for _, j := range runNodeJWT(t, node, dir, bad) {
		if j.OK || j.Error == "" {
			t.Errorf("%s verified a token under the wrong secret", j.Lib)
		}
	}
}
