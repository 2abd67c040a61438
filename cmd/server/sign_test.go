package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// keyringOf is a keyring whose current secret is s, built the way the
// server builds one (sealed, then unsealed).
func keyringOf(t *testing.T, s identity.Secret) *identity.Keyring {
	t.Helper()
	sealer := identity.NewSealer(identity.NewMasterKey())
	kr, err := identity.NewKeyring(identity.State{ProjectID: 1, Strict: true, Keys: []identity.SealedKey{
		{Version: 1, Status: identity.StatusCurrent, Sealed: sealer.SealSecret(1, s)},
	}}, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestSignJWTCLI: `sendora sign --jwt` prints a JWT alone on stdout that
// the server's keyring verifies for that userId, with the traits in the
// order given and exp the --ttl after iat.
func TestSignJWTCLI(t *testing.T) {
	secret := identity.NewSecret()
	env := map[string]string{"SENDORA_IDENTITY_SECRET": secret.Reveal()}
	kr := keyringOf(t, secret)
	for _, tt := range []struct {
		name   string
		user   string
		args   []string
		ttl    time.Duration
		traits string
	}{
		{"defaults: 1 h, no traits", "u_1", nil, time.Hour, ""},
		{"traits: strings, JSON values, in order", "u_1", []string{"--trait", "plan=startup", "--trait", "mrr:=99", "--trait", "vip:=true",
			"--trait", `company:={"name": "Acme", "size": [1, 2]}`, "--trait", "note=a=b", "--trait", "email=", "--trait", `quoted:="99"`},
			time.Hour, `{"plan":"startup","mrr":99,"vip":true,"company":{"name":"Acme","size":[1,2]},"note":"a=b","email":"","quoted":"99"}`},
		{"ttl 15m", "u_1", []string{"--ttl", "15m"}, 15 * time.Minute, ""},
		{"ttl=24h form", "u_1", []string{"--ttl=24h", "--trait=plan=pro"}, 24 * time.Hour, `{"plan":"pro"}`},
		{"unicode userId and traits", "ユーザー 👩‍💻", []string{"--trait", "名前=José"}, time.Hour, `{"名前":"José"}`},
		{"userId that looks like a flag", "--jwt", nil, time.Hour, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			out, errOut, code := runCLI(t, env, append([]string{"sign", "--user", tt.user, "--jwt"}, tt.args...)...)
			after := time.Now()
			if code != 0 || errOut != "" || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want the token alone on one line", code, out, errOut)
			}
			tok := strings.TrimSuffix(out, "\n")
			res := kr.VerifyToken(tt.user, tok, time.Now())
			if res.Reason != identity.Verified || res.Scheme != identity.SchemeJWT || string(res.Traits) != tt.traits {
				t.Errorf("VerifyToken = %s, %s, traits %s; want verified jwt with %s", res.Reason, res.Scheme, res.Traits, tt.traits)
			}
			if r := kr.Verify(tt.user+"x", tok, time.Now()); r != identity.UserMismatch {
				t.Errorf("for another userId: %s, want user_mismatch", r)
			}
			info, r := identity.InspectJWT(tok)
			if r != identity.Verified || info.Alg != "HS256" || info.Subject != tt.user {
				t.Fatalf("InspectJWT = %+v, %s", info, r)
			}
			if info.IssuedAt.Before(before) || info.IssuedAt.After(after) || info.ExpiresAt.Sub(info.IssuedAt) != tt.ttl {
				t.Errorf("iat %v, exp %v; want iat now (%v..%v) and exp %v later", info.IssuedAt, info.ExpiresAt, before, after, tt.ttl)
			}
			if r := kr.Verify(tt.user, tok, info.ExpiresAt.Add(identity.JWTLeeway)); r != identity.ExpiredToken {
				t.Errorf("at exp + leeway: %s, want expired_token", r)
			}
		})
	}
}

