package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/web/static"
)

// checkHeaders asserts the headers every dashboard response carries, and
// that the page's scripts hold the nonce its CSP allows.
func checkHeaders(t *testing.T, what string, r *dashtest.Response) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		return
	}
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})'`).FindStringSubmatch(csp)
	if m == nil {
		t.Errorf("%s: CSP %q has no script nonce", what, csp)
		return
	}
	scripts := r.Doc(t).Find("script")
	if len(scripts) == 0 {
		t.Errorf("%s: no script", what)
	}
	for _, s := range scripts {
		if dashtest.Attr(s, "nonce") != m[1] {
			t.Errorf("%s: script nonce %q, CSP nonce %q", what, dashtest.Attr(s, "nonce"), m[1])
		}
		if s.FirstChild != nil {
			t.Errorf("%s: inline script", what)
		}
	}
	// No inline event handlers or style attributes: the CSP forbids them.
	for _, n := range r.Doc(t).Find("") {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("%s: <%s %s=…> is blocked by the CSP", what, n.Data, a.Key)
			}
		}
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := dashtest.New(t)
	anon := e.NewClient()
	nonces := map[string]bool{}
	r := anon.Get("/setup?token=x")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("GET /setup with a wrong token = %d, want 403", r.StatusCode)
	}
	checkHeaders(t, "setup", r)
	nonces[r.Header.Get("Content-Security-Policy")] = true

	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	for _, tt := range []struct {
		client *dashtest.Client
		path   string
		status int
	}{
		{anon, "/login", 200},
		{anon, "/no/such/page", 404},
		{c, "/settings/identity", 200},
		{c, "/settings/identity/rotate?project=default", 200},
		{c, "/audit", 200},
		{c, "/account", 200},
		{c, "/settings/identity?project=missing", 404},
		{c, "/static/app.000000000000.css", 404},
	} {
		r := tt.client.Get(tt.path)
		if r.StatusCode != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.path, r.StatusCode, tt.status)
		}
		checkHeaders(t, tt.path, r)
		nonces[r.Header.Get("Content-Security-Policy")] = true
	}
	if len(nonces) != 9 {
		t.Errorf("nonces repeat across responses")
	}
	// A refused cross-site post and the rotation page get them too.
	checkHeaders(t, "cross-site post", c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"off"}}, "Sec-Fetch-Site", "cross-site"))
	confirm := c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate")
	checkHeaders(t, "rotation", c.Post("/settings/identity/rotate", dashtest.FormValues(confirm)))
}

func TestCrossSiteRotateRefused(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	v := url.Values{"project": {"default"}, "version": {"0"}, "overlap": {"0"}}
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "http://evil.example"}} {
		r := c.Post("/settings/identity/rotate", v, h...)
		if r.StatusCode != http.StatusForbidden || strings.Contains(r.Body, "sis_") {
			t.Errorf("rotate with %s: %s = %d, want 403 and no secret", h[0], h[1], r.StatusCode)
		}
	}
	st, _ := e.Store.IdentityState(context.Background(), e.Project.ID)
	if _, ok := st.Current(); ok {
		t.Errorf("a cross-site post rotated the secret")
	}
}

func TestEventsNotBehindCrossOriginProtection(t *testing.T) {
	e := dashtest.New(t)
	// A browser SDK posts cross-site by design; CORS answers it.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/events", strings.NewReader(`{"publicKey":"`+e.Project.PublicKey+`","type":"track","event":"x","userId":"u"}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site POST /events = %d, want 200", resp.StatusCode)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("/events set a cookie")
	}
}

func TestStaticFilesHashedAndCached(t *testing.T) {
	e := dashtest.New(t)
	c := e.NewClient()
	for name, ctype := range map[string]string{"app.css": "text/css", "app.js": "text/javascript", "favicon.svg": "image/svg+xml"} {
		p := static.Path(name)
		if !regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.[a-z]+$`).MatchString(p) {
			t.Errorf("Path(%s) = %q, want a content-hashed name", name, p)
		}
		r := c.Get(p)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %s", p, r.StatusCode, r.Header.Get("Content-Type"))
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s Cache-Control = %q", p, cc)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s lacks nosniff", p)
		}
	}
	// The pages link the hashed names.
	d := c.Get("/login").Doc(t)
	if len(d.Find("link", "href", static.Path("app.css"))) != 1 || len(d.Find("script", "src", static.Path("app.js"))) != 1 {
		t.Errorf("the login page does not link the hashed stylesheet and script")
	}
}

func TestInternalErrorPageHidesTheCause(t *testing.T) {
	e := dashtest.New(t)
	c := e.NewClient()
	e.Store.Close() // every query now fails
	r := c.Get("/login")
	if r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("GET /login with the database closed = %d, want 500", r.StatusCode)
	}
	checkHeaders(t, "500", r)
	body := dashtest.Text(r.Doc(t).Root)
	if !strings.Contains(body, "Internal error") || strings.Contains(body, "sql") || strings.Contains(body, "closed") {
		t.Errorf("500 page = %q, want a plain internal error", body)
	}
	if !strings.Contains(e.Logs.String(), "database is closed") {
		t.Errorf("the cause is not logged")
	}
}

func TestRootRedirects(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	if r := c.Get("/"); r.Header.Get("Location") != "/login" {
		t.Errorf("/ signed out → %q", r.Header.Get("Location"))
	}
	c.Login("ada@example.com", dashtest.Password)
	if r := c.Get("/"); r.Header.Get("Location") != "/settings/identity" {
		t.Errorf("/ signed in → %q", r.Header.Get("Location"))
	}
	if r := c.Get("/login"); r.Header.Get("Location") != "/settings/identity" {
		t.Errorf("/login signed in → %q", r.Header.Get("Location"))
	}
}
