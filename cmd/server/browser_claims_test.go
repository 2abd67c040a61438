package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sendora/sendora/internal/identity"
)

// post sends one event and returns the status and the error's reason.
func postEvent(t *testing.T, url, key, user, token string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"publicKey": key, "type": "identify", "userId": user, "identityToken": token,
		"traits": map[string]any{"plan": "enterprise"}})
	r, err := http.Post(url+"/events", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var e struct{ Error struct{ Reason string } }
	json.Unmarshal(body, &e)
	return r.StatusCode, e.Error.Reason
}

func signJWT(t *testing.T, s identity.Secret, user string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	tok, err := identity.SignJWT(s, identity.JWTClaims{Subject: user, IssuedAt: now, ExpiresAt: now.Add(ttl), Traits: []byte(`{"plan":"startup"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBrowserRotationFinishes drives the rotation a person watches finish,
// in Chromium: rotate with the default overlap (1 h) → events signed with
// both secrets are counted per secret → End overlap now (a confirmation, a
// form post) → the old secret is refused as rotated_secret; then the Token
// schemes form (hmac_v1 only: the JWT is refused as unsupported_scheme) and
// the token checker on a JWT. Screenshots at desktop and phone widths; no
// console error (CSP violations included); no sideways scroll on a phone.
func TestBrowserRotationFinishes(t *testing.T) {
	ctx := browser(t)
	errs := consoleErrors(ctx)
	shots := newShooter(t)
	data := newDataDir(t)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	v1 := rotateCLI(t, "--data", data, "--overlap", "0")
	srv := startServer(t, nil, "--data", data)
	key := listProjects(t, nil, data)[0].PublicKey
	for i := range 4 {
		if code, r := postEvent(t, srv.url, key, fmt.Sprint("u_", i), identity.Sign(v1, fmt.Sprint("u_", i))); code != 200 {
			t.Fatalf("event under v1: %d %s", code, r)
		}
	}

	must(t, "sign in", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"), chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple")))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
	must(t, "identity page", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("schemes"))))
	if got := text(t, ctx, "#schemes"); !strings.Contains(got, "Recommended: accept hmac_v1 only") {
		t.Errorf("Token schemes of a project without JWTs = %q", got)
	}
	shots.element(ctx, "claims-01-schemes-recommended", "#schemes")

	// Rotate with the overlap checked by default: 1 hour.
	submit(t, ctx, "#secret a.button")
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=overlap]:checked").value`))
	must(t, "checked overlap", err)
	if checked != "1h" {
		t.Errorf("the overlap checked by default = %q, want 1h", checked)
	}
	if got := text(t, ctx, "#overlap-default"); !strings.Contains(got, "sendora identity rotate") {
		t.Errorf("default note = %q", got)
	}
	shots.shot(ctx, "claims-02-rotate-confirm")
	submit(t, ctx, "form[action='/settings/identity/rotate'] button[type=submit]")
	v2, err := identity.ParseSecret(text(t, ctx, "#new-secret"))
	must(t, "the new secret", err)
	must(t, "JWT snippets", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("jwt-snippet-go"))))
	shots.shot(ctx, "claims-03-new-secret-jwt-snippets")
	submit(t, ctx, "a.button.primary")
	submit(t, ctx, "#strict button[type=submit]")

	// Backends: some still on v1, some on v2 (hmac_v1 and JWTs).
	for i := range 3 {
		if code, r := postEvent(t, srv.url, key, fmt.Sprint("u_", i), identity.Sign(v1, fmt.Sprint("u_", i))); code != 200 {
			t.Fatalf("v1 during the overlap: %d %s", code, r)
		}
	}
	for i := range 5 {
		tok := identity.Sign(v2, fmt.Sprint("u_", i))
		if i%2 == 1 {
			tok = signJWT(t, v2, fmt.Sprint("u_", i), time.Hour)
		}
		if code, r := postEvent(t, srv.url, key, fmt.Sprint("u_", i), tok); code != 200 {
			t.Fatalf("v2 during the overlap: %d %s", code, r)
		}
	}
	time.Sleep(400 * time.Millisecond) // the writer flushes counters with the next commit; these are committed
	must(t, "reload", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("overlap"))))
	rows := text(t, ctx, "#secret-use tbody")
	if rows = strings.ToLower(rows); !strings.Contains(rows, "v2") || !strings.Contains(rows, "v1") {
		t.Fatalf("per-secret rows = %q", rows)
	}
	cur := text(t, ctx, "#secret-use tr[data-version='2'] td.num")
	prev := text(t, ctx, "#secret-use tr[data-version='1'] td.num")
	if cur != "5" || prev != "7" { // v1 verified 4 events just before the rotation and 3 after
		t.Errorf("verified in the last hour: current %q, previous %q; want 5 and 7", cur, prev)
	}
	if got := text(t, ctx, "#overlap"); !strings.Contains(got, "Old secret in use") {
		t.Errorf("overlap panel = %q", got)
	}
	shots.shot(ctx, "claims-04-identity-overlap")
	shots.element(ctx, "claims-04b-overlap-panel", "#overlap")
	shots.element(ctx, "claims-04c-schemes-panel", "#schemes")

	// The same on a phone.
	must(t, "phone", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("overlap"))))
	shots.element(ctx, "claims-05-phone-overlap", "#overlap")
	shots.element(ctx, "claims-05b-phone-schemes", "#schemes")
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	must(t, "page width", err)
	if width > 390 {
		t.Errorf("on a 390 px phone the Identity page is %d px wide", width)
	}
	submit(t, ctx, "#overlap a.button")
	shots.shot(ctx, "claims-06-phone-end-overlap-confirm")
	if width, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); width > 390 {
		t.Errorf("on a 390 px phone the confirmation is %d px wide", width)
	}
	must(t, "desktop", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("form[action='/settings/identity/end-overlap']"))))
	if got := bodyText(t, ctx); !strings.Contains(got, "will fail with rotated_secret and be refused") {
		t.Errorf("confirmation page:\n%s", got)
	}
	shots.shot(ctx, "claims-07-end-overlap-confirm")

	// End overlap now: the old secret is refused at once.
	submit(t, ctx, "form[action='/settings/identity/end-overlap'] button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "The overlap ended: secret v1 no longer verifies") {
		t.Errorf("after ending:\n%s", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#overlap").length`)); n != 0 {
		t.Error("the overlap panel is still shown")
	}
	if code, r := postEvent(t, srv.url, key, "u_0", identity.Sign(v1, "u_0")); code != 401 || r != "rotated_secret" {
		t.Errorf("v1 after End overlap now: %d %s, want 401 rotated_secret", code, r)
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#rejections-table tbody").innerText.includes("rotated_secret")`,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0)))
	must(t, "the rotated_secret rejection appears", err)
	shots.shot(ctx, "claims-08-identity-after-end")

	// Token schemes: hmac_v1 only refuses the JWT a backend still sends.
	must(t, "choose hmac_v1 only", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#schemes input[value='hmac_v1']"))))
	submit(t, ctx, "#schemes button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "hmac_v1 tokens only are accepted") {
		t.Errorf("after saving hmac_v1 only:\n%s", got)
	}
	if code, r := postEvent(t, srv.url, key, "u_1", signJWT(t, v2, "u_1", time.Hour)); code != 401 || r != "unsupported_scheme" {
		t.Errorf("a JWT under hmac_v1 only: %d %s, want 401 unsupported_scheme", code, r)
	}
	shots.element(ctx, "claims-09-schemes-hmac-only", "#schemes")

	// The token checker decodes a JWT and shows why it fails now.
	must(t, "fill checker", chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("check-user"), "u_1"),
		chromedp.SetValue(chromedp.ID("check-token"), signJWT(t, v2, "u_1", 90*time.Minute))))
	submit(t, ctx, "#checker button[type=submit]")
	v := text(t, ctx, "#verdict")
	if !strings.Contains(v, "unsupported_scheme") || !strings.Contains(v, "sub") || !strings.Contains(v, `"plan": "startup"`) {
		t.Errorf("checker verdict = %q", v)
	}
	shots.element(ctx, "claims-10-checker-jwt", "#checker")
	must(t, "phone checker", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)))
	shots.element(ctx, "claims-10b-phone-checker-jwt", "#checker")
	if width, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); width > 390 {
		t.Errorf("on a 390 px phone the checker page is %d px wide", width)
	}

	for _, m := range errs() {
		t.Errorf("browser console: %s", m)
	}
}