func TestSignJWTCLIErrors(t *testing.T) {
	good := identity.NewSecret().Reveal()
	env := map[string]string{"SENDORA_IDENTITY_SECRET": good}
	for _, tt := range []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"--ttl without --jwt", env, []string{"sign", "--user", "u", "--ttl", "1h"}, 2, "--ttl and --trait need --jwt"},
		{"--trait without --jwt", env, []string{"sign", "--user", "u", "--trait", "a=b"}, 2, "--ttl and --trait need --jwt"},
		{"empty userId", env, []string{"sign", "--user", "", "--jwt"}, 2, "non-empty --user"},
		{"no --user", env, []string{"sign", "--jwt"}, 2, "--user is required"},
		{"ttl 0", env, []string{"sign", "--user", "u", "--jwt", "--ttl", "0"}, 2, "--ttl must be positive"},
		{"ttl negative", env, []string{"sign", "--user", "u", "--jwt", "--ttl", "-1h"}, 2, "--ttl must be positive"},
		{"ttl not a duration", env, []string{"sign", "--user", "u", "--jwt", "--ttl", "1 hour"}, 2, "invalid value"},
		{"trait without =", env, []string{"sign", "--user", "u", "--jwt", "--trait", "plan"}, 2, "KEY=VALUE or KEY:=JSON"},
		{"trait with an empty key", env, []string{"sign", "--user", "u", "--jwt", "--trait", "=x"}, 2, "non-empty KEY"},
		{"trait JSON that is not JSON", env, []string{"sign", "--user", "u", "--jwt", "--trait", "mrr:=ninety"}, 2, "is not JSON"},
		{"trait twice", env, []string{"sign", "--user", "u", "--jwt", "--trait", "a=1", "--trait", "a:=2"}, 2, `trait "a" given twice`},
		{"no secret", nil, []string{"sign", "--user", "u", "--jwt"}, 1, "SENDORA_IDENTITY_SECRET is not set"},
		{"not a secret", map[string]string{"SENDORA_IDENTITY_SECRET": "hunter2-hunter2-hunter2-hunter2-hunter2"}, []string{"sign", "--user", "u", "--jwt"}, 1, `must start with "sis_"`},
		{"token over MaxTokenLength", env, []string{"sign", "--user", "u", "--jwt", "--trait", "bio=" + strings.Repeat("x", identity.MaxTokenLength)}, 1, "over the 8192 the server accepts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit = %d, want %d", code, tt.code)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !strings.Contains(errOut, tt.inStderr) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr = %q, want one line with %q", errOut, tt.inStderr)
			}
			if v := tt.env["SENDORA_IDENTITY_SECRET"]; v != "" && strings.Contains(errOut, v) {
				t.Errorf("stderr shows the secret: %q", errOut)
			}
		})
	}
}

