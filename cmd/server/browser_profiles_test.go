package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sendora/sendora/internal/identity"
)

// poisonServer starts the real server with an admin and an identity secret
// (strict mode off: report-only), then plays the attack the Profiles page
// is for: the backend's verified identify of u_victim, then a hostile SDK
// posting, with the public key alone, identifies that raise u_victim's plan
// and remove its mrr. Around them: other users, a userId made of HTML, a
// huge trait value and a page of traffic.
func poisonServer(t *testing.T) (*testServer, identity.Secret) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, nil, "--data", data)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	out, errOut, code := runCLI(t, nil, "identity", "rotate", "--data", data)
	if code != 0 {
		t.Fatalf("identity rotate: %s", errOut)
	}
	sec, err := identity.ParseSecret(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	keys, _, _ := runCLI(t, nil, "project", "list", "--json", "--data", data)
	var projects []struct {
		PublicKey string `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(keys), &projects); err != nil || len(projects) == 0 {
		t.Fatalf("project list: %q %v", keys, err)
	}
	signed := func(user string) string { return identity.Sign(sec, user) }
	events := []map[string]any{
		{"type": "identify", "userId": "u_victim", "messageId": "m_backend_1", "identityToken": signed("u_victim"),
			"traits": map[string]any{"email": "victim@acme.co", "plan": "free", "mrr": 10, "company": map[string]any{"name": "Acme", "seats": 3}}},
		{"type": "identify", "userId": "u_alice", "messageId": "m_alice", "identityToken": signed("u_alice"),
			"traits": map[string]any{"email": "alice@example.com", "plan": "pro", "bio": strings.Repeat("Lorem ipsum dolor sit amet. ", 400)}},
		{"type": "identify", "userId": `<img src=x onerror=alert(1)>`, "messageId": "m_html", "traits": map[string]any{"<b>key</b>": "<script>alert(1)</script>"}},
		{"type": "identify", "userId": "u_" + strings.Repeat("long", 100), "messageId": "m_" + strings.Repeat("long", 24), "identityToken": signed("u_" + strings.Repeat("long", 100)),
			"traits": map[string]any{strings.Repeat("k", 200): strings.Repeat("v", 200)}},
	}
	for i := range 30 {
		events = append(events, map[string]any{"type": "track", "event": "Viewed Pricing", "userId": fmt.Sprintf("u_%02d", i),
			"messageId": fmt.Sprintf("m_track_%02d", i), "identityToken": signed(fmt.Sprintf("u_%02d", i)), "properties": map[string]any{"path": "/pricing"}})
	}
	// The hostile SDK: no token, so report-only while strict mode is off.
	events = append(events,
		map[string]any{"type": "identify", "userId": "u_victim", "messageId": "m_forged_1", "traits": map[string]any{"plan": "enterprise", "mrr": nil}},
		map[string]any{"type": "identify", "userId": "u_victim", "messageId": "m_forged_2", "identityToken": "hmac_v1:" + strings.Repeat("0", 64),
			"traits": map[string]any{"plan": "enterprise", "email": "attacker@evil.example"}})
	body, _ := json.Marshal(map[string]any{"publicKey": projects[0].PublicKey, "events": events})
	resp, err := http.Post(srv.url+"/events/batch", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"accepted":%d`, len(events))) {
		t.Fatalf("batch = %d %s", resp.StatusCode, b)
	}
	return srv, sec
}

func signIn(t *testing.T, ctx context.Context, srv *testServer) {
	t.Helper()
	must(t, "open login", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/login"), chromedp.WaitVisible(chromedp.ID("email"))))
	must(t, "sign in", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
	))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
}

