package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
)

// recorder keeps every response a client receives.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	resp []*http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.resp = append(r.resp, resp)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) cookies() []*http.Cookie {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Cookie
	for _, resp := range r.resp {
		out = append(out, resp.Cookies()...)
	}
	return out
}

// record makes c keep every response it receives.
func record(c *dashtest.Client) *recorder {
	next := c.HTTP.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	r := &recorder{next: next}
	c.HTTP.Transport = r
	return r
}

// TestSessionCookieFlags runs every flow that sets a cookie (setup, a
// flash after a change, reading the flash, a resubmitted rotation, sign-in,
// a password change, sign-out) and checks every cookie set: HttpOnly,
// SameSite=Lax, Path=/, no Domain, and Secure exactly when the client came
// over TLS, directly or through a trusted proxy. Decoded with the server's
// own keys, no cookie holds a secret, token or password: the session
// cookie carries only its id and a flash, the device cookie an email and a
// device id.
func TestSessionCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    dashtest.Options
		headers []string // what a proxy in front adds
		secure  bool
	}{
		{"plain HTTP", dashtest.Options{}, nil, false},
		{"TLS", dashtest.Options{TLS: true}, nil, true},
		{"trusted proxy, https", dashtest.Options{TrustedProxies: []string{"127.0.0.1"}}, []string{"X-Forwarded-Proto", "https"}, true},
		{"trusted proxy, http", dashtest.Options{TrustedProxies: []string{"127.0.0.1"}}, []string{"X-Forwarded-Proto", "http"}, false},
		{"untrusted peer claims https", dashtest.Options{TrustedProxies: []string{"10.0.0.1"}}, []string{"X-Forwarded-Proto", "https"}, false},
		{"no proxies configured, claims https", dashtest.Options{}, []string{"X-Forwarded-Proto", "https"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := dashtest.New(t, tt.opts)
			c := e.NewClient()
			rec := record(c)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				c.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			if tt.opts.TLS && !strings.HasPrefix(e.URL, "https:") {
				t.Fatalf("TLS server at %s", e.URL)
			}
			form := setupForm(t, c, e.SetupLink)
			setupToken := form.Get("token")
			form.Set("email", "ada@example.com")
			form.Set("password", dashtest.Password)
			form.Set("confirm", dashtest.Password)
			if r := c.Post("/setup", form); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("setup = %d", r.StatusCode)
			}
			c.Get("/settings/identity") // takes the welcome flash
			confirm := dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
			shown := c.Post("/settings/identity/rotate", confirm)
			secret := dashtest.Text(shown.Doc(t).ByID("new-secret"))
			if !strings.HasPrefix(secret, "sis_") {
				t.Fatalf("rotate = %d, no secret", shown.StatusCode)
			}
			c.Post("/settings/identity/rotate", confirm) // a resubmission: a flash
			c.Get("/settings/identity")
			token := "hmac_v1:" + strings.Repeat("ab", 32)
			c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {"u_1"}, "token": {token}})
			c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}})
			c.Get("/settings/identity")
			c.Post("/logout", nil)
			c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {"a wrong password"}})
			c.Login("ada@example.com", dashtest.Password)
			newPW := "another long passphrase"
			if r := c.Post("/account/password", url.Values{"current": {dashtest.Password}, "password": {newPW}, "confirm": {newPW}}); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("password change = %d", r.StatusCode)
			}
			c.Get("/account")
			c.Post("/logout", nil)

			cookies := rec.cookies()
			names := map[string]int{}
			for _, ck := range cookies {
				names[ck.Name]++
				if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != tt.secure {
					t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%q Domain=%q Secure=%v; want HttpOnly, Lax, /, no Domain, Secure=%v",
						ck.Name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Domain, ck.Secure, tt.secure)
				}
				if ck.MaxAge <= 0 {
					t.Errorf("cookie %s Max-Age = %d: a session cookie the browser keeps across restarts was meant", ck.Name, ck.MaxAge)
				}
				vals, err := e.DecodeCookie(ck)
				if err != nil {
					t.Errorf("cookie %s does not decode with the server's keys: %v", ck.Name, err)
					continue
				}
				allowed := map[string][]string{auth.SessionCookie: {"sid", "flash"}, auth.DeviceCookie: {"e", "d"}}[ck.Name]
				for k, v := range vals {
					if !slices.Contains(allowed, k) {
						t.Errorf("cookie %s carries %q = %v; only %v belong there", ck.Name, k, v, allowed)
					}
					s := fmt.Sprint(v)
					for _, needle := range []string{secret, secret[4:], setupToken, token, dashtest.Password, newPW, "a wrong password"} {
						if strings.Contains(s, needle) {
							t.Errorf("cookie %s value %q holds %.12q…", ck.Name, k, needle)
						}
					}
				}
				for _, needle := range []string{secret, secret[4:], setupToken, token, dashtest.Password, newPW} {
					if strings.Contains(ck.Raw, needle) {
						t.Errorf("Set-Cookie %s holds %.12q… in the clear", ck.Name, needle)
					}
				}
			}
			if names[auth.SessionCookie] < 8 || names[auth.DeviceCookie] < 2 {
				t.Errorf("cookies set: %v; the flow did not exercise them", names)
			}
			if len(names) != 2 {
				t.Errorf("cookies set: %v; want only %s and %s", names, auth.SessionCookie, auth.DeviceCookie)
			}
		})
	}
}

