package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/web/static"
	"github.com/sendora/sendora/web/static/sdk"
)

// seen keeps every response a client receives, body included.
type seen struct {
	next http.RoundTripper
	mu   sync.Mutex
	resp []*dashtest.Response
}

func (s *seen) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	s.mu.Lock()
	s.resp = append(s.resp, &dashtest.Response{Response: resp, Body: string(b)})
	s.mu.Unlock()
	return resp, nil
}

func watch(c *dashtest.Client) *seen {
	s := &seen{next: c.HTTP.Transport}
	if s.next == nil {
		s.next = http.DefaultTransport
	}
	c.HTTP.Transport = s
	return s
}

// checkAnyHeaders asserts what every response of the server carries,
// whatever route or status: nosniff, no referrer, no framing, and a CSP
// that defaults to nothing and allows nothing inline. HTML responses get
// the dashboard's page checks (a per-response script nonce, no inline
// script, handler or style, no-store).
func checkAnyHeaders(t *testing.T, what string, r *dashtest.Response) {
	t.Helper()
	h := r.Header
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	csps := h.Values("Content-Security-Policy")
	if len(csps) != 1 {
		t.Errorf("%s: %d Content-Security-Policy headers, want 1", what, len(csps))
		return
	}
	csp := csps[0]
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data:", "http:", "https:"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", what, csp, bad)
		}
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || r.StatusCode/100 == 3 {
		return // JSON, text, static files, and a redirect's one link
	}
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: HTML with Cache-Control %q, want no-store", what, cc)
	}
	if strings.Contains(r.Body, "<html") {
		checkHeaders(t, what, r)
		return
	}
	// A fragment (the live rejections table): the page CSP, nothing inline.
	if !strings.Contains(csp, "script-src 'nonce-") {
		t.Errorf("%s: fragment CSP %q is not the page CSP", what, csp)
	}
	for _, n := range r.Doc(t).Find("") {
		if n.Data == "script" {
			t.Errorf("%s: a script in a fragment", what)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("%s: <%s %s=…> in a fragment", what, n.Data, a.Key)
			}
		}
	}
}

