package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

// Fuzzing the dashboard's form posts: each target posts arbitrary bodies
// (with an arbitrary Content-Type and query) to one form through the
// whole server in-process — cross-origin protection, session, handler,
// rendering — as a signed-in admin. Whatever the input:
//
//   - never a panic or a 5xx (a handler panic would render the 500 page);
//   - at most 64 KiB of the body is read, however long it is;
//   - a 4xx answer is a page with a visible error message;
//   - a redirect stays on the server.
//
// Seeds may hold {{token}} (the live setup token), {{invite}} (a live
// invitation token, for new@example.com), {{password}} (the
// admin's password), {{version}} (the current secret version) and
// {{previous}} (the previous one's), {{ref}} (the default project's
// reference in its forms: id and creation time),
// {{key}} and {{oldkey}} (its current and replaced public keys), so the
// fuzzer starts from inputs that get past each check.

// maxFormBody is webui's limit on a form post.
const maxFormBody = 64 << 10

// fuzzedForms are the form routes with a fuzz target below.
var fuzzedForms = map[string]bool{
	"POST /setup": true, "POST /login": true, "POST /logout": true, "POST /account/password": true,
	"POST /settings/identity/rotate": true, "POST /settings/identity/strict": true, "POST /settings/identity/check": true,
	"POST /settings/identity/schemes": true, "POST /settings/identity/end-overlap": true,
	"POST /admins/invite": true, "POST /admins/invite/cancel": true, "POST /admins/remove": true, "POST /invite": true,
	"POST /projects": true, "POST /projects/rename": true, "POST /projects/origins": true,
	"POST /projects/key/rotate": true, "POST /projects/key/revoke": true, "POST /projects/delete": true,
}

// TestEveryFormIsFuzzed fails when a POST route has no fuzz target.
func TestEveryFormIsFuzzed(t *testing.T) {
	e := dashtest.New(t)
	for _, p := range e.Server.Routes() {
		if strings.HasPrefix(p, "POST ") && !strings.HasPrefix(p, "POST /events") && !fuzzedForms[p] {
			t.Errorf("form route %q has no fuzz target in fuzz_test.go", p)
		}
	}
}

// formFuzzer is one server, reset between inputs where an input changed
// who can sign in.
type formFuzzer struct {
	e        *dashtest.Env
	db       *sql.DB // a side connection, to put the admins back
	admin    bool
	token    string // the live setup token
	invite   string // a live invitation token
	cookie   string // a signed-in session
	password string
	hash     string // the admin's password hash, to restore
}

const (
	fuzzAdmin      = "ada@example.com"
	fuzzOtherAdmin = "bob@example.com"
	fuzzInvited    = "new@example.com"
)

