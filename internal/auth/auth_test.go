package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

func audit(t *testing.T, e *dashtest.Env) []store.Audit {
	t.Helper()
	rows, err := e.Store.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func countAudit(rows []store.Audit, action, actor, detailPart string) int {
	n := 0
	for _, a := range rows {
		if a.Action == action && (actor == "" || a.Actor == actor) && strings.Contains(a.Detail, detailPart) {
			n++
		}
	}
	return n
}

func setupForm(t *testing.T, c *dashtest.Client, link string) url.Values {
	t.Helper()
	u, _ := url.Parse(link)
	r := c.Get(u.RequestURI())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET setup link = %d, want 200\n%s", r.StatusCode, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("setup page Cache-Control = %q, want no-store", cc)
	}
	form := r.Doc(t).Form("/setup")
	if form == nil {
		t.Fatal("setup page has no form posting to /setup")
	}
	return dashtest.FormValues(form)
}

func TestSetupLinkCreatesFirstAdminOnce(t *testing.T) {
	e := dashtest.New(t)
	if !strings.Contains(e.SetupLink, "/setup?token=") {
		t.Fatalf("setup link = %q", e.SetupLink)
	}
	if !strings.Contains(e.Logs.String(), e.SetupLink) {
		t.Errorf("the setup link is not in the log")
	}
	c := e.NewClient()

	// Before any admin: pages send to sign-in, which explains the setup link.
	if r := c.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("GET /settings/identity = %d %s, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.Get("/"); r.Header.Get("Location") != "/login" {
		t.Errorf("GET / → %q, want /login", r.Header.Get("Location"))
	}
	if txt := dashtest.Text(c.Get("/login").Doc(t).Root); !strings.Contains(txt, "No admin exists yet") {
		t.Errorf("login page without admins does not point to the setup link: %q", txt)
	}

	// A wrong token shows no form.
	r := c.Get("/setup?token=not-the-token")
	if r.StatusCode != http.StatusForbidden || r.Doc(t).Form("/setup") != nil {
		t.Errorf("wrong token: %d, form present=%v; want 403 without form", r.StatusCode, r.Doc(t).Form("/setup") != nil)
	}

	form := setupForm(t, c, e.SetupLink)
	for _, tt := range []struct {
		name, email, pw, confirm, want string
	}{
		{"short password", "ada@example.com", "short", "short", "at least 12 characters"},
		{"mismatch", "ada@example.com", "correct horse battery staple", "correct horse battery stapler", "differ"},
		{"bad email", "Ada <ada@example.com>", "correct horse battery staple", "correct horse battery staple", "plain email"},
	} {
		v := url.Values{"token": form["token"], "email": {tt.email}, "password": {tt.pw}, "confirm": {tt.confirm}}
		r := c.Post("/setup", v)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(dashtest.Text(r.Doc(t).Root), tt.want) {
			t.Errorf("%s: %d, want 400 saying %q", tt.name, r.StatusCode, tt.want)
		}
	}
	if n, _ := e.Store.CountAdmins(context.Background()); n != 0 {
		t.Fatalf("invalid setups created %d admins", n)
	}

	v := url.Values{"token": form["token"], "email": {"Ada@Example.com"}, "password": {dashtest.Password}, "confirm": {dashtest.Password}}
	r = c.Post("/setup", v)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/identity" {
		t.Fatalf("POST /setup = %d → %q, want 303 to /settings/identity\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	checkSessionCookie(t, r.Response, false)
	page := c.Get("/settings/identity")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("Identity page after setup = %d", page.StatusCode)
	}
	if who := dashtest.Text(page.Doc(t).Find("div", "class", "who")[0]); !strings.Contains(who, "ada@example.com") {
		t.Errorf("top bar = %q, want the new admin (email lower-cased)", who)
	}

	// The link is spent: the page sends to sign-in, a replayed post is refused.
	if r := e.NewClient().Get(strings.TrimPrefix(e.SetupLink, e.URL)); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("setup link after use = %d → %q, want 303 /login", r.StatusCode, r.Header.Get("Location"))
	}
	v.Set("email", "mallory@example.com")
	if r := e.NewClient().Post("/setup", v); r.StatusCode != http.StatusForbidden {
		t.Errorf("replayed setup post = %d, want 403", r.StatusCode)
	}
	if n, _ := e.Store.CountAdmins(context.Background()); n != 1 {
		t.Errorf("admins = %d, want 1", n)
	}
	rows := audit(t, e)
	if countAudit(rows, store.ActionAdminCreate, "setup link", "ada@example.com") != 1 || countAudit(rows, store.ActionLogin, "ada@example.com", "setup link") != 1 {
		t.Errorf("audit = %+v, want admin.create by the setup link and a login", rows)
	}
	// With an admin, a restart announces no link.
	if link, err := e.Auth.AnnounceSetup(context.Background(), e.URL); err != nil || link != "" {
		t.Errorf("AnnounceSetup with an admin = %q, %v; want none", link, err)
	}
	assertNoSecrets(t, e, dashtest.Password)
}

