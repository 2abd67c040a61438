package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// TestIdentitySchemesCLI: `identity schemes` shows the setting as the
// arguments that would set it, sets each policy with or without a maximum
// lifetime (kept when not given), audits each change as the CLI's, and
// refuses what is not a setting with exit 2 and nothing changed.
func TestIdentitySchemesCLI(t *testing.T) {
	data := newDataDir(t)
	secret := rotateCLI(t, "--data", data)
	show := func() string {
		t.Helper()
		out, errOut, code := runCLI(t, nil, "identity", "schemes", "--data", data)
		if code != 0 {
			t.Fatalf("identity schemes: exit %d: %s", code, errOut)
		}
		return strings.TrimSuffix(out, "\n")
	}
	set := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, nil, append(append([]string{"identity", "schemes"}, args...), "--data", data)...)
		if code != 0 || out != "" {
			t.Fatalf("identity schemes %s: exit %d, stdout %q, stderr %s", strings.Join(args, " "), code, out, errOut)
		}
		return errOut
	}
	if got := show(); got != "hmac_v1,jwt" {
		t.Errorf("the default = %q, want hmac_v1,jwt", got)
	}
	jwt1h := func() string {
		now := time.Now()
		tok, err := identity.SignJWT(secret, identity.JWTClaims{Subject: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	verify := func(tok string) identity.Reason {
		_, kr, _ := identityState(t, data, "")
		return kr.Verify("u", tok, time.Now())
	}

	msg := set("jwt", "--max-lifetime", "24h")
	if !strings.Contains(msg, "accepts JWTs only") || !strings.Contains(msg, "at most 24h ahead") || !strings.Contains(msg, "no backend of yours signs hmac_v1") {
		t.Errorf("stderr after jwt --max-lifetime 24h = %q", msg)
	}
	if got := show(); got != "jwt --max-lifetime 24h" {
		t.Errorf("shown = %q", got)
	}
	if verify(identity.Sign(secret, "u")) != identity.UnsupportedScheme || verify(jwt1h()) != identity.Verified {
		t.Error("jwt only does not refuse hmac_v1 or accept a JWT")
	}
	// Shown, it sets itself again.
	set(strings.Fields(show())...)
	if got := show(); got != "jwt --max-lifetime 24h" {
		t.Errorf("after setting what was shown: %q", got)
	}
	// The maximum is kept when not given, changed or removed when given.
	set("hmac_v1,jwt")
	if got := show(); got != "hmac_v1,jwt --max-lifetime 24h" {
		t.Errorf("after hmac_v1,jwt without --max-lifetime: %q, want the 24h kept", got)
	}
	set("jwt,hmac_v1", "--max-lifetime", "90m")
	if got := show(); got != "hmac_v1,jwt --max-lifetime 1h30m" {
		t.Errorf("after --max-lifetime 90m: %q", got)
	}
	msg = set("hmac_v1")
	if got := show(); got != "hmac_v1" || !strings.Contains(msg, "accepts hmac_v1 tokens only") {
		t.Errorf("after hmac_v1: %q (stderr %q), want hmac_v1 and no maximum", got, msg)
	}
	if verify(identity.Sign(secret, "u")) != identity.Verified || verify(jwt1h()) != identity.UnsupportedScheme {
		t.Error("hmac_v1 only does not accept hmac_v1 or refuse a JWT")
	}
	if msg := set("hmac_v1,jwt", "--max-lifetime", "0"); !strings.Contains(msg, "no maximum JWT lifetime") || !strings.Contains(msg, "Caution") {
		t.Errorf("stderr after hmac_v1,jwt = %q, want the caution about the shared MAC", msg)
	}

	_, _, audit := identityState(t, data, "")
	var sets []store.Audit
	for _, a := range audit {
		if a.Action == store.ActionSchemesSet {
			sets = append(sets, a)
		}
	}
	if len(sets) != 6 || sets[0].Actor != "cli" || sets[0].Detail != "schemes=hmac_v1,jwt max_lifetime=none (was schemes=hmac_v1 max_lifetime=none)" {
		t.Errorf("%d schemes.set entries, newest %+v", len(sets), sets[0])
	}

	for _, bad := range [][]string{
		{"JWT"}, {"hmac_v1,hmac_v1"}, {"none"}, {"jwt", "hmac_v1"}, {"jwt", "--max-lifetime", "30s"}, {"jwt", "--max-lifetime", "-1h"},
		{"jwt", "--max-lifetime", "9000h"}, {"jwt", "--max-lifetime", "1 day"}, {"--max-lifetime", "1h"}, {"hmac_v1", "--max-lifetime", "1h"},
	} {
		out, errOut, code := runCLI(t, nil, append(append([]string{"identity", "schemes"}, bad...), "--data", data)...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("identity schemes %s: exit %d, stdout %q, stderr %q; want 2 and one line", strings.Join(bad, " "), code, out, errOut)
		}
	}
	if _, errOut, code := runCLI(t, nil, "identity", "schemes", "jwt", "--project", "nope", "--data", data); code != 1 || !strings.Contains(errOut, `no project named "nope"`) {
		t.Errorf("unknown project: exit %d, %q", code, errOut)
	}
	if got := show(); got != "hmac_v1,jwt" {
		t.Errorf("refused commands changed the setting: %q", got)
	}
}

// TestIdentityEndOverlapCLI: `identity rotate` keeps the old secret for
// the default overlap, 1 h, the dashboard's too; `identity end-overlap`
// stops it at once, audited; a second one changes nothing and says so.
func TestIdentityEndOverlapCLI(t *testing.T) {
	data := newDataDir(t)
	s1 := rotateCLI(t, "--data", data)
	before := time.Now()
	s2 := rotateCLI(t, "--data", data) // the default overlap
	st, kr, _ := identityState(t, data, "")
	prev, ok := st.Previous()
	if !ok || prev.ValidUntil.Sub(prev.RetiredAt) != identity.DefaultOverlap || identity.DefaultOverlap != time.Hour {
		t.Fatalf("after a rotation with the default overlap: previous %+v, want 1 h", prev)
	}
	if kr.Verify("u", identity.Sign(s1, "u"), before) != identity.Verified || kr.Verify("u", identity.Sign(s2, "u"), before) != identity.Verified {
		t.Fatal("both secrets do not verify during the overlap")
	}

	out, errOut, code := runCLI(t, nil, "identity", "end-overlap", "--data", data)
	if code != 0 || out != "" || !strings.Contains(errOut, "secret version 1 stopped verifying now") {
		t.Fatalf("end-overlap: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	st, kr, audit := identityState(t, data, "")
	if got := kr.Verify("u", identity.Sign(s1, "u"), time.Now()); got != identity.RotatedSecret {
		t.Errorf("the old secret after end-overlap: %s, want rotated_secret", got)
	}
	if _, ok := st.Previous(); ok || st.Keys[1].Status != identity.StatusRetired {
		t.Errorf("state after end-overlap: %+v", st.Keys)
	}
	if audit[0].Action != store.ActionOverlapEnd || audit[0].Actor != "cli" || !strings.Contains(audit[0].Detail, "version=1 fingerprint="+s1.Fingerprint()) {
		t.Errorf("newest audit entry = %+v", audit[0])
	}
	out, errOut, code = runCLI(t, nil, "identity", "end-overlap", "--data", data)
	if code != 0 || out != "" || !strings.Contains(errOut, "no overlap is running") {
		t.Errorf("end-overlap again: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, _, audit := identityState(t, data, ""); audit[0].Action != store.ActionOverlapEnd || audit[1].Action == store.ActionOverlapEnd {
		t.Errorf("a second end-overlap was audited")
	}
	if _, _, code := runCLI(t, nil, "identity", "end-overlap", "extra", "--data", data); code != 2 {
		t.Errorf("end-overlap with an argument: exit %d, want 2", code)
	}
}

// TestClaimsReachTheServer: a scheme change and an end-overlap made with
// the CLI while the server runs are enforced by it without a restart (it
// reads the change counter once a second; the cache would keep them an
// hour). The deadline only bounds a failing test.
func TestClaimsReachTheServer(t *testing.T) {
	data := newDataDir(t)
	old := rotateCLI(t, "--data", data)
	cur := rotateCLI(t, "--data", data, "--overlap", "24h")
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	key := listProjects(t, nil, data)[0].PublicKey
	s := startServer(t, nil, "--data", data, "--secret-cache-ttl", "1h")
	post := func(token string) (int, string) {
		b, _ := json.Marshal(map[string]any{"publicKey": key, "type": "track", "event": "x", "userId": "u", "identityToken": token})
		code, body := postJSON(t, s.url+"/events", string(b))
		var e struct{ Error struct{ Reason string } }
		json.Unmarshal([]byte(body), &e)
		return code, e.Error.Reason
	}
	until := func(what string, token string, want int, reason string) {
		t.Helper()
		start := time.Now()
		for {
			code, r := post(token)
			if code == want && r == reason {
				t.Logf("%s: applied after %s", what, time.Since(start).Round(10*time.Millisecond))
				return
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("%s: still %d %s after 15 s, want %d %s", what, code, r, want, reason)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code, r := post(identity.Sign(old, "u")); code != 200 {
		t.Fatalf("the old secret during its overlap: %d %s", code, r)
	}
	if _, errOut, code := runCLI(t, nil, "identity", "schemes", "jwt", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	until("jwt only", identity.Sign(cur, "u"), 401, "unsupported_scheme")
	if _, errOut, code := runCLI(t, nil, "identity", "schemes", "hmac_v1", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	until("hmac_v1 only", identity.Sign(cur, "u"), 200, "")
	if _, errOut, code := runCLI(t, nil, "identity", "end-overlap", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	until("end-overlap", identity.Sign(old, "u"), 401, "rotated_secret")
	if code, r := post(identity.Sign(cur, "u")); code != 200 {
		t.Errorf("the current secret after end-overlap: %d %s", code, r)
	}
}
