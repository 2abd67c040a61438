// Package dashtest runs the whole HTTP server (dashboard and ingestion)
// over a fresh SQLite file with a settable clock, for handler tests; it
// also parses the HTML the dashboard answers with.
package dashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"golang.org/x/net/html"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/server"
	"github.com/sendora/sendora/internal/settings"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
	"github.com/sendora/sendora/internal/webui"
)

// Clock is the settable clock shared by every part of the server.
type Clock = fakeclock.Clock

// Logs collects the server's log output.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Reset forgets what was logged, for long runs (fuzzing) that would
// otherwise keep every line.
func (l *Logs) Reset() {
	l.mu.Lock()
	l.buf.Reset()
	l.mu.Unlock()
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Env is a running server.
type Env struct {
	T         testing.TB
	Sealer    *identity.Sealer
	URL       string
	Store     *store.Store
	Clock     *Clock
	Auth      *auth.Service
	Verifier  *identity.Verifier
	Manager   *identity.Manager
	Writer    *ingest.Writer
	Project   store.Project
	Logs      *Logs
	SetupLink string
	// Server is the assembled server; Handler its routes with middleware,
	// for tests (fuzzers) that call it in-process rather than over TCP.
	Server  *server.Server
	Handler http.Handler

	hs     *httptest.Server
	params auth.Params
}

// Start is 2026-11-24 10:00 UTC, the clock's first reading.
var Start = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// Options tune an Env.
type Options struct {
	Limits auth.Limits
	// TrustedProxies lets tests play a TLS-terminating proxy.
	TrustedProxies []string
	// Store and Sealer reuse another Env's database, as a restarted (or a
	// second) server would.
	Store  *store.Store
	Sealer *identity.Sealer
	Clock  *Clock
	// Params replace FastParams, for tests that need hashing to take as
	// long as in production.
	Params auth.Params
	// TLS serves over HTTPS (httptest's self-signed certificate, which
	// NewClient trusts), as a server with its own TLS listener would.
	TLS bool
}

// FastParams keep argon2id real but cheap, so tests under the race
// detector stay quick. Production uses auth.DefaultParams.
var FastParams = auth.Params{Memory: 64, Time: 1, Threads: 1}

// New starts the server on a fresh database holding the default project
// and no admin; SetupLink is the link it announced.
func New(t testing.TB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	st, sealer, clock := o.Store, o.Sealer, o.Clock
	if st == nil {
		st, sealer = storetest.New(t), storetest.Sealer()
	}
	if clock == nil {
		clock = fakeclock.New(Start)
	}
	logs := &Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ips, err := clientip.New(o.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.ProjectByName(ctx, store.DefaultProjectName)
	if err != nil {
		p = storetest.Project(t, st, store.DefaultProjectName)
	}

	verifier := identity.NewVerifier(st, sealer, identity.VerifierOptions{Now: clock.Now})
	manager := identity.NewManager(st, sealer, verifier)
	// As sendora serve does before it listens (StartIngest), the dedup
	// index, and with it its key in meta, is loaded now, not by the
	// writer's first idle tick in the middle of a test that compares the
	// database before and after a request. An empty batch loads it without
	// StartIngest's WAL checkpointer, which tests that close the store
	// themselves would close twice.
	if err := st.WriteBatch(ctx, &store.Batch{}, nil); err != nil {
		t.Fatal(err)
	}
	writer := ingest.NewWriter(st, ingest.WriterOptions{Now: clock.Now, Log: log})
	ui := webui.New(log, auth.ViewerEmail)
	if o.Params == (auth.Params{}) {
		o.Params = FastParams
	}
	a, err := auth.New(ctx, auth.Config{Log: log, Store: st, Sealer: sealer, ClientIP: ips, UI: ui, Now: clock.Now,
		Params: o.Params, HashConcurrency: 2, Limits: o.Limits})
	if err != nil {
		t.Fatal(err)
	}
	ing := ingest.NewHandler(ingest.Config{Log: log, Store: st, Verifier: verifier, Writer: writer, ClientIP: ips, Now: clock.Now})
	// As in the binary: a project change made in the dashboard applies to
	// this server's ingestion at once.
	sh := settings.NewHandler(settings.Config{Log: log, Store: st, Verifier: verifier, Manager: manager, Auth: a, UI: ui, ClientIP: ips, Now: clock.Now,
		ProjectsChanged: func(bool) { ing.InvalidateKeys() }})
	srv := server.New(server.Config{
		Log: log, ClientIP: ips,
		Ingest:    ing,
		Dashboard: &server.Dashboard{Auth: a, Settings: sh, UI: ui},
		Ready: func(ctx context.Context) error {
			return errors.Join(writer.Running(), st.Ping(ctx))
		},
	})
	handler := srv.Handler()
	var hs *httptest.Server
	if o.TLS {
		hs = httptest.NewTLSServer(handler)
	} else {
		hs = httptest.NewServer(handler)
	}
	t.Cleanup(func() {
		hs.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		writer.Close(cctx)
	})
	link, err := a.AnnounceSetup(ctx, hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{T: t, Sealer: sealer, URL: hs.URL, Store: st, Clock: clock, Auth: a, Verifier: verifier, Manager: manager, Writer: writer,
		Project: p, Logs: logs, SetupLink: link, Server: srv, Handler: handler, hs: hs, params: o.Params}
}

// Password is what CreateAdmin gives every admin.
const Password = "correct horse battery staple"

// CreateAdmin adds an admin directly (as the CLI does), hashing the
// password with the Env's parameters.
func (e *Env) CreateAdmin(email string) store.Admin {
	e.T.Helper()
	a, err := auth.CreateAdmin(context.Background(), e.Store, auth.NewHasher(e.params, 1), email, Password, "cli", e.Clock.Now())
	if err != nil {
		e.T.Fatal(err)
	}
	return a
}

// Client is a browser stand-in: it keeps cookies and does not follow
// redirects, so tests see every 303.
type Client struct {
	T      testing.TB
	Base   string
	Jar    *cookiejar.Jar
	HTTP   *http.Client
	Header http.Header // added to every request
}

// NewClient returns a client with an empty cookie jar.
func (e *Env) NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: e.T, Base: e.URL, Jar: jar, Header: http.Header{}, HTTP: &http.Client{
		Jar:           jar,
		Transport:     e.hs.Client().Transport, // trusts the test certificate under TLS
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// DecodeCookie decodes one of the dashboard's cookies with the keys the
// server keeps sealed in the database (as anyone holding the database and
// the master key could), so tests can see what a cookie really carries:
// the session cookie decodes to its values map, the known-device cookie
// (JSON) to a map[string]any.
func (e *Env) DecodeCookie(ck *http.Cookie) (map[string]any, error) {
	sealed, err := e.Store.Meta(context.Background(), "session_keys_v1")
	if err != nil {
		return nil, err
	}
	keys, err := e.Sealer.Open("sendora/session-keys/v1", 0, sealed)
	if err != nil {
		return nil, err
	}
	codec := securecookie.New(keys[:64], keys[64:])
	out := map[string]any{}
	if ck.Name == auth.DeviceCookie {
		codec.SetSerializer(securecookie.JSONEncoder{})
		err := codec.Decode(ck.Name, ck.Value, &out)
		return out, err
	}
	vals := map[any]any{}
	if err := codec.Decode(ck.Name, ck.Value, &vals); err != nil {
		return nil, err
	}
	for k, v := range vals {
		out[fmt.Sprint(k)] = v
	}
	return out, nil
}

// Response is a finished response with its body read.
type Response struct {
	*http.Response
	Body string
}

// Doc parses the body as HTML.
func (r *Response) Doc(t testing.TB) *Doc {
	t.Helper()
	return Parse(t, r.Body)
}

func (c *Client) do(req *http.Request) *Response {
	c.T.Helper()
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Response: resp, Body: string(b)}
}

// Get fetches a path.
func (c *Client) Get(path string) *Response {
	c.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.Base+path, nil)
	return c.do(req)
}

// Post submits a form to a path; extra headers go with it.
func (c *Client) Post(path string, form url.Values, header ...string) *Response {
	c.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// Login signs in and fails the test unless it lands on the Identity page.
func (c *Client) Login(email, password string) {
	c.T.Helper()
	r := c.Post("/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/identity" {
		c.T.Fatalf("login %s: %d %s, want 303 to /settings/identity\n%s", email, r.StatusCode, r.Header.Get("Location"), r.Body)
	}
}

// Cookie returns the named cookie the jar would send to the server.
func (c *Client) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.Base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// Doc is a parsed HTML document.
type Doc struct {
	Root *html.Node
}

// Parse parses an HTML document.
func Parse(t testing.TB, s string) *Doc {
	t.Helper()
	n, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return &Doc{Root: n}
}

// Attr returns n's attribute, or "".
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// HasAttr reports whether n has the attribute.
func HasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// Find returns the elements under n with the tag ("" for any) whose
// attributes hold every key=value pair of attrs ("class" matches one of
// the element's classes).
func Find(n *html.Node, tag string, attrs ...string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (tag == "" || n.Data == tag) && matches(n, attrs) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func matches(n *html.Node, attrs []string) bool {
	for i := 0; i+1 < len(attrs); i += 2 {
		k, v := attrs[i], attrs[i+1]
		if k == "class" {
			found := false
			for _, c := range strings.Fields(Attr(n, "class")) {
				found = found || c == v
			}
			if !found {
				return false
			}
			continue
		}
		if !HasAttr(n, k) || Attr(n, k) != v {
			return false
		}
	}
	return true
}

// Find is Find on the whole document.
func (d *Doc) Find(tag string, attrs ...string) []*html.Node { return Find(d.Root, tag, attrs...) }

// ByID returns the element with the id, or nil.
func (d *Doc) ByID(id string) *html.Node {
	if ns := d.Find("", "id", id); len(ns) > 0 {
		return ns[0]
	}
	return nil
}

// Text returns n's text content with runs of white space collapsed.
func Text(n *html.Node) string {
	return strings.Join(strings.Fields(RawText(n)), " ")
}

// RawText is the text of n with its white space kept (for code blocks).
func RawText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// Form returns the form posting to action, or nil.
func (d *Doc) Form(action string) *html.Node {
	for _, f := range d.Find("form") {
		if a, _, _ := strings.Cut(Attr(f, "action"), "#"); a == action {
			return f
		}
	}
	return nil
}

// FormValues returns the values a browser would submit from the form's
// hidden and text inputs and checked radios (nothing for other controls).
func FormValues(form *html.Node) url.Values {
	v := url.Values{}
	for _, in := range Find(form, "input") {
		name := Attr(in, "name")
		if name == "" {
			continue
		}
		switch Attr(in, "type") {
		case "radio", "checkbox":
			if HasAttr(in, "checked") {
				v.Add(name, Attr(in, "value"))
			}
		default:
			v.Add(name, Attr(in, "value"))
		}
	}
	return v
}
