package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const browserPassword = "correct horse battery staple"

// adminsServer starts the real server with one admin, ada.
func adminsServer(t *testing.T) *testServer {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, nil, "--data", data)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": browserPassword},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	return srv
}

// freshBrowser is a new browser context: no cookies, as another person's
// browser. noJS disables scripts in it.
func freshBrowser(t *testing.T, ctx context.Context, noJS bool) context.Context {
	t.Helper()
	c, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	must(t, "new browser context", chromedp.Do(c))
	if noJS {
		_, err := chromedp.Call(c, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		must(t, "disable scripts", err)
	}
	return c
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, "location", err)
	u, _ := url.Parse(loc)
	return u.RequestURI()
}

// pageFits fails when the page scrolls sideways at the current width.
func pageFits(t *testing.T, ctx context.Context, what string, width int) {
	t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	must(t, "page width", err)
	if w > width {
		t.Errorf("on a %d px screen %s is %d px wide: it scrolls sideways", width, what, w)
	}
}

// acceptInvite opens an invitation link in ctx and chooses the password.
func acceptInvite(t *testing.T, ctx context.Context, link, email string, shots *shooter, shot string) {
	t.Helper()
	must(t, "open invitation", chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("password"))))
	if got, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("email"))); got != email {
		t.Errorf("the invitation form's email = %q, want %q", got, email)
	}
	must(t, "choose password", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), browserPassword)))
	if shot != "" {
		shots.shot(ctx, shot)
	}
	submit(t, ctx, "form[action='/invite'] button[type=submit]")
	if loc := location(t, ctx); loc != "/settings/identity" {
		t.Fatalf("after accepting the invitation: %s, want /settings/identity", loc)
	}
	if got := text(t, ctx, ".flash"); !strings.Contains(got, "Welcome, "+email) {
		t.Errorf("flash after accepting = %q", got)
	}
}

// TestBrowserAdmins follows the whole admin lifecycle in Chromium: ada
// invites bob, bob opens the link in a browser of his own, chooses a
// password and is signed in; the used link is refused; ada removes bob,
// whose open session stops working at once; ada, the last admin, cannot be
// removed. Then the pages on a phone. No console error (CSP) anywhere.
func TestBrowserAdmins(t *testing.T) {
	ctx := browser(t)
	errs := consoleErrors(ctx)
	shots := newShooter(t)
	srv := adminsServer(t)
	signIn(t, ctx, srv)

	// 1. The Admins link in the navigation.
	submit(t, ctx, "nav.topnav a[href='/admins']")
	if cur, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("nav.topnav a[href='/admins']"), "aria-current")); cur.Value != "page" {
		t.Errorf("the Admins nav link is not marked current: %q", cur.Value)
	}
	if got := text(t, ctx, "#admins-table tbody"); !strings.Contains(got, "ada@example.com") || !strings.Contains(got, "you") {
		t.Errorf("admins table = %q", got)
	}
	shots.shot(ctx, "a01-admins")

	// 2. Invite bob: the link is shown once, with a copy button.
	must(t, "type email", chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("invite-email"), "bob@example.com")))
	resp := submit(t, ctx, "form[action='/admins/invite'] button[type=submit]")
	if cc := resp.Headers["Cache-Control"]; cc != "no-store" {
		t.Errorf("the invitation link page has Cache-Control %v, want no-store", cc)
	}
	link := text(t, ctx, "#invite-link")
	if !strings.HasPrefix(link, srv.url+"/invite?token=") {
		t.Fatalf("invitation link = %q", link)
	}
	if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector("button[data-copy=invite-link]").hidden`)); !vis {
		t.Errorf("the copy button is hidden with JavaScript on")
	}
	shots.shot(ctx, "a02-invite-link")
	token, _ := url.Parse(link)
	must(t, "admins again", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("pending-invites"))))
	if got := text(t, ctx, "#pending-invites"); !strings.Contains(got, "bob@example.com") || strings.Contains(bodyText(t, ctx), token.Query().Get("token")) {
		t.Errorf("pending invitations = %q (the link must not be shown again)", got)
	}
	shots.shot(ctx, "a03-admins-pending")

	// 3. Bob, in a browser of his own.
	bob := freshBrowser(t, ctx, false)
	bobErrs := consoleErrors(bob)
	acceptInvite(t, bob, link, "bob@example.com", shots, "a04-accept-invite")
	shots.shot(ctx, "a05-bob-signed-in")
	must(t, "bob's admins page", chromedp.Do(bob, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("admins-table"))))
	if got := text(t, bob, "#admins-table tbody"); !strings.Contains(got, "ada@example.com") || !strings.Contains(got, "bob@example.com") {
		t.Errorf("bob's admins table = %q", got)
	}

	// 4. The link again, in a third browser: refused.
	other := freshBrowser(t, ctx, false)
	must(t, "reuse link", chromedp.Do(other, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("invite-invalid"))))
	if got := text(t, other, "#invite-invalid"); !strings.Contains(got, "not valid") {
		t.Errorf("reused link page = %q", got)
	}
	shots.shot(other, "a06-invite-used")

	// 5. Ada removes bob.
	must(t, "admins", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("admins-table"))))
	submit(t, ctx, "a[href='/admins/remove?email=bob%40example.com']")
	if got := bodyText(t, ctx); !strings.Contains(got, "its one session ends at once") {
		t.Errorf("confirm page = %q", got)
	}
	shots.shot(ctx, "a07-remove-confirm")
	submit(t, ctx, "form[action='/admins/remove'] button.danger")
	if got := text(t, ctx, ".flash"); !strings.Contains(got, "bob@example.com was removed; its one session was signed out") {
		t.Errorf("flash after removal = %q", got)
	}
	if got := text(t, ctx, "#admins-table tbody"); strings.Contains(got, "bob@example.com") {
		t.Errorf("bob is still listed: %q", got)
	}
	shots.shot(ctx, "a08-removed")

	// 6. Bob's open session stops working at once.
	must(t, "bob reloads", chromedp.Do(bob, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("password"))))
	if loc := location(t, bob); !strings.HasPrefix(loc, "/login") {
		t.Errorf("the removed admin's session opened %s, want the sign-in page", loc)
	}
	shots.shot(bob, "a09-removed-admin-signed-out")

	// 7. Ada is the last admin: removing her is refused, clearly.
	must(t, "remove ada", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("admins-table"))))
	submit(t, ctx, "a[href='/admins/remove?email=ada%40example.com']")
	if got := text(t, ctx, "#remove-refused"); !strings.Contains(got, "ada@example.com is the only admin, so it cannot be removed") {
		t.Errorf("last admin refusal = %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form[action='/admins/remove']").length`)); n != 0 {
		t.Errorf("the refusal page has a removal form")
	}
	shots.shot(ctx, "a10-last-admin-refused")

	// 8. A phone.
	const phone = 390
	must(t, "phone", chromedp.Do(ctx, chromedp.EmulateViewport(phone, 844, chromedp.EmulateMobile)))
	must(t, "invite cy", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("invite-email")),
		chromedp.SendKeys(chromedp.ID("invite-email"), "cy.with.a.rather.long.address@example.com")))
	submit(t, ctx, "form[action='/admins/invite'] button[type=submit]")
	pageFits(t, ctx, "the invitation link", phone)
	shots.shot(ctx, "a11-phone-invite-link")
	cyLink := text(t, ctx, "#invite-link")
	for _, p := range []string{"/admins", "/admins/remove?email=ada%40example.com"} {
		must(t, "phone "+p, chromedp.Do(ctx, chromedp.Navigate(srv.url+p), chromedp.WaitVisible(chromedp.CSS("main h1"))))
		pageFits(t, ctx, p, phone)
	}
	must(t, "phone admins", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("admins-table"))))
	shots.shot(ctx, "a12-phone-admins")
	cy := freshBrowser(t, ctx, false)
	must(t, "phone cy", chromedp.Do(cy, chromedp.EmulateViewport(phone, 844, chromedp.EmulateMobile)))
	must(t, "phone accept", chromedp.Do(cy, chromedp.Navigate(cyLink), chromedp.WaitVisible(chromedp.ID("password"))))
	pageFits(t, cy, "the invitation form", phone)
	shots.shot(cy, "a13-phone-accept")
	acceptInvite(t, cy, cyLink, "cy.with.a.rather.long.address@example.com", shots, "")
	must(t, "cy admins", chromedp.Do(cy, chromedp.Navigate(srv.url+"/admins/remove?email=cy.with.a.rather.long.address%40example.com"), chromedp.WaitVisible(chromedp.CSS("main h1"))))
	pageFits(t, cy, "removing oneself", phone)
	shots.shot(cy, "a14-phone-remove-self")

	// Neither invitation token was ever logged.
	for _, l := range []string{link, cyLink} {
		u, _ := url.Parse(l)
		if strings.Contains(srv.logs.String(), u.Query().Get("token")) {
			t.Errorf("an invitation token is in the server's log")
		}
	}
	for _, m := range append(errs(), bobErrs()...) {
		t.Errorf("browser console: %s", m)
	}
}