// TestBrowserPoisonedProfile follows an admin in Chromium from the Identity
// page to a poisoned profile: the Profiles list counts it, the profile
// shows the flagged traits above everything with the verified values they
// replaced, the messageId links open both events, and the Events page
// filters report-only events; then the same pages on a phone.
func TestBrowserPoisonedProfile(t *testing.T) {
	ctx := browser(t)
	errs := consoleErrors(ctx)
	shots := newShooter(t)
	srv, _ := poisonServer(t)
	signIn(t, ctx, srv)

	// 1. The Profiles link in the navigation; the flagged count is on top.
	submit(t, ctx, "nav.topnav a[href='/profiles']")
	if got := text(t, ctx, "#flagged-summary"); !strings.Contains(got, "1 profile has flagged traits") {
		t.Errorf("flagged summary = %q", got)
	}
	row := text(t, ctx, "#profiles-table tr.row-flagged")
	if !strings.Contains(row, "u_victim") || !strings.Contains(row, "3 flagged") {
		t.Errorf("flagged row = %q", row)
	}
	if got := text(t, ctx, "#profiles-table"); !strings.Contains(got, `<img src=x onerror=alert(1)>`) {
		t.Errorf("the HTML userId is not shown as text: %q", got)
	}
	shots.shot(ctx, "p01-profiles")
	// A userId of 400 characters without a space wraps instead of pushing
	// the other columns out of the panel.
	fits := func(table string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const t = document.querySelector("`+table+`"); return t.scrollWidth <= t.parentElement.clientWidth })()`))
		must(t, "table width", err)
		if !ok {
			t.Errorf("%s is wider than its panel", table)
		}
	}
	fits("#profiles-table")

	// 2. Only flagged, then the profile.
	submit(t, ctx, "#flagged-summary a")
	submit(t, ctx, "#profiles-table a")
	alert := text(t, ctx, "#poisoned")
	for _, want := range []string{"3 traits were changed by a less trusted event",
		`plan: "free" → "enterprise"`, "changed by report-only event m_forged_1 (missing_token)", "over the value set by verified event m_backend_1",
		"mrr: 10 → removed", `email: "victim@acme.co" → "attacker@evil.example"`, "changed by report-only event m_forged_2 (signature_mismatch)"} {
		if !strings.Contains(alert, want) {
			t.Errorf("poisoned section lacks %q:\n%s", want, alert)
		}
	}
	// The warning is the first thing after the heading.
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main .page-head").nextElementSibling.id`))
	must(t, "first section", err)
	if first != "poisoned" {
		t.Errorf("the section after the heading is %q, want the poisoned traits", first)
	}
	shots.shot(ctx, "p02-profile-poisoned")

	// 3. The forged events, from their links: the plan was changed by the
	// first (the second sent the same value again), the email by the second.
	submit(t, ctx, "#traits-table tr[data-key=plan] a.mono")
	if got := text(t, ctx, "#event-message"); got != "m_forged_1" {
		t.Errorf("the plan's event link opened %q", got)
	}
	if got := text(t, ctx, "#traits pre"); !strings.Contains(got, `"plan": "enterprise"`) || !strings.Contains(got, `"mrr": null`) {
		t.Errorf("event traits = %q", got)
	}
	must(t, "back to the profile", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profiles/view?user=u_victim"), chromedp.WaitVisible(chromedp.ID("traits-table"))))
	submit(t, ctx, "#traits-table tr[data-key=email] a.mono")
	if got := text(t, ctx, "#event-message"); got != "m_forged_2" {
		t.Errorf("the email's event link opened %q", got)
	}
	if got := text(t, ctx, "#event-facts"); !strings.Contains(got, "signature_mismatch") {
		t.Errorf("event facts = %q", got)
	}
	shots.shot(ctx, "p03-event")

	// 4. The Events page: report-only events only.
	submit(t, ctx, "nav.topnav a[href='/event-log']")
	must(t, "choose report-only", chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("f-verification"), "report_only")))
	submit(t, ctx, "form[action='/event-log'] button[type=submit]")
	got := text(t, ctx, "#events-table tbody")
	for _, want := range []string{"m_forged_1", "m_forged_2", "m_html"} {
		if !strings.Contains(got, want) {
			t.Errorf("report-only events lack %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "m_backend_1") || strings.Contains(got, "m_track") {
		t.Errorf("report-only events hold verified ones:\n%s", got)
	}
	shots.shot(ctx, "p04-events-report-only")
	must(t, "all events", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/event-log"), chromedp.WaitVisible(chromedp.ID("events-table"))))
	fits("#events-table")
	shots.shot(ctx, "p05-events")
	must(t, "long profile", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profiles/view?user=u_"+strings.Repeat("long", 100)), chromedp.WaitVisible(chromedp.ID("traits-table"))))
	fits("#traits-table")
	must(t, "alice", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profiles/view?user=u_alice"), chromedp.WaitVisible(chromedp.ID("traits-table"))))
	shots.shot(ctx, "p06-profile-long-value")

	// 5. A phone.
	must(t, "phone", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.url+"/profiles/view?user=u_victim"), chromedp.WaitVisible(chromedp.ID("poisoned"))))
	shots.shot(ctx, "p07-phone-profile")
	shots.viewport(ctx, "p07a-phone-profile-top")
	for _, path := range []string{"/profiles/view?user=u_victim", "/profiles", "/event-log", "/event-log/view?message=m_forged_2", "/profiles/view?user=u_alice",
		"/profiles/view?user=u_" + strings.Repeat("long", 100), "/event-log/view?message=m_" + strings.Repeat("long", 24)} {
		must(t, "phone "+path, chromedp.Do(ctx, chromedp.Navigate(srv.url+path), chromedp.WaitVisible(chromedp.CSS("main h1"))))
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
		must(t, "page width", err)
		if width > 390 {
			t.Errorf("on a 390 px phone %s is %d px wide: it scrolls sideways", path, width)
		}
	}
	must(t, "phone events", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/event-log"), chromedp.WaitVisible(chromedp.ID("events-table"))))
	shots.viewport(ctx, "p08-phone-events")
	must(t, "phone profiles", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profiles"), chromedp.WaitVisible(chromedp.ID("profiles-table"))))
	shots.viewport(ctx, "p09-phone-profiles")
	must(t, "phone event", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/event-log/view?message=m_forged_2"), chromedp.WaitVisible(chromedp.ID("traits"))))
	shots.viewport(ctx, "p10-phone-event")
	must(t, "desktop", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	for _, m := range errs() {
		t.Errorf("browser console: %s", m)
	}
}

// TestBrowserDataPagesWithoutJavaScript searches profiles, filters events
// and pages through them with scripts disabled, and reaches the filters by
// keyboard.
func TestBrowserDataPagesWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	shots := newShooter(t)
	srv, _ := poisonServer(t)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	must(t, "disable scripts", err)
	signIn(t, ctx, srv)

	must(t, "profiles", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/profiles"), chromedp.WaitVisible(chromedp.ID("profile-q"))))
	must(t, "search", chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("profile-q"), "u_vic")))
	submit(t, ctx, "form[action='/profiles'] button[type=submit]")
	if got := text(t, ctx, "#profiles-table tbody"); !strings.Contains(got, "u_victim") || strings.Contains(got, "u_alice") {
		t.Errorf("search u_vic without JavaScript: %q", got)
	}
	shots.shot(ctx, "nojs-p01-profiles-search")

	// Keyboard: from the search field, Tab reaches the checkbox, Space
	// ticks it, Enter on the button submits.
	must(t, "focus search", chromedp.Do(ctx, chromedp.Focus(chromedp.ID("profile-q"))))
	must(t, "tab", chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)))
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id + "|" + document.activeElement.labels[0].textContent.trim()`))
	must(t, "focus", err)
	if focus != "profile-flagged|Only flagged profiles" {
		t.Errorf("after Tab from the search: %q", focus)
	}
	must(t, "tick", chromedp.Do(ctx, chromedp.KeyEvent(" "), chromedp.KeyEvent(kb.Tab)))
	_, err = chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	must(t, "submit by keyboard", err)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "flagged=1") {
		t.Errorf("keyboard search went to %s", loc)
	}

	must(t, "events", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/event-log"), chromedp.WaitVisible(chromedp.ID("f-user"))))
	must(t, "filter", chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("f-user"), "u_victim"), chromedp.SetValue(chromedp.ID("f-type"), "identify")))
	submit(t, ctx, "form[action='/event-log'] button[type=submit]")
	got := text(t, ctx, "#events-table tbody")
	for _, want := range []string{"m_backend_1", "m_forged_1", "m_forged_2"} {
		if !strings.Contains(got, want) {
			t.Errorf("u_victim identifies lack %s: %q", want, got)
		}
	}
	shots.shot(ctx, "nojs-p02-events-filtered")
	submit(t, ctx, "#events-table a")
	if got := text(t, ctx, "#event-message"); got != "m_forged_2" {
		t.Errorf("newest u_victim identify = %q", got)
	}
}