func TestSetupLinkExpires(t *testing.T) {
	e := dashtest.New(t)
	c := e.NewClient()
	form := setupForm(t, c, e.SetupLink)
	e.Clock.Advance(auth.DefaultSetupTTL + time.Second)
	r := c.Post("/setup", url.Values{"token": form["token"], "email": {"ada@example.com"}, "password": {dashtest.Password}, "confirm": {dashtest.Password}})
	if r.StatusCode != http.StatusForbidden || !strings.Contains(dashtest.Text(r.Doc(t).Root), "expired") {
		t.Errorf("expired link: %d, want 403 explaining it expired", r.StatusCode)
	}
	if n, _ := e.Store.CountAdmins(context.Background()); n != 0 {
		t.Errorf("an expired link created an admin")
	}
}

func checkSessionCookie(t *testing.T, r *http.Response, secure bool) {
	t.Helper()
	for _, ck := range r.Cookies() {
		if ck.Name != auth.SessionCookie {
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, Secure=%v, Path=/", ck, secure)
		}
		if ck.MaxAge != int(auth.DefaultMaxAge/time.Second) {
			t.Errorf("session cookie Max-Age = %d, want %d", ck.MaxAge, int(auth.DefaultMaxAge/time.Second))
		}
		return
	}
	t.Errorf("no %s cookie set; Set-Cookie: %v", auth.SessionCookie, r.Header.Values("Set-Cookie"))
}

// assertNoSecrets fails if any value appears in the logs or audit log.
func assertNoSecrets(t *testing.T, e *dashtest.Env, values ...string) {
	t.Helper()
	logs := e.Logs.String()
	rows := audit(t, e)
	for _, v := range values {
		if strings.Contains(logs, v) {
			t.Errorf("the log holds %q", v)
		}
		for _, a := range rows {
			if strings.Contains(a.Actor+a.Detail, v) {
				t.Errorf("audit entry %+v holds %q", a, v)
			}
		}
	}
}