// TestHeadersOnEveryResponse drives every route of the server (taken from
// its own route list) and every status it answers with — the first-run
// setup pages, pages, redirects, static files, probes, ingestion and its
// errors, 403/404/405/409/413/415/429 refusals, and the 500 and 503 of a
// dead database — and checks the security headers on each response.
func TestHeadersOnEveryResponse(t *testing.T) {
	limits := auth.Limits{Window: 15 * time.Minute, PerIP: 3, PerAccount: 3, PerDevice: 3}
	e := dashtest.New(t, dashtest.Options{Limits: limits})
	anon, c, invited := e.NewClient(), e.NewClient(), e.NewClient()
	seenAnon, seenAdmin, seenInvited := watch(anon), watch(c), watch(invited)
	raw := func(method, path, ctype, body string, header ...string) {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		anonDo(t, anon, req)
	}
	key := e.Project.PublicKey
	ev := `{"publicKey":"` + key + `","type":"track","event":"x","userId":"u"}`

	// First run: the setup link's page (200, it holds the token), a
	// wrong token (403), a refused form (400).
	link, _ := url.Parse(e.SetupLink)
	anon.Get(link.RequestURI())
	anon.Get("/setup?token=wrong")
	anon.Post("/setup", url.Values{"token": {link.Query().Get("token")}, "email": {"not an email"}})
	e.CreateAdmin("ada@example.com")

	// Signed out: public pages, the sign-in redirect, errors.
	anon.Get("/")
	anon.Get("/login")
	anon.Get("/setup?token=wrong")
	anon.Get("/settings/identity")
	anon.Get("/no/such/page")
	anon.Post("/no/such/page", nil)
	anon.Post("/setup", url.Values{"token": {"wrong"}})
	anon.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}, "Sec-Fetch-Site", "cross-site")
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		anon.Get(static.Path(name))
	}
	anon.Get("/static/app.000000000000.css")
	anon.Get("/sdk/v1/sendora.js")
	anon.Get(sdk.File("sendora.mjs").Path)
	anon.Get("/sdk/v1/sendora.000000000000.js")
	anon.Get("/healthz")
	anon.Get("/readyz")

	// Ingestion and each of its error answers.
	raw(http.MethodPost, "/events", "application/json", ev)
	raw(http.MethodPost, "/events/batch", "text/plain", `{"publicKey":"`+key+`","events":[{"type":"page","userId":"u"}]}`)
	raw(http.MethodOptions, "/events", "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST")
	raw(http.MethodOptions, "/events/batch", "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST")
	raw(http.MethodGet, "/events", "", "")
	raw(http.MethodGet, "/events/batch", "", "")
	raw(http.MethodPost, "/events", "application/json", `{"publicKey":`)
	raw(http.MethodPost, "/events", "application/json", `{"publicKey":"pk_live_nope","type":"page","userId":"u"}`)
	raw(http.MethodPost, "/events", "application/xml", ev)
	raw(http.MethodPost, "/events", "application/json", `{"publicKey":"`+key+`","type":"page","userId":"u","traits":{"x":"`+strings.Repeat("a", 40<<10)+`"}}`)
	raw(http.MethodPost, "/events/batch", "application/json", `{"publicKey":"`+key+`","events":[`+strings.Repeat(`{"type":"page","userId":"u"},`, 30000)+`{}]}`)
	raw(http.MethodPost, "/events", "application/json", `{"publicKey":"`+key+`","type":"page"}`)

	// Signed in: every page, the rotation, strict mode refused and done,
	// the checker, an oversized form, the live fragment.
	c.Login("ada@example.com", dashtest.Password)
	c.Get("/")
	c.Get("/login")
	c.Get("/settings/identity")
	c.Get("/settings/identity?project=missing")
	c.Get("/settings/identity/rejections?project=default")
	c.Get("/settings/identity/rotate?project=default")
	c.Get("/audit")
	c.Get("/account")
	c.Get("/profiles")
	c.Get("/profiles/view?user=u")
	c.Get("/profiles/view?user=nobody")
	c.Get("/event-log")
	c.Get("/event-log/view?message=nope")
	// Admins: invite (the link page, refusals), accept in another browser,
	// cancel, remove, and the last admin refused.
	c.Get("/admins")
	c.Post("/admins/invite", url.Values{"email": {"ada@example.com"}}) // 409: already an admin
	invitation := c.Post("/admins/invite", url.Values{"email": {"bob@example.com"}})
	inviteURL, _ := url.Parse(dashtest.Text(invitation.Doc(t).ByID("invite-link")))
	invited.Get(inviteURL.RequestURI())
	invited.Get("/invite?token=wrong")
	invited.Post("/invite", url.Values{"token": {inviteURL.Query().Get("token")}, "password": {dashtest.Password}, "confirm": {dashtest.Password}})
	c.Post("/admins/invite", url.Values{"email": {"cy@example.com"}})
	c.Post("/admins/invite/cancel", url.Values{"email": {"cy@example.com"}})
	c.Post("/admins/invite/cancel", url.Values{"email": {"cy@example.com"}}) // 404
	c.Get("/admins/remove?email=bob@example.com")
	c.Post("/admins/remove", url.Values{"email": {"bob@example.com"}})
	c.Get("/admins/remove?email=ada@example.com")                                             // the last admin: refused
	c.Post("/admins/remove", url.Values{"email": {"ada@example.com"}})                        // 409
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}}) // 409: no secret yet
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"maybe"}})
	c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {strings.Repeat("u", 70<<10)}})
	confirm := dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
	shown := c.Post("/settings/identity/rotate", confirm)
	if shown.StatusCode != http.StatusOK || !strings.Contains(shown.Body, "sis_") {
		t.Fatalf("rotation = %d without a secret", shown.StatusCode)
	}
	if cc := shown.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page showing the secret has Cache-Control %q, want no-store", cc)
	}
	c.Post("/settings/identity/rotate", confirm) // resubmitted: 303
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}})
	raw(http.MethodPost, "/events", "application/json", ev) // 401 IDENTITY_UNVERIFIED
	c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {"u"}, "token": {"hmac_v1:00"}})
	c.Post("/settings/identity/schemes", url.Values{"project": {"default"}, "schemes": {"none"}}) // 400
	c.Post("/settings/identity/schemes", url.Values{"project": {"default"}, "schemes": {"hmac_v1"}})
	c.Get("/settings/identity/end-overlap?project=default")
	c.Post("/settings/identity/end-overlap", url.Values{"project": {"default"}, "version": {"1"}}) // none running: 303
	// Projects: each page, each form done and refused.
	c.Get("/projects")
	c.Get("/projects/view?project=default")
	c.Get("/projects/view?project=missing")
	c.Get("/projects/delete?project=default") // the last project: no form
	c.Post("/projects", url.Values{"name": {"<b>x</b>"}})
	c.Post("/projects", url.Values{"name": {"shop"}})
	page := c.Get("/projects/view?project=shop").Doc(t)
	rename := dashtest.FormValues(page.Form("/projects/rename"))
	rename.Set("name", "default")
	c.Post("/projects/rename", rename) // 409: taken
	rename.Set("name", "store")
	c.Post("/projects/rename", rename)
	page = c.Get("/projects/view?project=store").Doc(t)
	origins := dashtest.FormValues(page.Form("/projects/origins"))
	origins.Set("origins", "not an origin")
	c.Post("/projects/origins", origins)
	origins.Set("origins", "https://shop.example")
	c.Post("/projects/origins", origins)
	rotate := dashtest.FormValues(page.Form("/projects/key/rotate"))
	c.Post("/projects/key/rotate", rotate)
	revoke := dashtest.FormValues(c.Get("/projects/view?project=store").Doc(t).Form("/projects/key/revoke"))
	c.Post("/projects/key/revoke", revoke)
	del := dashtest.FormValues(c.Get("/projects/delete?project=store").Doc(t).Form("/projects/delete"))
	c.Post("/projects/delete", del) // 400: nothing typed
	del.Set("confirm", "store")
	c.Post("/projects/delete", del)
	c.Post("/account/password", url.Values{"current": {"wrong wrong wrong"}, "password": {"x"}, "confirm": {"x"}})
	c.Post("/logout", nil)

	// Throttled sign-ins: 429.
	for range limits.PerIP + 1 {
		anon.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong wrong wrong"}})
	}

	// A dead database: the 500 page, and 503 from readiness.
	e.Store.Close()
	anon.Get("/login")
	anon.Get("/readyz")
	raw(http.MethodPost, "/events", "application/json", ev)

	statuses := map[int]bool{}
	check := func(rs []*dashtest.Response) {
		for _, r := range rs {
			statuses[r.StatusCode] = true
			checkAnyHeaders(t, r.Request.Method+" "+r.Request.URL.Path+" → "+strconv.Itoa(r.StatusCode), r)
		}
	}
	check(seenAnon.resp)
	check(seenAdmin.resp)
	check(seenInvited.resp)
	for _, want := range []int{200, 204, 303, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503} {
		if !statuses[want] {
			t.Errorf("no response had status %d; the scenario does not cover it", want)
		}
	}

	// Every route of the server answered at least once (the access log
	// names the pattern each request matched).
	hit := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(e.Logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Route string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "request" {
			hit[line.Route] = true
		}
	}
	for _, p := range e.Server.Routes() {
		if !hit[p] {
			t.Errorf("route %q was never requested: add it to the scenario", p)
		}
	}
}

// anonDo sends a request Client has no helper for.
func anonDo(t *testing.T, c *dashtest.Client, req *http.Request) {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