// TestJWTThroughTheServer runs the real server: a token from `sendora sign
// --jwt` is accepted in strict mode, and its signed plan wins over the one
// the client sent (in the export: the value and signedTraits); an expired
// JWT is refused with expired_token, and with strict mode off it is
// accepted and recorded as expired_token (events export), as report-only.
// With a maximum lifetime set by the CLI, a token within it verifies, one
// beyond it or without exp is refused (malformed_token) in strict mode and
// recorded so in report-only mode, and an expired one is still
// expired_token.
func TestJWTThroughTheServer(t *testing.T) {
	data := newDataDir(t)
	secret := rotateCLI(t, "--data", data)
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	key := listProjects(t, nil, data)[0].PublicKey
	s := startServer(t, nil, "--data", data)
	event := func(id, user, token string) string {
		b, _ := json.Marshal(map[string]any{"publicKey": key, "type": "identify", "userId": user, "identityToken": token, "messageId": id,
			"traits": map[string]any{"plan": "enterprise", "email": "sam@acme.co"}})
		return string(b)
	}
	reason := func(body string) string {
		var e struct{ Error struct{ Code, Reason string } }
		json.Unmarshal([]byte(body), &e)
		return e.Error.Code + "/" + e.Error.Reason
	}
	sign := func(ttl string) string {
		tok, errOut, code := runCLI(t, map[string]string{"SENDORA_IDENTITY_SECRET": secret.Reveal()}, "sign", "--user", "u_jwt", "--jwt", "--ttl", ttl, "--trait", "plan=startup")
		if code != 0 {
			t.Fatal(errOut)
		}
		return strings.TrimSpace(tok)
	}
	tok := sign("10m")
	if code, body := postJSON(t, s.url+"/events", event("m1", "u_jwt", tok)); code != 200 {
		t.Fatalf("the CLI's JWT: %d %s", code, body)
	}
	if code, body := postJSON(t, s.url+"/events", event("m2", "someone_else", tok)); code != 401 || reason(body) != "IDENTITY_UNVERIFIED/user_mismatch" {
		t.Errorf("the CLI's JWT for another user: %d %s", code, body)
	}
	past := time.Now().Add(-2 * time.Hour)
	expired, err := identity.SignJWT(secret, identity.JWTClaims{Subject: "u_old", IssuedAt: past, ExpiresAt: past.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := postJSON(t, s.url+"/events", event("m3", "u_old", expired)); code != 401 || reason(body) != "IDENTITY_UNVERIFIED/expired_token" {
		t.Errorf("an expired JWT in strict mode: %d %s", code, body)
	}

	// A maximum lifetime of 15 minutes, set while the server runs.
	if _, errOut, code := runCLI(t, nil, "identity", "schemes", "hmac_v1,jwt", "--max-lifetime", "15m", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	long := sign("1h")
	noExp, err := identity.SignJWT(secret, identity.JWTClaims{Subject: "u_jwt"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second) // the server reads the change within a second
	for {
		code, body := postJSON(t, s.url+"/events", event("", "u_jwt", long))
		if code == 401 && reason(body) == "IDENTITY_UNVERIFIED/malformed_token" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a 1 h JWT under a 15 min maximum: still %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct{ what, id, user, token, want string }{
		{"a 10 min JWT", "m5", "u_jwt", sign("10m"), ""},
		{"a JWT without exp", "m6", "u_jwt", noExp, "IDENTITY_UNVERIFIED/malformed_token"},
		{"an expired JWT", "m7", "u_old", expired, "IDENTITY_UNVERIFIED/expired_token"},
	} {
		code, body := postJSON(t, s.url+"/events", event(c.id, c.user, c.token))
		if c.want == "" && code != 200 || c.want != "" && (code != 401 || reason(body) != c.want) {
			t.Errorf("%s under a 15 min maximum, strict: %d %s, want %s", c.what, code, body, c.want)
		}
	}

	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "off", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	s = startServer(t, nil, "--data", data)
	for _, c := range []struct{ id, user, token string }{{"m4", "u_old", expired}, {"m8", "u_jwt", long}, {"m9", "u_jwt", noExp}} {
		if code, body := postJSON(t, s.url+"/events", event(c.id, c.user, c.token)); code != 200 {
			t.Errorf("%s in report-only mode: %d %s", c.id, code, body)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	got := exportIDs(t, data, nil)
	for id, v := range got {
		if strings.HasPrefix(id, "srv_") && v == "verified" { // the 1 h JWT, until the server read the change
			delete(got, id)
		}
	}
	want := map[string]string{"m1": "verified", "m5": "verified", "m4": "expired_token", "m8": "malformed_token", "m9": "malformed_token"}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("%s stored as %q, want %q", id, got[id], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored events and their verification: %v; want %v", got, want)
	}

	// The export shows the signed plan, and that it was signed; the
	// report-only events keep what the client sent.
	out, _, _ := runCLI(t, nil, "events", "export", "--data", data)
	for line := range strings.Lines(out) {
		var e struct {
			MessageID    string
			Traits       map[string]string
			SignedTraits []string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		wantPlan, wantSigned := "enterprise", "[]"
		if v, ok := got[e.MessageID]; !ok || v == "verified" {
			wantPlan, wantSigned = "startup", "[plan]"
		}
		if e.Traits["plan"] != wantPlan || e.Traits["email"] != "sam@acme.co" || fmt.Sprint(e.SignedTraits) != wantSigned {
			t.Errorf("export of %s: %s", e.MessageID, line)
		}
	}
}