func TestLoginLogoutAudited(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()

	wrongs := []struct{ email, pw string }{
		{"ada@example.com", "not the password at all"},
		{"nobody@example.com", "hunter2hunter2"},
	}
	for _, w := range wrongs {
		r := c.Post("/login", url.Values{"email": {w.email}, "password": {w.pw}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("login %s with a wrong password = %d, want 401", w.email, r.StatusCode)
		}
		if msg := dashtest.Text(r.Doc(t).Root); !strings.Contains(msg, "The email or the password is incorrect.") {
			t.Errorf("login error for %s does not say the one neutral message", w.email)
		}
		if r.Doc(t).ByID("password") == nil || dashtest.Attr(r.Doc(t).ByID("password"), "value") != "" {
			t.Errorf("the password is echoed back into the form")
		}
	}
	if ck := c.Cookie(auth.SessionCookie); ck != nil && strings.Contains(ck.Value, "sid") {
		t.Errorf("a failed login left a session")
	}

	c.Login("ada@example.com", dashtest.Password)
	first := c.Cookie(auth.SessionCookie)
	if first == nil {
		t.Fatal("no session cookie after login")
	}
	// Signing in again gives a new session and ends the old one.
	c.Login("ada@example.com", dashtest.Password)
	second := c.Cookie(auth.SessionCookie)
	if second.Value == first.Value {
		t.Errorf("the session cookie did not change on a new login")
	}
	if r := replay(t, e, first); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the previous session still works after a new login: %d", r.StatusCode)
	}

	r := c.Post("/logout", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("logout = %d → %q, want 303 /login", r.StatusCode, r.Header.Get("Location"))
	}
	if txt := dashtest.Text(c.Get("/login").Doc(t).Root); !strings.Contains(txt, "You are signed out.") {
		t.Errorf("no signed-out message after logout")
	}
	// A copy of the cookie taken before logout is worthless: the server
	// forgot the session.
	if r := replay(t, e, second); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("replayed cookie after logout = %d → %q, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
	}

	rows := audit(t, e)
	for _, want := range []struct{ action, actor, detail string }{
		{store.ActionLoginFailed, "ada@example.com", "wrong password"},
		{store.ActionLoginFailed, "(unknown account)", "no admin has this email"},
		{store.ActionLogin, "ada@example.com", "new session"},
		{store.ActionLogout, "ada@example.com", ""},
	} {
		if countAudit(rows, want.action, want.actor, want.detail) == 0 {
			t.Errorf("no audit entry %+v in %+v", want, rows)
		}
	}
	for _, a := range rows {
		if a.Action != store.ActionAdminCreate && a.IP != "127.0.0.1" {
			t.Errorf("audit %s IP = %q, want 127.0.0.1", a.Action, a.IP)
		}
	}
	assertNoSecrets(t, e, dashtest.Password, "not the password at all", "hunter2hunter2", "nobody@example.com", first.Value, second.Value)
}

// replay sends a saved cookie from a fresh client, as an attacker with a
// copy of it would.
func replay(t *testing.T, e *dashtest.Env, ck *http.Cookie) *dashtest.Response {
	t.Helper()
	c := e.NewClient()
	c.Header.Set("Cookie", ck.Name+"="+ck.Value)
	return c.Get("/settings/identity")
}

func TestLoginRedirectsToWhereTheAdminWasGoing(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	r := c.Get("/audit?before=5")
	loc := r.Header.Get("Location")
	if loc != "/login?next=%2Faudit%3Fbefore%3D5" {
		t.Fatalf("redirect = %q", loc)
	}
	form := c.Get(loc).Doc(t).Form("/login")
	v := dashtest.FormValues(form)
	v.Set("email", "ada@example.com")
	v.Set("password", dashtest.Password)
	if r := c.Post("/login", v); r.Header.Get("Location") != "/audit?before=5" {
		t.Errorf("after login → %q, want /audit?before=5", r.Header.Get("Location"))
	}
	// An off-site next is ignored.
	c2 := e.NewClient()
	r = c2.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}, "next": {"//evil.example/"}})
	if r.Header.Get("Location") != "/settings/identity" {
		t.Errorf("next=//evil.example → %q, want /settings/identity", r.Header.Get("Location"))
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/settings/identity?project=a": "/settings/identity?project=a",
		"/audit":                       "/audit",
		"":                             "",
		"//evil.example":               "",
		"/\\evil.example":              "",
		"https://evil.example":         "",
		"javascript:alert(1)":          "",
		"/login?next=/x":               "",
		"/a\r\nSet-Cookie: x":          "",
	} {
		if got := auth.SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionIdleAndAbsoluteLifetimes(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")

	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	e.Clock.Advance(auth.DefaultIdleTimeout - time.Minute)
	if r := c.Get("/settings/identity"); r.StatusCode != http.StatusOK {
		t.Fatalf("within the idle timeout: %d, want 200", r.StatusCode)
	}
	e.Clock.Advance(auth.DefaultIdleTimeout + time.Minute)
	if r := c.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the idle timeout: %d, want 303 to sign-in", r.StatusCode)
	}

	// Active all along, a session still ends at its absolute lifetime.
	c2 := e.NewClient()
	c2.Login("ada@example.com", dashtest.Password)
	var elapsed time.Duration
	for elapsed+6*time.Hour < auth.DefaultMaxAge {
		e.Clock.Advance(6 * time.Hour)
		elapsed += 6 * time.Hour
		if r := c2.Get("/settings/identity"); r.StatusCode != http.StatusOK {
			t.Fatalf("active session ended after %s: %d", elapsed, r.StatusCode)
		}
	}
	e.Clock.Advance(auth.DefaultMaxAge - elapsed + time.Minute)
	if r := c2.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the absolute lifetime: %d, want 303 to sign-in", r.StatusCode)
	}
}