// publicPages are the GET routes that work without signing in.
var publicPages = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /{$}": true, "GET /setup": true, "GET /login": true, "GET /static/": true,
	"GET /invite":  true, // an invitation link's page
	"GET /sdk/v1/": true, // the browser SDK, loaded by customers' sites
}

// adminPages returns a path for every GET route that needs a session,
// from the server's own route list, so a new page is checked too.
func adminPages(t *testing.T, e *dashtest.Env) []string {
	t.Helper()
	var out []string
	for _, p := range e.Server.Routes() {
		method, path, _ := strings.Cut(p, " ")
		if method != http.MethodGet || publicPages[p] {
			continue
		}
		out = append(out, path+"?project=default")
	}
	if len(out) < 5 {
		t.Fatalf("admin pages = %v; the route list looks wrong", out)
	}
	return out
}

// replayAll sends a copied session cookie from a fresh client to every
// admin page and state-changing form, as its thief would, and fails if any
// answers with data or changes anything.
func replayAll(t *testing.T, e *dashtest.Env, ck *http.Cookie, what string) {
	t.Helper()
	thief := e.NewClient()
	thief.Header.Set("Cookie", ck.Name+"="+ck.Value)
	thief.Header.Set("Sec-Fetch-Site", "same-origin") // the thief's own browser, on our origin
	before, _ := e.Store.IdentityState(context.Background(), e.Project.ID)
	for _, path := range adminPages(t, e) {
		r := thief.Get(path)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("%s: replayed cookie GET %s = %d → %q, want 303 to /login", what, path, r.StatusCode, r.Header.Get("Location"))
		}
		for _, leak := range []string{"ada@example.com", e.Project.PublicKey, "sis_", "<table"} {
			if strings.Contains(r.Body, leak) {
				t.Errorf("%s: replayed cookie GET %s shows %q", what, path, leak)
			}
		}
	}
	for path, form := range map[string]url.Values{
		"/settings/identity/rotate": {"project": {"default"}, "version": {fmt.Sprint(before.Keys[0].Version)}, "overlap": {"0"}},
		"/settings/identity/strict": {"project": {"default"}, "strict": {"on"}},
		"/settings/identity/check":  {"project": {"default"}, "userId": {"u"}, "token": {"x"}},
		"/admins/invite":            {"email": {"mallory@example.com"}},
		"/admins/remove":            {"email": {"ada@example.com"}},
		"/account/password":         {"current": {dashtest.Password}, "password": {"stolen stolen stolen"}, "confirm": {"stolen stolen stolen"}},
	} {
		r := thief.Post(path, form)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") || strings.Contains(r.Body, "sis_") {
			t.Errorf("%s: replayed cookie POST %s = %d → %q, want 303 to /login", what, path, r.StatusCode, r.Header.Get("Location"))
		}
	}
	after, _ := e.Store.IdentityState(context.Background(), e.Project.ID)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("%s: the replayed cookie changed the identity state", what)
	}
	if r := e.NewClient().Post("/login", url.Values{"email": {"ada@example.com"}, "password": {"stolen stolen stolen"}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: the replayed cookie changed the password", what)
	}
}

