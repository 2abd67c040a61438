package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver store registers, for reading the file directly

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
)

// dbState reads every row of every table of the database file through a
// connection of its own, so a test can show that a request changed nothing.
func dbState(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tbl+`" ORDER BY rowid`)
		if err != nil {
			t.Fatalf("dump %s: %v", tbl, err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "== %s %v\n", tbl, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%q\n", fmt.Sprint(vals...))
		}
		rows.Close()
	}
	return b.String()
}

// formPath turns a route pattern into a path that matches it.
func formPath(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if strings.HasSuffix(path, "/") {
		path += "no/such/page"
	}
	path = strings.TrimSuffix(path, "{$}")
	path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x")
	return method, path
}

// changesState reports whether a route pattern takes requests that may
// change state: any method but GET, HEAD and OPTIONS (a pattern without a
// method takes them all).
func changesState(pattern string) bool {
	method, _ := formPath(pattern)
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return false
	}
	return true
}

// crossSite are the ways a browser marks a request another site made.
var crossSite = [][]string{
	{"Sec-Fetch-Site", "cross-site"},
	{"Sec-Fetch-Site", "same-site"}, // a sibling subdomain is another origin
	{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"},
	{"Origin", "http://evil.example"}, // browsers without Sec-Fetch-Site
	{"Origin", "null"},                // a sandboxed frame or a data: URL
}

// formCase is one state-changing dashboard route: a request that succeeds
// when the dashboard itself sends it, and how to tell it did.
type formCase struct {
	client func() *dashtest.Client
	form   func() url.Values
	worked func(r *dashtest.Response) bool
}

// TestCrossSiteRefusedOnEveryForm walks every route of the server. Each
// one that takes a state-changing method must refuse the request another
// site makes (403, no cookie, no row of the database changed) and
// accept the same request from the dashboard's own pages. A route without
// a case here fails the test, so a new form cannot be forgotten. The
// ingestion routes must keep taking cross-site posts.
func TestCrossSiteRefusedOnEveryForm(t *testing.T) {
	e := dashtest.New(t)
	ctx := context.Background()
	const email = "ada@example.com"
	newPassword := "an entirely new passphrase"
	c := e.NewClient()
	var secret identity.Secret
	var inviteLink string

	cases := map[string]formCase{
		"POST /setup": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				u, _ := url.Parse(e.SetupLink)
				return url.Values{"token": {u.Query().Get("token")}, "email": {email}, "password": {dashtest.Password}, "confirm": {dashtest.Password}}
			},
			worked: func(r *dashtest.Response) bool {
				n, _ := e.Store.CountAdmins(ctx)
				return r.StatusCode == http.StatusSeeOther && n == 1
			},
		},
		"POST /login": {
			client: func() *dashtest.Client { return e.NewClient() },
			form: func() url.Values {
				return url.Values{"email": {email}, "password": {dashtest.Password}}
			},
			worked: func(r *dashtest.Response) bool {
				return r.StatusCode == http.StatusSeeOther && r.Header.Get("Location") == "/settings/identity"
			},
		},
		"POST /settings/identity/rotate": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				return dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
			},
			worked: func(r *dashtest.Response) bool {
				s, err := identity.ParseSecret(dashtest.Text(r.Doc(t).ByID("new-secret")))
				secret = s
				return r.StatusCode == http.StatusOK && err == nil
			},
		},
		"POST /settings/identity/strict": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{"project": {"default"}, "strict": {"on"}} },
			worked: func(r *dashtest.Response) bool {
				p, _ := e.Store.Project(ctx, e.Project.ID)
				return r.StatusCode == http.StatusSeeOther && p.Strict
			},
		},
		"POST /settings/identity/check": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				return url.Values{"project": {"default"}, "userId": {"u_1"}, "token": {"hmac_v1:" + strings.Repeat("0", 64)}}
			},
			worked: func(r *dashtest.Response) bool {
				return r.StatusCode == http.StatusOK && r.Doc(t).ByID("verdict") != nil
			},
		},
		"POST /settings/identity/schemes": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				return url.Values{"project": {"default"}, "schemes": {"hmac_v1"}, "max_lifetime": {"0"}}
			},
			worked: func(r *dashtest.Response) bool {
				st, _ := e.Store.IdentityState(ctx, e.Project.ID)
				return r.StatusCode == http.StatusSeeOther && st.Schemes == identity.AcceptHMACOnly
			},
		},
		"POST /settings/identity/end-overlap": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values { // an overlap to end: a rotation keeping the secret an hour
				r, err := e.Manager.Rotate(ctx, e.Project.ID, time.Hour, identity.Actor{Name: "test"})
				if err != nil {
					t.Fatal(err)
				}
				secret = r.Secret // what ingestion signs with below
				return url.Values{"project": {"default"}, "version": {strconv.Itoa(r.Version - 1)}}
			},
			worked: func(r *dashtest.Response) bool {
				st, _ := e.Store.IdentityState(ctx, e.Project.ID)
				_, overlap := st.Previous()
				return r.StatusCode == http.StatusSeeOther && !overlap
			},
		},
		"POST /admins/invite": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{"email": {"bob@example.com"}} },
			worked: func(r *dashtest.Response) bool {
				inviteLink = dashtest.Text(r.Doc(t).ByID("invite-link"))
				return r.StatusCode == http.StatusOK && strings.Contains(inviteLink, "/invite?token=")
			},
		},
		"POST /invite": { // the invited person, in a browser of their own
			client: func() *dashtest.Client { return e.NewClient() },
			form: func() url.Values {
				u, _ := url.Parse(inviteLink)
				return url.Values{"token": {u.Query().Get("token")}, "password": {dashtest.Password}, "confirm": {dashtest.Password}}
			},
			worked: func(r *dashtest.Response) bool {
				n, _ := e.Store.CountAdmins(ctx)
				return r.StatusCode == http.StatusSeeOther && n == 2
			},
		},
		"POST /admins/invite/cancel": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				if r := c.Post("/admins/invite", url.Values{"email": {"cy@example.com"}}); r.StatusCode != http.StatusOK {
					t.Fatalf("invite cy = %d", r.StatusCode)
				}
				return url.Values{"email": {"cy@example.com"}}
			},
			worked: func(r *dashtest.Response) bool {
				inv, _ := e.Store.PendingInvites(ctx, e.Clock.Now())
				return r.StatusCode == http.StatusSeeOther && len(inv) == 0
			},
		},
		"POST /admins/remove": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{"email": {"bob@example.com"}} },
			worked: func(r *dashtest.Response) bool {
				n, _ := e.Store.CountAdmins(ctx)
				return r.StatusCode == http.StatusSeeOther && n == 1
			},
		},
		"POST /projects": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{"name": {"shop"}} },
			worked: func(r *dashtest.Response) bool {
				_, err := e.Store.ProjectByName(ctx, "shop")
				return r.StatusCode == http.StatusSeeOther && err == nil
			},
		},
		"POST /projects/rename": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				v := dashtest.FormValues(c.Get("/projects/view?project=shop").Doc(t).Form("/projects/rename"))
				v.Set("name", "store")
				return v
			},
			worked: func(r *dashtest.Response) bool {
				_, err := e.Store.ProjectByName(ctx, "store")
				return r.StatusCode == http.StatusSeeOther && err == nil
			},
		},
		"POST /projects/origins": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				v := dashtest.FormValues(c.Get("/projects/view?project=store").Doc(t).Form("/projects/origins"))
				v.Set("origins", "https://shop.example")
				return v
			},
			worked: func(r *dashtest.Response) bool {
				p, _ := e.Store.ProjectByName(ctx, "store")
				return r.StatusCode == http.StatusSeeOther && len(p.AllowedOrigins) == 1
			},
		},
		"POST /projects/key/rotate": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				v := dashtest.FormValues(c.Get("/projects/view?project=store").Doc(t).Form("/projects/key/rotate"))
				v.Set("keep", "revoke")
				return v
			},
			worked: func(r *dashtest.Response) bool {
				p, _ := e.Store.ProjectByName(ctx, "store")
				return r.StatusCode == http.StatusSeeOther && p.PreviousPublicKey != ""
			},
		},
		"POST /projects/key/revoke": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				return dashtest.FormValues(c.Get("/projects/view?project=store").Doc(t).Form("/projects/key/revoke"))
			},
			worked: func(r *dashtest.Response) bool {
				p, _ := e.Store.ProjectByName(ctx, "store")
				return r.StatusCode == http.StatusSeeOther && p.PreviousPublicKey == ""
			},
		},
		"POST /projects/delete": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				v := dashtest.FormValues(c.Get("/projects/delete?project=store").Doc(t).Form("/projects/delete"))
				v.Set("confirm", "store")
				return v
			},
			worked: func(r *dashtest.Response) bool {
				_, err := e.Store.ProjectByName(ctx, "store")
				return r.StatusCode == http.StatusSeeOther && err != nil
			},
		},
		"POST /account/password": {
			client: func() *dashtest.Client { return c },
			form: func() url.Values {
				return url.Values{"current": {dashtest.Password}, "password": {newPassword}, "confirm": {newPassword}}
			},
			worked: func(r *dashtest.Response) bool {
				return r.StatusCode == http.StatusSeeOther && r.Header.Get("Location") == "/account"
			},
		},
		"POST /logout": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{} },
			worked: func(r *dashtest.Response) bool {
				return r.StatusCode == http.StatusSeeOther && c.Get("/settings/identity").StatusCode == http.StatusSeeOther
			},
		},
		// Every other path: the 404 page, behind the same protection.
		"/": {
			client: func() *dashtest.Client { return c },
			form:   func() url.Values { return url.Values{"a": {"b"}} },
			worked: func(r *dashtest.Response) bool { return r.StatusCode == http.StatusNotFound },
		},
	}
	// Browser SDKs post events cross-site by design.
	ingestion := map[string]bool{"POST /events": true, "POST /events/batch": true, "/events": true, "/events/batch": true}

	// The order the flow needs: setup first, logout last.
	order := []string{"POST /setup", "POST /login", "POST /settings/identity/rotate", "POST /settings/identity/strict",
		"POST /settings/identity/check", "POST /settings/identity/schemes", "POST /settings/identity/end-overlap",
		"POST /admins/invite", "POST /invite", "POST /admins/invite/cancel", "POST /admins/remove",
		"POST /projects", "POST /projects/rename", "POST /projects/origins", "POST /projects/key/rotate", "POST /projects/key/revoke",
		"POST /projects/delete", "POST /account/password", "/", "POST /logout"}
	seen := map[string]bool{}
	for _, p := range e.Server.Routes() {
		if !changesState(p) || ingestion[p] {
			continue
		}
		seen[p] = true
		if _, ok := cases[p]; !ok {
			t.Errorf("route %q takes state-changing requests but has no cross-site case here: add one", p)
		}
	}
	for _, p := range order {
		if !seen[p] {
			t.Errorf("case %q matches no route of the server", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, p := range order {
		tc := cases[p]
		_, path := formPath(p)
		client, form := tc.client(), tc.form()
		before := dbState(t, e.Store.Path())
		for _, h := range crossSite {
			r := client.Post(path, form, h...)
			if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "came from another site") {
				t.Errorf("%s with %v = %d, want the 403 refusal", p, h, r.StatusCode)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("%s with %v set cookies %v", p, h, sc)
			}
			if strings.Contains(r.Body, "sis_") {
				t.Errorf("%s with %v answered with a secret", p, h)
			}
		}
		// Other methods a form cannot send but fetch() can are refused too.
		for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
			req, _ := http.NewRequest(m, e.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := client.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s cross-site = %d, want 403", m, path, resp.StatusCode)
			}
		}
		if after := dbState(t, e.Store.Path()); after != before {
			t.Errorf("refused cross-site %s changed the database:\nbefore:\n%s\nafter:\n%s", p, before, after)
		}
		// The same request from the dashboard's own page works.
		r := client.Post(path, form, "Sec-Fetch-Site", "same-origin", "Origin", e.URL)
		if !tc.worked(r) {
			t.Errorf("same-origin %s = %d → %q, want it to work\n%s", p, r.StatusCode, r.Header.Get("Location"), r.Body)
		}
	}
	if c.Cookie(auth.SessionCookie) == nil {
		t.Errorf("no session cookie was ever set: the flow did not sign in")
	}

	// Ingestion takes cross-site posts from browser SDKs, with no cookie
	// (strict identity is on by now, so the events are signed).
	key, tok := e.Project.PublicKey, identity.Sign(secret, "u")
	for path, body := range map[string]string{
		"/events":       `{"publicKey":"` + key + `","type":"track","event":"x","userId":"u","identityToken":"` + tok + `"}`,
		"/events/batch": `{"publicKey":"` + key + `","events":[{"type":"track","event":"x","userId":"u","identityToken":"` + tok + `"}]}`,
	} {
		for _, h := range crossSite {
			req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "text/plain")
			for i := 0; i+1 < len(h); i += 2 {
				req.Header.Set(h[i], h[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("cross-site POST %s with %v = %d (ACAO %q), want 200 with CORS", path, h, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if len(resp.Header.Values("Set-Cookie")) > 0 {
				t.Errorf("POST %s set a cookie", path)
			}
		}
	}
}