func TestSessionSurvivesRestart(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)

	// A second server over the same database and master key: the cookie
	// keys are read back from the sealed meta row.
	e2 := dashtest.New(t, dashtest.Options{Store: e.Store, Sealer: e.Sealer, Clock: e.Clock})
	c.Base = e2.URL
	if r := c.Get("/settings/identity"); r.StatusCode != http.StatusOK {
		t.Errorf("after a restart the session is gone: %d", r.StatusCode)
	}
	raw, err := e.Store.Meta(context.Background(), "session_keys_v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= 96 {
		t.Errorf("session keys stored as %d bytes: not sealed", len(raw))
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	a, b := e.NewClient(), e.NewClient()
	a.Login("ada@example.com", dashtest.Password)
	b.Login("ada@example.com", dashtest.Password)
	before := a.Cookie(auth.SessionCookie)

	newPW := "a brand new long passphrase"
	r := a.Post("/account/password", url.Values{"current": {"wrong wrong wrong"}, "password": {newPW}, "confirm": {newPW}})
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(dashtest.Text(r.Doc(t).Root), "current password is wrong") {
		t.Errorf("wrong current password = %d, want 400", r.StatusCode)
	}
	r = a.Post("/account/password", url.Values{"current": {dashtest.Password}, "password": {newPW}, "confirm": {newPW}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		t.Fatalf("change password = %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
	if a.Cookie(auth.SessionCookie).Value == before.Value {
		t.Errorf("the session id did not change with the password")
	}
	if r := a.Get("/account"); r.StatusCode != http.StatusOK || !strings.Contains(dashtest.Text(r.Doc(t).Root), "Every other session") {
		t.Errorf("the browser that changed the password is signed out or not told: %d", r.StatusCode)
	}
	if r := b.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the other session survived the password change: %d", r.StatusCode)
	}
	if r := replay(t, e, before); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the old cookie of the changing browser still works: %d", r.StatusCode)
	}
	if r := e.NewClient().Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", r.StatusCode)
	}
	e.NewClient().Login("ada@example.com", newPW)
	if countAudit(audit(t, e), store.ActionPasswordChange, "ada@example.com", "") != 1 {
		t.Errorf("password change not audited")
	}
	assertNoSecrets(t, e, newPW, dashtest.Password)
}

func TestCookieSecureBehindTLSProxy(t *testing.T) {
	e := dashtest.New(t, dashtest.Options{TrustedProxies: []string{"127.0.0.1"}})
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	r := c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}, "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
	checkSessionCookie(t, r.Response, true)
	for _, ck := range r.Cookies() {
		if ck.Name == auth.DeviceCookie && (!ck.Secure || !ck.HttpOnly) {
			t.Errorf("device cookie = %+v, want Secure and HttpOnly", ck)
		}
	}
	if rows := audit(t, e); rows[0].IP != "203.0.113.9" {
		t.Errorf("audit IP = %q, want the forwarded client 203.0.113.9", rows[0].IP)
	}
}