// TestCopiedCookieRevoked copies the session cookie out of the jar (as
// malware or a shoulder-surfer with devtools would), proves the copy works,
// then signs out: the copy opens no page and changes nothing. The same
// holds for every session of an account after its password changes.
func TestCopiedCookieRevoked(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	confirm := dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
	if r := c.Post("/settings/identity/rotate", confirm); r.StatusCode != http.StatusOK {
		t.Fatalf("rotate = %d", r.StatusCode)
	}

	copied := c.Cookie(auth.SessionCookie)
	thief := e.NewClient()
	thief.Header.Set("Cookie", copied.Name+"="+copied.Value)
	if r := thief.Get("/settings/identity"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, e.Project.PublicKey) {
		t.Fatalf("the copied cookie does not work before sign-out (%d): the test proves nothing", r.StatusCode)
	}
	if r := c.Post("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.StatusCode)
	}
	replayAll(t, e, copied, "after sign-out")

	// A password change ends every session of the account: the other
	// browser's, and the old cookie of the browser that made the change.
	a, b := e.NewClient(), e.NewClient()
	a.Login("ada@example.com", dashtest.Password)
	b.Login("ada@example.com", dashtest.Password)
	copiedA, copiedB := a.Cookie(auth.SessionCookie), b.Cookie(auth.SessionCookie)
	newPW := "a brand new long passphrase"
	if r := a.Post("/account/password", url.Values{"current": {dashtest.Password}, "password": {newPW}, "confirm": {newPW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change = %d", r.StatusCode)
	}
	replayAll(t, e, copiedB, "other session after a password change")
	replayAll(t, e, copiedA, "old cookie of the changing browser")
	if r := a.Get("/settings/identity"); r.StatusCode != http.StatusOK {
		t.Errorf("the browser that changed the password lost its new session: %d", r.StatusCode)
	}
}

// TestNoSessionFixation: a cookie an attacker obtained before the admin
// signs in (an anonymous one from the sign-in page's flash, or their own
// session, planted in the admin's browser) never becomes the admin's
// session: signing in always issues a new session id, and the planted
// cookie stays signed out (or is ended).
func TestNoSessionFixation(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	e.CreateAdmin("mallory@example.com")

	// An anonymous session cookie: sign-out of nobody sets a flash in one.
	attacker := e.NewClient()
	attacker.Post("/logout", nil)
	anon := attacker.Cookie(auth.SessionCookie)
	if anon == nil {
		t.Fatal("no anonymous session cookie to plant")
	}
	// The attacker's own signed-in session.
	mallory := e.NewClient()
	mallory.Login("mallory@example.com", dashtest.Password)
	planted := mallory.Cookie(auth.SessionCookie)

	for name, ck := range map[string]*http.Cookie{"anonymous": anon, "attacker's session": planted} {
		victim := e.NewClient()
		u, _ := url.Parse(e.URL)
		victim.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
		victim.Login("ada@example.com", dashtest.Password)
		got := victim.Cookie(auth.SessionCookie)
		if got.Value == ck.Value {
			t.Errorf("%s: signing in kept the planted cookie", name)
		}
		vals, err := e.DecodeCookie(got)
		old, _ := e.DecodeCookie(ck)
		if err != nil || vals["sid"] == nil || vals["sid"] == old["sid"] {
			t.Errorf("%s: session id after sign-in = %v (planted %v), want a new one", name, vals["sid"], old["sid"])
		}
		// Whoever holds the planted cookie is not signed in as ada.
		r := e.NewClient()
		r.Header.Set("Cookie", ck.Name+"="+ck.Value)
		if p := r.Get("/account"); p.StatusCode == http.StatusOK && strings.Contains(p.Body, "ada@example.com") {
			t.Errorf("%s: the planted cookie opens ada's account", name)
		}
	}
}