func newFormFuzzer(tb testing.TB, admin bool) *formFuzzer {
	huge := 1 << 30 // throttling would stop inputs before the password checks
	e := dashtest.New(tb, dashtest.Options{Limits: auth.Limits{Window: time.Hour, PerIP: huge, PerAccount: huge, PerDevice: huge}})
	db, err := sql.Open("sqlite", "file:"+e.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &formFuzzer{e: e, db: db, admin: admin, password: dashtest.Password}
	if admin {
		a := e.CreateAdmin(fuzzAdmin)
		f.hash = a.PasswordHash
	}
	f.reset(tb)
	return f
}

// serve runs one request through the server in-process.
func (f *formFuzzer) serve(method, target, ctype, cookie string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	f.e.Handler.ServeHTTP(w, req)
	return w
}

// reset puts the server back: the first admin (or none, for the setup
// form) with the known password, a live setup token, a signed-in session.
func (f *formFuzzer) reset(tb testing.TB) {
	ctx := context.Background()
	if !f.admin {
		if _, err := f.db.ExecContext(ctx, `DELETE FROM admins`); err != nil {
			tb.Fatal(err)
		}
		link, err := f.e.Auth.AnnounceSetup(ctx, "")
		if err != nil {
			tb.Fatal(err)
		}
		u, _ := url.Parse(link)
		f.token = u.Query().Get("token")
		f.cookie = ""
		return
	}
	// Two admins (a removal can succeed, and removing the fuzz admin
	// itself is not the last one), with the known password; a live
	// invitation for an email no admin has.
	for _, email := range []string{fuzzAdmin, fuzzOtherAdmin} {
		if _, err := f.e.Store.AdminByEmail(ctx, email); err != nil {
			if _, err := f.e.Store.CreateAdmin(ctx, store.NewAdmin{Email: email, PasswordHash: f.hash, At: f.e.Clock.Now(), Actor: "test"}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if _, err := f.db.ExecContext(ctx, `UPDATE admins SET password_hash = ?`, f.hash); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.db.ExecContext(ctx, `DELETE FROM admins WHERE email = ?`, fuzzInvited); err != nil {
		tb.Fatal(err)
	}
	f.invite = rand.Text()
	sum := sha256.Sum256([]byte(f.invite))
	now := f.e.Clock.Now()
	if err := f.e.Store.CreateInvite(ctx, store.Invite{TokenHash: sum[:], Email: fuzzInvited, InvitedBy: fuzzAdmin, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Audit{Actor: fuzzAdmin, At: now}); err != nil {
		tb.Fatal(err)
	}
	form := url.Values{"email": {fuzzAdmin}, "password": {f.password}}
	w := f.serve(http.MethodPost, "/login", "application/x-www-form-urlencoded", "", strings.NewReader(form.Encode()))
	for _, ck := range w.Result().Cookies() {
		if ck.Name == auth.SessionCookie {
			f.cookie = ck.Name + "=" + ck.Value
		}
	}
	if w.Code != http.StatusSeeOther || f.cookie == "" {
		tb.Fatalf("fuzz harness: sign-in = %d", w.Code)
	}
}

// counter counts the bytes a handler reads of a body.
type counter struct {
	r io.Reader
	n int
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (f *formFuzzer) check(t *testing.T, route, ctype, query, body string) {
	ctx := context.Background()
	version, previous := "0", "0"
	if st, err := f.e.Store.IdentityState(ctx, f.e.Project.ID); err == nil {
		if cur, ok := st.Current(); ok {
			version = strconv.Itoa(cur.Version)
		}
		if prev, ok := st.Previous(); ok {
			previous = strconv.Itoa(prev.Version)
		}
	}
	key, oldKey, ref := "", "", ""
	if p, err := f.e.Store.Project(ctx, f.e.Project.ID); err == nil {
		key, oldKey = p.PublicKey, p.PreviousPublicKey
		ref = strconv.FormatInt(p.ID, 10) + "-" + strconv.FormatInt(p.CreatedAt.UnixMilli(), 10)
	}
	body = strings.NewReplacer("{{token}}", f.token, "{{invite}}", f.invite, "{{password}}", url.QueryEscape(f.password), "{{version}}", version,
		"{{previous}}", previous, "{{ref}}", ref, "{{key}}", key, "{{oldkey}}", oldKey).Replace(body)
	path := strings.TrimPrefix(route, "POST ")
	target := path
	if q := strings.Map(func(r rune) rune {
		if r <= ' ' || r == '#' || r >= 0x7f {
			return -1 // what a client could not send in a request line
		}
		return r
	}, query); q != "" {
		target += "?" + q
	}
	in := &counter{r: strings.NewReader(body)}
	w := f.serve(http.MethodPost, target, ctype, f.cookie, in)
	f.e.Logs.Reset()

	if w.Code >= 500 {
		t.Fatalf("POST %s (%q, %d-byte body) = %d\n%s", target, ctype, len(body), w.Code, w.Body.String())
	}
	if in.n > maxFormBody+1 {
		t.Fatalf("POST %s read %d bytes of the body, want at most %d", target, in.n, maxFormBody+1)
	}
	if len(body) > maxFormBody && strings.HasPrefix(ctype, "application/x-www-form-urlencoded") && w.Code < 400 && w.Code != http.StatusSeeOther {
		t.Fatalf("POST %s with a %d-byte form = %d, want it refused", target, len(body), w.Code)
	}
	switch {
	case w.Code >= 400:
		d, err := parseHTML(w.Body.String())
		if err != nil || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("POST %s = %d without an HTML page", target, w.Code)
		}
		msg := ""
		for _, n := range append(d.Find("div", "class", "notice-error"), d.Find("section", "class", "error-page")...) {
			msg += dashtest.Text(n)
		}
		if strings.TrimSpace(msg) == "" {
			t.Fatalf("POST %s = %d with no error message on the page:\n%s", target, w.Code, w.Body.String())
		}
	case w.Code >= 300:
		loc := w.Header().Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\r\n") {
			t.Fatalf("POST %s redirects to %q", target, loc)
		}
	}
	// Inputs that change who can sign in: put the server back.
	if w.Code == http.StatusSeeOther {
		switch route {
		case "POST /setup", "POST /logout", "POST /account/password", "POST /admins/remove", "POST /invite":
			f.reset(t)
		}
	}
}

func parseHTML(s string) (*dashtest.Doc, error) {
	n, err := html.Parse(strings.NewReader(s))
	return &dashtest.Doc{Root: n}, err
}

var fuzzContentTypes = []string{
	"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "multipart/form-data; boundary=x",
	"text/plain", "", ";;", "application/json",
}

// fuzzForm runs a fuzz target for one form route.
func fuzzForm(f *testing.F, route string, admin bool, seeds ...string) {
	for i, s := range seeds {
		f.Add(fuzzContentTypes[i%len(fuzzContentTypes)], "", s)
		f.Add("application/x-www-form-urlencoded", "project=default&reason=missing_token", s)
	}
	f.Add("application/x-www-form-urlencoded", "", strings.Repeat("a=b&", maxFormBody/4+10))
	ff := newFormFuzzer(f, admin)
	f.Fuzz(func(t *testing.T, ctype, query, body string) {
		ff.check(t, route, ctype, query, body)
	})
}

// Values that trip parsers: bad escapes, NUL, invalid UTF-8, huge numbers.
var oddValues = []string{"%", "%zz", "%00", "\xff\xfe", "%C0%AF", "a%2", "&&&", "==", "+", "%E2%80%AE", "99999999999999999999999", "-1", "0x10", "1e9"}

func seedsWith(base string, fields ...string) []string {
	out := []string{base, "", "&", "=", base + "&" + base}
	for _, field := range fields {
		for _, v := range oddValues {
			out = append(out, field+"="+v)
		}
	}
	return out
}

func FuzzLoginForm(f *testing.F) {
	fuzzForm(f, "POST /login", true, append(seedsWith("email=ada%40example.com&password={{password}}", "email", "password", "next"),
		"email=ada%40example.com&password={{password}}&next=%2Faudit%3Fbefore%3D5",
		"email=ada%40example.com&password={{password}}&next=%2F%2Fevil.example",
		"email=ADA%40EXAMPLE.COM&password=wrong+wrong+wrong",
		"email=Ada+%3Cada%40example.com%3E&password=x",
		"email=ada%40example.com&email=bob%40example.com&password={{password}}",
		"email="+strings.Repeat("a", 300)+"%40example.com&password=x",
		"email=ada%40example.com&password="+strings.Repeat("p", 2000),
	)...)
}

func FuzzSetupForm(f *testing.F) {
	fuzzForm(f, "POST /setup", false, append(seedsWith("token={{token}}&email=ada%40example.com&password={{password}}&confirm={{password}}", "token", "email", "password", "confirm"),
		"token={{token}}&email=ada%40example.com&password=short&confirm=short",
		"token={{token}}&email=ada%40example.com&password={{password}}&confirm=other+other+other",
		"token={{token}}x&email=ada%40example.com&password={{password}}&confirm={{password}}",
		"token=&email=ada%40example.com&password={{password}}&confirm={{password}}",
		"token={{token}}&email=%22x%22%40example.com&password={{password}}&confirm={{password}}",
		"token={{token}}&email=ada%40example.com&password=++++++++++++++++&confirm=++++++++++++++++",
	)...)
}

func FuzzPasswordForm(f *testing.F) {
	fuzzForm(f, "POST /account/password", true, append(seedsWith("current={{password}}&password=a+new+long+passphrase&confirm=a+new+long+passphrase", "current", "password", "confirm"),
		"current=wrong&password=a+new+long+passphrase&confirm=a+new+long+passphrase",
		"current={{password}}&password=short&confirm=short",
		"current={{password}}&password=a+new+long+passphrase&confirm=different",
		"current="+strings.Repeat("c", 1100)+"&password=x&confirm=x",
	)...)
}

func FuzzRotateForm(f *testing.F) {
	fuzzForm(f, "POST /settings/identity/rotate", true, append(seedsWith("project=default&version={{version}}&overlap=1h", "project", "version", "overlap"),
		"project=default&version={{version}}&overlap=0",
		"project=default&version={{version}}&overlap=24h",
		"project=default&version={{version}}&overlap=48h",
		"project=default&version={{version}}&overlap=1h&overlap=0",
		"project=default&version=999&overlap=1h",
		"project=nope&version={{version}}&overlap=1h",
		"project=default&overlap=1h",
	)...)
}

func FuzzStrictForm(f *testing.F) {
	fuzzForm(f, "POST /settings/identity/strict", true, append(seedsWith("project=default&strict=on", "project", "strict"),
		"project=default&strict=off", "project=default&strict=ON", "project=default&strict=", "project=default&strict=on&strict=off",
		"project=nope&strict=on", "strict=on",
	)...)
}

func FuzzCheckForm(f *testing.F) {
	fuzzForm(f, "POST /settings/identity/check", true, append(seedsWith("project=default&userId=u_1&token=hmac_v1%3A"+strings.Repeat("ab", 32), "project", "userId", "token"),
		"project=default&userId=u_1&token=",
		"project=default&userId=&token=hmac_v1%3Aabc",
		"project=default&userId=u_1&token=hmac_v2%3A"+strings.Repeat("ab", 32),
		"project=default&userId=u_1&token=HMAC_V1%3A"+strings.Repeat("AB", 32),
		"project=default&userId=u_1&token=+hmac_v1%3A"+strings.Repeat("ab", 32)+"+",
		"project=default&userId="+strings.Repeat("u", 1025)+"&token=x",
		"project=default&userId=%3Cscript%3Ealert(1)%3C%2Fscript%3E&token=%22%3E%3Cimg+src%3Dx%3E",
	)...)
}

func FuzzSchemesForm(f *testing.F) {
	fuzzForm(f, "POST /settings/identity/schemes", true, append(seedsWith("project=default&schemes=hmac_v1%2Cjwt&max_lifetime=0", "project", "schemes", "max_lifetime"),
		"project=default&schemes=jwt&max_lifetime=24h",
		"project=default&schemes=hmac_v1&max_lifetime=1h",
		"project=default&schemes=jwt%2Chmac_v1&max_lifetime=1h30m",
		"project=default&schemes=JWT&max_lifetime=0",
		"project=default&schemes=jwt&max_lifetime=30s",
		"project=default&schemes=jwt&max_lifetime=9223372036854775807ns",
		"project=default&schemes=jwt&max_lifetime=-1h",
		"project=default&schemes=jwt&schemes=hmac_v1",
		"project=nope&schemes=jwt",
		"schemes=hmac_v1",
	)...)
}

func FuzzEndOverlapForm(f *testing.F) {
	fuzzForm(f, "POST /settings/identity/end-overlap", true, append(seedsWith("project=default&version={{previous}}", "project", "version"),
		"project=default&version={{version}}",
		"project=default&version=0",
		"project=default&version=",
		"project=nope&version={{previous}}",
		"version={{previous}}",
	)...)
}

func FuzzProjectCreateForm(f *testing.F) {
	fuzzForm(f, "POST /projects", true, append(seedsWith("name=shop", "name"),
		"name=default", "name=", "name=+shop+", "name="+strings.Repeat("a", 65), "name=sh%C3%B6p", "name=%EF%BD%93hop",
		"name=a%00b", "name=shop&name=blog", "name=..", "name=%3Cscript%3E",
	)...)
}

func FuzzProjectRenameForm(f *testing.F) {
	fuzzForm(f, "POST /projects/rename", true, append(seedsWith("project=default&ref={{ref}}&name=store", "project", "ref", "name"),
		"project=default&ref={{ref}}&name=default", "project=default&ref={{ref}}&name=", "project=default&ref=0&name=x",
		"project=default&ref={{ref}}&name="+strings.Repeat("x", 5000), "project=nope&ref={{ref}}&name=x", "ref={{ref}}&name=x",
	)...)
}

func FuzzProjectOriginsForm(f *testing.F) {
	fuzzForm(f, "POST /projects/origins", true, append(seedsWith("project=default&ref={{ref}}&origins=https%3A%2F%2Fshop.example", "project", "ref", "origins"),
		"project=default&ref={{ref}}&origins=", "project=default&ref={{ref}}&origins=https%3A%2F%2FA.example%3A443%2F%0D%0Ahttp%3A%2F%2Flocalhost%3A3000",
		"project=default&ref={{ref}}&origins=javascript%3Aalert(1)", "project=default&ref={{ref}}&origins=https%3A%2F%2Fb%C3%BCcher.example",
		"project=default&ref={{ref}}&origins=https%3A%2F%2Fu%40a.example", "project=default&ref={{ref}}&origins=%2A",
	)...)
}

func FuzzKeyRotateForm(f *testing.F) {
	fuzzForm(f, "POST /projects/key/rotate", true, append(seedsWith("project=default&ref={{ref}}&key={{key}}&keep=24h", "project", "ref", "key", "keep"),
		"project=default&ref={{ref}}&key={{key}}&keep=revoke", "project=default&ref={{ref}}&key={{key}}&keep=0",
		"project=default&ref={{ref}}&key={{key}}&keep=168h", "project=default&ref={{ref}}&key={{key}}&keep=-1",
		"project=default&ref={{ref}}&key=&keep=24h", "project=default&ref={{ref}}&key={{oldkey}}&keep=24h",
		"project=default&ref={{ref}}&key={{key}}&keep=24h&keep=0",
	)...)
}

func FuzzKeyRevokeForm(f *testing.F) {
	fuzzForm(f, "POST /projects/key/revoke", true, append(seedsWith("project=default&ref={{ref}}&key={{oldkey}}", "project", "ref", "key"),
		"project=default&ref={{ref}}&key={{key}}", "project=default&ref={{ref}}&key=", "project=default&ref={{ref}}&key=pk_live_x",
	)...)
}

func FuzzProjectDeleteForm(f *testing.F) {
	fuzzForm(f, "POST /projects/delete", true, append(seedsWith("project=default&ref={{ref}}&confirm=default", "project", "ref", "confirm"),
		"project=default&ref={{ref}}&confirm=DEFAULT", "project=default&ref={{ref}}&confirm=", "project=default&ref=1-0&confirm=default",
	)...)
}

func FuzzLogoutForm(f *testing.F) {
	fuzzForm(f, "POST /logout", true, seedsWith("", "x")...)
}

func FuzzInviteForm(f *testing.F) {
	fuzzForm(f, "POST /admins/invite", true, append(seedsWith("email=cy%40example.com", "email"),
		"email=ada%40example.com", "email=ADA%40EXAMPLE.COM", "email=Cy+%3Ccy%40example.com%3E", "email=",
		"email=cy%40example.com&email=dee%40example.com", "email="+strings.Repeat("a", 300)+"%40example.com",
	)...)
}

func FuzzCancelInviteForm(f *testing.F) {
	fuzzForm(f, "POST /admins/invite/cancel", true, append(seedsWith("email=new%40example.com", "email"),
		"email=NEW%40example.com", "email=nobody%40example.com", "email=",
	)...)
}

func FuzzRemoveAdminForm(f *testing.F) {
	fuzzForm(f, "POST /admins/remove", true, append(seedsWith("email=bob%40example.com", "email"),
		"email=ada%40example.com", "email=BOB%40example.com", "email=nobody%40example.com", "email=",
		"email=bob%40example.com&email=ada%40example.com",
	)...)
}

func FuzzAcceptInviteForm(f *testing.F) {
	fuzzForm(f, "POST /invite", true, append(seedsWith("token={{invite}}&password={{password}}&confirm={{password}}", "token", "password", "confirm"),
		"token={{invite}}&password=short&confirm=short",
		"token={{invite}}&password={{password}}&confirm=other+other+other",
		"token={{invite}}x&password={{password}}&confirm={{password}}",
		"token=&password={{password}}&confirm={{password}}",
		"token={{invite}}&username=mallory%40example.com&password={{password}}&confirm={{password}}",
		"token={{token}}&password={{password}}&confirm={{password}}",
	)...)
}

// TestHugeFormsAreCut posts 16 MiB to every form route, signed in: each
// reads at most 64 KiB of it and answers without a 5xx (400 where the form
// is read, a redirect for sign-out, which reads none).
func TestHugeFormsAreCut(t *testing.T) {
	ff := newFormFuzzer(t, true)
	for _, p := range ff.e.Server.Routes() {
		if !strings.HasPrefix(p, "POST ") || strings.HasPrefix(p, "POST /events") {
			continue
		}
		in := &counter{r: io.LimitReader(repeat('a'), 16<<20)}
		w := ff.serve(http.MethodPost, strings.TrimPrefix(p, "POST "), "application/x-www-form-urlencoded", ff.cookie, in)
		if in.n > maxFormBody+1 {
			t.Errorf("%s read %d bytes of a 16 MiB form, want at most %d", p, in.n, maxFormBody+1)
		}
		if w.Code != http.StatusBadRequest && !(p == "POST /logout" && w.Code == http.StatusSeeOther) {
			t.Errorf("%s with a 16 MiB form = %d, want 400", p, w.Code)
		}
		ff.reset(t)
	}
}

// repeat is an endless reader of one byte.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}