func TestThrottleCannotLockOutTheAdmin(t *testing.T) {
	limits := auth.Limits{Window: 15 * time.Minute, PerIP: 5, PerAccount: 3, PerDevice: 3}
	e := dashtest.New(t, dashtest.Options{Limits: limits, TrustedProxies: []string{"127.0.0.1"}})
	e.CreateAdmin("ada@example.com")
	e.CreateAdmin("bob@example.com")
	from := func(ip string) *dashtest.Client {
		c := e.NewClient()
		c.Header.Set("X-Forwarded-For", ip)
		return c
	}
	login := func(c *dashtest.Client, email, pw string) *dashtest.Response {
		return c.Post("/login", url.Values{"email": {email}, "password": {pw}})
	}

	// The admin's own browser signs in once: it becomes a known device.
	admin := from("192.0.2.10")
	admin.Login("ada@example.com", dashtest.Password)
	admin.Post("/logout", nil)

	// An attacker spreads guesses at ada over many addresses.
	for i := range limits.PerAccount {
		if r := login(from("198.51.100."+string(rune('1'+i))), "ada@example.com", "guess guess guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, r.StatusCode)
		}
	}
	// Now unknown browsers are refused for ada, even with the right password…
	r := login(from("203.0.113.50"), "ada@example.com", dashtest.Password)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("unknown browser after account lockout = %d (Retry-After %q), want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(dashtest.Text(r.Doc(t).Root), "for this account") {
		t.Errorf("the refusal does not say why")
	}
	// …but the admin's known browser signs in: no lockout of the real admin.
	if r := login(admin, "ada@example.com", dashtest.Password); r.StatusCode != http.StatusSeeOther {
		t.Errorf("known device after an attack on the account = %d, want 303", r.StatusCode)
	}
	// Other accounts are untouched.
	from("203.0.113.51").Login("bob@example.com", dashtest.Password)

	// One address guessing many accounts hits the per-IP limit.
	spray := from("198.51.100.99")
	for i := range limits.PerIP {
		login(spray, "user"+string(rune('a'+i))+"@example.com", "guess guess guess")
	}
	r = login(spray, "bob@example.com", dashtest.Password)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(dashtest.Text(r.Doc(t).Root), "from your network") {
		t.Errorf("after %d failures from one IP = %d, want 429 from your network", limits.PerIP, r.StatusCode)
	}

	// A known device has its own budget; spending it blocks only that browser.
	admin.Post("/logout", nil)
	for range limits.PerDevice {
		login(admin, "ada@example.com", "typo typo typo")
	}
	if r := login(admin, "ada@example.com", dashtest.Password); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(dashtest.Text(r.Doc(t).Root), "from this browser") {
		t.Errorf("known device over its budget = %d, want 429 from this browser", r.StatusCode)
	}

	// Windows end.
	e.Clock.Advance(limits.Window)
	login(from("203.0.113.50"), "ada@example.com", dashtest.Password)
	if r := login(from("203.0.113.52"), "ada@example.com", dashtest.Password); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the window = %d, want 303", r.StatusCode)
	}
	if r := login(admin, "ada@example.com", dashtest.Password); r.StatusCode != http.StatusSeeOther {
		t.Errorf("known device after the window = %d, want 303", r.StatusCode)
	}

	// Each block is audited once, not once per refused attempt.
	rows := audit(t, e)
	if n := countAudit(rows, store.ActionLoginFailed, "ada@example.com", "throttled: too many failures per account"); n != 1 {
		t.Errorf("%d throttled-per-account audit entries, want 1", n)
	}
	if n := countAudit(rows, store.ActionLoginFailed, "ada@example.com", "throttled: too many failures per device"); n != 1 {
		t.Errorf("%d throttled-per-device audit entries, want 1", n)
	}
}

func TestCrossSiteFormsRefused(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example"},
	} {
		r := c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}, h...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("login with %s: %s = %d, want 403", h[0], h[1], r.StatusCode)
		}
		if c.Cookie(auth.SessionCookie) != nil {
			t.Errorf("a cross-site login set a session")
		}
		if !strings.Contains(dashtest.Text(r.Doc(t).Root), "came from another site") {
			t.Errorf("the 403 page does not explain the refusal")
		}
	}
	// Same-origin posts from a browser pass.
	r := c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}, "Sec-Fetch-Site", "same-origin", "Origin", e.URL)
	if r.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin login = %d, want 303", r.StatusCode)
	}
}

func TestCreateAdminRules(t *testing.T) {
	e := dashtest.New(t)
	ctx := context.Background()
	h := auth.NewHasher(dashtest.FastParams, 1)
	if _, err := auth.CreateAdmin(ctx, e.Store, h, "x@example.com", "short", "cli", dashtest.Start); err == nil {
		t.Errorf("a short password was accepted")
	}
	if _, err := auth.CreateAdmin(ctx, e.Store, h, "not an email", dashtest.Password, "cli", dashtest.Start); err == nil {
		t.Errorf("a bad email was accepted")
	}
	if _, err := auth.CreateAdmin(ctx, e.Store, h, "x@example.com", dashtest.Password, "cli", dashtest.Start); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateAdmin(ctx, e.Store, h, "X@example.com", dashtest.Password, "cli", dashtest.Start); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate email: err = %v, want already exists", err)
	}
}