// TestBrowserClaimsWithoutJavaScript: with scripts disabled, End overlap
// now (through its confirmation) and the Token schemes form are plain
// form posts that work.
func TestBrowserClaimsWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	shots := newShooter(t)
	data := newDataDir(t)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	v1 := rotateCLI(t, "--data", data)
	rotateCLI(t, "--data", data) // the default overlap: an hour
	srv := startServer(t, nil, "--data", data)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	must(t, "disable scripts", err)
	must(t, "sign in", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"), chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple")))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
	must(t, "overlap shown", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("overlap"))))
	shots.shot(ctx, "claims-nojs-01-identity")

	submit(t, ctx, "#overlap a.button")
	submit(t, ctx, "form[action='/settings/identity/end-overlap'] button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "secret v1 no longer verifies") {
		t.Errorf("End overlap now without JavaScript:\n%s", got)
	}
	st, kr, _ := identityState(t, data, "")
	if _, ok := st.Previous(); ok || kr.Verify("u", identity.Sign(v1, "u"), time.Now()) != identity.RotatedSecret {
		t.Error("the overlap did not end")
	}

	must(t, "choose jwt only and a lifetime", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#schemes input[value='jwt']")),
		chromedp.SetValue(chromedp.ID("max-lifetime"), "24h")))
	submit(t, ctx, "#schemes button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "JWTs only are accepted, with exp at most 24h ahead") {
		t.Errorf("Token schemes without JavaScript:\n%s", got)
	}
	if st, _, _ := identityState(t, data, ""); st.Schemes != identity.AcceptJWTOnly || st.MaxLifetime != 24*time.Hour {
		t.Errorf("stored %s, %s", st.Schemes, st.MaxLifetime)
	}
	shots.shot(ctx, "claims-nojs-02-after-schemes")
}