// TestBrowserAdminsWithoutJavaScript invites, accepts and removes with
// scripts disabled in both browsers, by keyboard where a person would type.
func TestBrowserAdminsWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	shots := newShooter(t)
	srv := adminsServer(t)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	must(t, "disable scripts", err)
	signIn(t, ctx, srv)

	// Type the email and press Enter in the field.
	must(t, "admins", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins"), chromedp.WaitVisible(chromedp.ID("invite-email")),
		chromedp.Focus(chromedp.ID("invite-email"))))
	must(t, "type", chromedp.Do(ctx, chromedp.KeyEvent("bob@example.com")))
	_, err = chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	must(t, "submit by keyboard", err)
	link := text(t, ctx, "#invite-link")
	if !strings.HasPrefix(link, srv.url+"/invite?token=") {
		t.Fatalf("invitation link without JavaScript = %q", link)
	}
	if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector("button[data-copy=invite-link]").hidden`)); vis {
		t.Errorf("the copy button shows without JavaScript, where it cannot work")
	}
	shots.shot(ctx, "nojs-a01-invite-link")

	bob := freshBrowser(t, ctx, true)
	acceptInvite(t, bob, link, "bob@example.com", shots, "")

	// Remove bob: Tab from the page's start reaches the confirm button.
	must(t, "confirm", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admins/remove?email=bob%40example.com"), chromedp.WaitVisible(chromedp.CSS("button.danger")),
		chromedp.Focus(chromedp.CSS("button.danger"))))
	_, err = chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	must(t, "remove by keyboard", err)
	if got := text(t, ctx, ".flash"); !strings.Contains(got, "bob@example.com was removed") {
		t.Errorf("flash after removal = %q", got)
	}
	must(t, "bob reloads", chromedp.Do(bob, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("password"))))
	if loc := location(t, bob); !strings.HasPrefix(loc, "/login") {
		t.Errorf("the removed admin's session opened %s", loc)
	}
	shots.shot(ctx, "nojs-a02-removed")
}
