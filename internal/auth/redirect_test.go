package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/server/dashtest"
)

// offSite are next= values that try to send a freshly signed-in admin to
// another site (a phishing page asking them to "sign in again").
var offSite = []string{
	"//evil.example/", "///evil.example/", "////evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
	"https://evil.example/", "http:evil.example", "https:/evil.example", "//evil.example@127.0.0.1/",
	"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox",
	"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/%09/evil.example", "/%2F%2Fevil.example",
	"/%5C%5Cevil.example", "/./\\evil.example", "/.//evil.example", "/..//evil.example", "/../\\evil.example",
	"／／evil.example", "\u3002evil.example", "evil.example", " //evil.example", "/ /evil.example",
	"\x00//evil.example", "/\x00/evil.example", "%2F%2Fevil.example", "/login?next=//evil.example",
}

// local reports whether a Location header, resolved the way a browser
// resolves it against the page it answers, stays on the server.
func local(base *url.URL, loc string) bool {
	if strings.ContainsAny(loc, "\\\t\r\n\x00") {
		return false // browsers treat some of these as slashes or strip them
	}
	u, err := base.Parse(loc)
	return err == nil && u.Scheme == base.Scheme && u.Host == base.Host && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")
}

// TestSignInNeverRedirectsOffSite signs in with each hostile next value,
// given in the sign-in page's link and in the form post, and checks that
// the page's hidden field and the redirect after signing in both stay on
// the server. Requests for pages with hostile paths (the sign-in redirect
// that carries next) stay on it too.
func TestSignInNeverRedirectsOffSite(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	base, _ := url.Parse(e.URL)
	for _, next := range offSite {
		c := e.NewClient()
		page := c.Get("/login?next=" + url.QueryEscape(next))
		if page.StatusCode != http.StatusOK {
			t.Errorf("GET /login?next=%q = %d", next, page.StatusCode)
			continue
		}
		form := page.Doc(t).Form("/login")
		v := dashtest.FormValues(form)
		if got := v.Get("next"); got != "" && !local(base, got) {
			t.Errorf("next=%q: the sign-in form carries next=%q", next, got)
		}
		v.Set("next", next) // a forged form post, too
		v.Set("email", "ada@example.com")
		v.Set("password", dashtest.Password)
		r := c.Post("/login", v)
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusSeeOther || !local(base, loc) {
			t.Errorf("sign-in with next=%q = %d → %q, want 303 to a page of this server", next, r.StatusCode, loc)
		}
	}
	// A path that looks like another host, asked for while signed out.
	c := e.NewClient()
	for _, p := range []string{"//evil.example/settings/identity", "/\\evil.example", "/settings/identity/..//evil.example", "/%2F%2Fevil.example"} {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/x", nil)
		req.URL.Opaque = p // sent as is, not cleaned by the client
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc != "" && !local(base, loc) {
			t.Errorf("GET %s → %d %q: leaves the server", p, resp.StatusCode, loc)
		}
		if n, _ := url.Parse(loc); loc != "" && n != nil {
			if next := n.Query().Get("next"); next != "" && !local(base, next) {
				t.Errorf("GET %s → next=%q leaves the server", p, next)
			}
		}
	}
}
