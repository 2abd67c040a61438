package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sendora/sendora/web/static/sdk"
)

// The browser SDK end to end: the real server (strict identity on) and
// real Chromium, driving pages served from another origin
// (http://localhost:PORT) than the server's (http://127.0.0.1:PORT), as a
// customer's site would.

// sdkEnv is a server with an identity secret, a page server on another
// origin, and what the tests need to sign tokens and read stored events.
type sdkEnv struct {
	t         *testing.T
	data      string
	secret    string
	publicKey string
	srv       *testServer
	addr      string // the server's host:port, kept across restarts

	mu    sync.Mutex
	pages map[string]string
	site  *httptest.Server
	// siteURL is the page server's origin as the browser reaches it.
	siteURL string
}

func newSDKEnv(t *testing.T, strict bool) *sdkEnv {
	t.Helper()
	e := &sdkEnv{t: t, data: filepath.Join(t.TempDir(), "data"), pages: map[string]string{}}
	startServer(t, nil, "--data", e.data).stop()
	out, errOut, code := runCLI(t, nil, "identity", "rotate", "--data", e.data)
	if code != 0 {
		t.Fatalf("identity rotate: %s", errOut)
	}
	e.secret = strings.TrimSpace(out)
	if strict {
		if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", e.data); code != 0 {
			t.Fatalf("identity strict on: %s", errOut)
		}
	}
	e.publicKey = listProjects(t, nil, e.data)[0].PublicKey
	e.srv = startServer(t, nil, "--data", e.data)
	e.addr = strings.TrimPrefix(e.srv.url, "http://")

	script, err := os.ReadFile("../../web/static/sdk/v1/sendora.js")
	must(t, "read the SDK build", err)
	e.site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path == "/sendora.js" { // a site hosting its own copy of the SDK
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(script)
			return
		}
		e.mu.Lock()
		html, ok := e.pages[r.URL.Path]
		e.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(e.site.Close)
	u, _ := url.Parse(e.site.URL)
	e.siteURL = "http://localhost:" + u.Port() // another origin than 127.0.0.1
	return e
}

// page serves html at path on the page server, with {{SERVER}},
// {{KEY}}, {{TOKEN:user}} (hmac_v1) and {{JWT:user}} filled in, and
// returns its URL.
func (e *sdkEnv) page(path, html string) string {
	e.t.Helper()
	html = strings.NewReplacer("{{SERVER}}", e.srv.url, "{{KEY}}", e.publicKey).Replace(html)
	html = regexp.MustCompile(`\{\{(TOKEN|JWT):([^}]+)\}\}`).ReplaceAllStringFunc(html, func(m string) string {
		kind, user, _ := strings.Cut(m[2:len(m)-2], ":")
		if kind == "JWT" {
			return e.sign(user, "--jwt")
		}
		return e.sign(user)
	})
	e.mu.Lock()
	e.pages[path] = html
	e.mu.Unlock()
	return e.siteURL + path
}

// sign makes the token for userID as a customer's backend does (an
// hmac_v1 token, or a JWT with "--jwt").
func (e *sdkEnv) sign(userID string, flags ...string) string {
	e.t.Helper()
	out, errOut, code := runCLI(e.t, map[string]string{"SENDORA_IDENTITY_SECRET": e.secret}, append([]string{"sign", "--user", userID}, flags...)...)
	if code != 0 {
		e.t.Fatalf("sign: %s", errOut)
	}
	return strings.TrimSpace(out)
}

// storedEvent is a line of `sendora events export`.
type storedEvent struct {
	MessageID    string          `json:"messageId"`
	Type         string          `json:"type"`
	Event        string          `json:"event"`
	UserID       string          `json:"userId"`
	AnonymousID  string          `json:"anonymousId"`
	Timestamp    time.Time       `json:"timestamp"`
	Verification string          `json:"verification"`
	Traits       json.RawMessage `json:"traits"`
	Properties   json.RawMessage `json:"properties"`
	Context      struct {
		Library struct{ Name, Version string } `json:"library"`
		Page    struct {
			URL, Path, Referrer, Title string
		} `json:"page"`
		UserAgent string `json:"userAgent"`
		Locale    string `json:"locale"`
		Timezone  string `json:"timezone"`
	} `json:"context"`
}

// export reads every stored event with the real CLI, while the server runs.
func (e *sdkEnv) export() []storedEvent {
	e.t.Helper()
	out, errOut, code := runCLI(e.t, nil, "events", "export", "--data", e.data)
	if code != 0 {
		e.t.Fatalf("events export: %s", errOut)
	}
	var evs []storedEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev storedEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			e.t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// waitStored polls the export until cond holds; the deadline only stops
// a stuck run.
func (e *sdkEnv) waitStored(what string, cond func([]storedEvent) bool) []storedEvent {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		evs := e.export()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s; stored: %d events", what, len(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restart starts the server again on the same address and data.
func (e *sdkEnv) restart() {
	e.t.Helper()
	e.srv = startServer(e.t, nil, "--data", e.data, "--addr", e.addr)
	if got := strings.TrimPrefix(e.srv.url, "http://"); got != e.addr {
		e.t.Fatalf("restarted on %s, want %s", got, e.addr)
	}
}

// flushResult is what sendora.flush() resolves with.
type flushResult struct {
	Accepted int         `json:"accepted"`
	Rejected []rejection `json:"rejected"`
	Queued   int         `json:"queued"`
}

type rejection struct {
	Event   map[string]any `json:"event"`
	Code    string         `json:"code"`
	Reason  string         `json:"reason"`
	Field   string         `json:"field"`
	Message string         `json:"message"`
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	must(t, "evaluate "+js, err)
	return v
}

// waitJS polls a JavaScript condition in the page.
func waitJS(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second)))
	must(t, "wait for "+cond, err)
}

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestBrowserSDKVerified loads the SDK from the server by its pinned,
// content-hashed URL with Subresource Integrity, identifies with a token
// the backend signed and tracks with strict identity on: every event is
// stored and verified. A forged token reaches onRejected with
// signature_mismatch and one console warning naming the fix; the 32 KiB
// limit agrees with the server's to the byte; the ES module build works
// from another origin too.
func TestBrowserSDKVerified(t *testing.T) {
	e := newSDKEnv(t, true)
	ctx := browser(t)
	console := consoleErrors(ctx)
	pinned := sdk.File("sendora.js")
	app := e.page("/app.html", `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop · Pricing</title>
<script src="{{SERVER}}`+pinned.Path+`" integrity="`+pinned.Integrity+`" crossorigin="anonymous"></script></head>
<body><h1>Pricing</h1><script>
window.rejected = [];
window.sendora = new Sendora({ publicKey: "{{KEY}}", debug: true, onRejected: (rs) => window.rejected.push(...rs) });
window.__SENDORA_IDENTITY_TOKEN__ = "{{TOKEN:u_123}}";
</script></body></html>`)
	must(t, "open the app", chromedp.Do(ctx, chromedp.Navigate(app)))
	waitJS(t, ctx, `typeof window.sendora == "object"`)

	// 1. Identify with the backend's token, then track and page: all verified.
	r := eval[flushResult](t, ctx, `
		sendora.identify("u_123", { email: "sam@acme.co", plan: "startup" }, { identityToken: window.__SENDORA_IDENTITY_TOKEN__ });
		sendora.track("Report Exported", { format: "csv" });
		sendora.page();
		sendora.flush()`)
	if r.Accepted != 3 || len(r.Rejected) != 0 || r.Queued != 0 {
		t.Fatalf("flush = %+v, want 3 accepted", r)
	}
	evs := e.export()
	if len(evs) != 3 {
		t.Fatalf("stored %d events, want 3", len(evs))
	}
	anon := eval[string](t, ctx, `sendora.anonymousId`)
	var ids []string
	for i, ev := range evs {
		if ev.UserID != "u_123" || ev.Verification != "verified" || ev.AnonymousID != anon {
			t.Errorf("event %d: userId %q, verification %q, anonymousId %q; want u_123, verified, %s", i, ev.UserID, ev.Verification, ev.AnonymousID, anon)
		}
		if !uuidv7.MatchString(ev.MessageID) {
			t.Errorf("event %d: messageId %q is not a UUIDv7", i, ev.MessageID)
		}
		ids = append(ids, ev.MessageID)
		c := ev.Context
		if c.Library.Name != "sdk-web" || c.Library.Version != "1.0.0" {
			t.Errorf("event %d: context.library = %+v", i, c.Library)
		}
		if c.Page.URL != app || c.Page.Path != "/app.html" || c.Page.Title != "Shop · Pricing" {
			t.Errorf("event %d: context.page = %+v", i, c.Page)
		}
		if !strings.Contains(c.UserAgent, "Chrome") || c.Locale == "" || c.Timezone == "" {
			t.Errorf("event %d: userAgent %q, locale %q, timezone %q", i, c.UserAgent, c.Locale, c.Timezone)
		}
		if d := time.Since(ev.Timestamp); d < 0 || d > time.Hour {
			t.Errorf("event %d: timestamp %s", i, ev.Timestamp)
		}
	}
	if ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Errorf("messageIds are not in order: %v", ids)
	}
	if got := []string{evs[0].Type, evs[1].Type, evs[1].Event, evs[2].Type}; strings.Join(got, ",") != "identify,track,Report Exported,page" {
		t.Errorf("stored %v", got)
	}
	if !strings.Contains(string(evs[0].Traits), `"plan":"startup"`) || !strings.Contains(string(evs[2].Properties), `"path":"/app.html"`) {
		t.Errorf("traits %s, page properties %s", evs[0].Traits, evs[2].Properties)
	}

	// 2. A forged token: refused, reported to onRejected with the reason,
	// and one console warning (debug) that names the fix.
	r = eval[flushResult](t, ctx, `
		sendora.identify("u_victim", { plan: "enterprise" }, { identityToken: "hmac_v1:" + "0".repeat(64) });
		sendora.track("Upgraded");
		sendora.flush()`)
	if r.Accepted != 0 || len(r.Rejected) != 2 {
		t.Fatalf("forged flush = %+v, want 2 rejected", r)
	}
	got := eval[[]rejection](t, ctx, `window.rejected`)
	if len(got) != 2 {
		t.Fatalf("onRejected got %d events, want 2", len(got))
	}
	for _, x := range got {
		if x.Code != "IDENTITY_UNVERIFIED" || x.Reason != "signature_mismatch" || x.Event["userId"] != "u_victim" {
			t.Errorf("onRejected got %+v", x)
		}
		if _, ok := x.Event["identityToken"]; ok {
			t.Errorf("onRejected's event carries the token")
		}
	}
	warnings := 0
	for _, m := range console() {
		if strings.Contains(m, "signature_mismatch") {
			warnings++
			if !strings.Contains(m, "Fix: sign this exact userId on your backend") {
				t.Errorf("the warning names no fix: %s", m)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d console warnings for signature_mismatch, want 1:\n%s", warnings, strings.Join(console(), "\n"))
	}
	for _, ev := range e.export() {
		if ev.UserID == "u_victim" {
			t.Errorf("a forged event was stored: %+v", ev)
		}
	}

	// 3. After reset(), no token rides along: strict identity refuses.
	r = eval[flushResult](t, ctx, `sendora.reset(); sendora.track("Logged Out Click"); sendora.flush()`)
	if len(r.Rejected) != 1 || r.Rejected[0].Reason != "missing_token" {
		t.Errorf("after reset: %+v, want missing_token", r)
	}
	if eval[string](t, ctx, `sendora.anonymousId`) == anon {
		t.Errorf("reset() kept the anonymousId")
	}

	// 4. The 32 KiB limit, to the byte: learn the event's size without its
	// padding from the SDK's refusal, then send one of exactly 32,767 bytes
	// (the most the server takes after the first event of a batch, which
	// counts its comma) and one a byte larger.
	sizes := eval[[]int](t, ctx, `
		sendora.identify("u_123", {}, { identityToken: window.__SENDORA_IDENTITY_TOKEN__ });
		window.rejected = [];
		sendora.track("Big", { pad: "x".repeat(40000) });
		const n = +window.rejected[0].message.match(/is (\d+) bytes/)[1];
		const fit = 32767 - (n - 40000);
		sendora.track("Big", { pad: "x".repeat(fit) });
		sendora.track("Big", { pad: "x".repeat(fit + 1) });
		[n, fit, window.rejected.length]`)
	if sizes[2] != 2 {
		t.Fatalf("refused %d oversized events, want 2 (the 40,000-byte pad and the 32,768-byte event)", sizes[2])
	}
	r = eval[flushResult](t, ctx, `sendora.flush()`)
	if r.Accepted != 2 || len(r.Rejected) != 0 {
		t.Errorf("flush with a 32,767-byte event second in the batch = %+v, want identify and it accepted", r)
	}
	big := 0
	for _, ev := range e.export() {
		if ev.Event == "Big" {
			big++
			var p struct{ Pad string }
			json.Unmarshal(ev.Properties, &p)
			if len(p.Pad) != sizes[1] {
				t.Errorf("stored a Big event with a %d-byte pad, want %d", len(p.Pad), sizes[1])
			}
		}
	}
	if big != 1 {
		t.Errorf("stored %d Big events, want 1", big)
	}
	for _, m := range console() {
		if strings.Contains(m, "PAYLOAD_TOO_LARGE") && !strings.Contains(m, "Fix: keep each event under 32 KiB") {
			t.Errorf("the size warning names no fix: %s", m)
		}
	}

	// 4b. What the server refuses by its own rules reaches onRejected with
	// the field (properties nested deeper than 32 levels); a string cut
	// inside an emoji, which the server would refuse, is sent repaired.
	r = eval[flushResult](t, ctx, `
		let deep = {};
		for (let i = 0; i < 40; i++) deep = { deep };
		sendora.track("Too Deep", deep);
		sendora.track("Cut Title", { title: "Party 🎉".slice(0, 7) });
		sendora.flush()`)
	if r.Accepted != 1 || len(r.Rejected) != 1 || r.Rejected[0].Code != "INVALID_EVENT" || r.Rejected[0].Field != "properties" || r.Rejected[0].Event["event"] != "Too Deep" {
		t.Errorf("deep and cut events: %+v, want the deep one refused (INVALID_EVENT, properties) and the cut one stored", r)
	}
	for _, ev := range e.export() {
		if ev.Event == "Cut Title" && string(ev.Properties) != `{"title":"Party \ufffd"}` && string(ev.Properties) != "{\"title\":\"Party \uFFFD\"}" {
			t.Errorf("the cut title was stored as %s", ev.Properties)
		}
	}

	// 5. The ES module build, imported from the server by another origin;
	// its endpoint defaults to where it was loaded from. This user's token
	// is a JWT: the SDK passes any token through as it is.
	mod := e.page("/module.html", `<!doctype html><title>Module</title><script type="module">
import Sendora from "{{SERVER}}/sdk/v1/sendora.mjs";
const s = new Sendora({ publicKey: "{{KEY}}" });
s.identify("u_mod", { plan: "pro" }, { identityToken: "{{JWT:u_mod}}" });
s.track("Module Loaded");
window.result = await s.flush();
</script>`)
	must(t, "open the module page", chromedp.Do(ctx, chromedp.Navigate(mod)))
	waitJS(t, ctx, `window.result !== undefined`)
	if r := eval[flushResult](t, ctx, `window.result`); r.Accepted != 2 {
		t.Errorf("module page flush = %+v, want 2 accepted", r)
	}
	n := 0
	for _, ev := range e.export() {
		if ev.UserID == "u_mod" && ev.Verification == "verified" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("stored %d verified events of the module page, want 2", n)
	}
	for _, m := range console() {
		if strings.Contains(m, "signature_mismatch") || strings.Contains(m, "missing_token") || strings.Contains(m, "PAYLOAD_TOO_LARGE") || strings.Contains(m, "INVALID_EVENT") {
			continue // the refusals this test made on purpose
		}
		t.Errorf("browser console: %s", m)
	}
}

// loopPage tracks a numbered event every few milliseconds, counting in
// sessionStorage (which survives a reload) until the count reaches
// sessionStorage.stopAt, so the test knows every event the pages made.
const loopPage = `<!doctype html><title>Loop</title><script src="/sendora.js"></script><script>
window.sendora = new Sendora({ publicKey: "{{KEY}}", endpoint: "{{SERVER}}", flushAt: 5, flushInterval: 200 });
sendora.identify("u_loop", {}, { identityToken: "{{TOKEN:u_loop}}" });
setInterval(() => {
  const n = (+sessionStorage.n || 0) + 1;
  if (sessionStorage.stopAt && n > +sessionStorage.stopAt) return;
  sessionStorage.n = n;
  sendora.track("Tick", { n });
}, 15);
</script>`

// ticks returns how often each n of the Tick events is stored.
func ticks(t *testing.T, evs []storedEvent) map[int]int {
	seen := map[int]int{}
	for _, ev := range evs {
		if ev.Event != "Tick" {
			continue
		}
		var p struct{ N int }
		if err := json.Unmarshal(ev.Properties, &p); err != nil {
			t.Fatalf("Tick properties %s: %v", ev.Properties, err)
		}
		if ev.Verification != "verified" {
			t.Errorf("Tick %d: %s", p.N, ev.Verification)
		}
		seen[p.N]++
	}
	return seen
}

// flakyProxy stands between the browser and the server. While dropping,
// it forwards each request and lets the server answer, then cuts the
// connection before the answer reaches the browser: the events are stored
// and the SDK never hears so. When the server is down it answers 502
// without CORS headers, as a load balancer would.
type flakyProxy struct {
	*httptest.Server
	mu       sync.Mutex
	dropping bool
	dropped  int
	slow     bool
	inflight int
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	u, err := url.Parse(target)
	must(t, "parse target", err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &flakyProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		drop := p.dropping && r.Method == http.MethodPost
		if drop {
			p.dropped++
		}
		slow := p.slow && r.Method == http.MethodPost
		p.inflight++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inflight--
			p.mu.Unlock()
		}()
		if slow { // a slow network: the request is still on its way when the page goes
			time.Sleep(300 * time.Millisecond)
		}
		if !drop {
			rp.ServeHTTP(w, r)
			return
		}
		rp.ServeHTTP(httptest.NewRecorder(), r) // the server stores and answers...
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // ...and the answer is lost
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *flakyProxy) setSlow(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slow = on
}

// waitInflight waits until a request is on its way through the proxy.
func (p *flakyProxy) waitInflight(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		p.mu.Lock()
		n := p.inflight
		p.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting for a request in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *flakyProxy) drop(on bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropping = on
	return p.dropped
}

// TestBrowserSDKOutage sends events through a flaky network and an
// outage: a reload while events wait (the closing page's keepalive request
// lands, and the next page sends the same events again), a reload while a
// request is on its way, answers lost
// after the server stored the events, the server stopped in the middle of
// the traffic, a reload while it is down, and the server started again.
// Every event the pages made is stored exactly once.
func TestBrowserSDKOutage(t *testing.T) {
	e := newSDKEnv(t, true)
	proxy := newFlakyProxy(t, e.srv.url)
	ctx := browser(t)
	loop := e.page("/loop.html", strings.ReplaceAll(loopPage, "{{SERVER}}", proxy.URL))
	made := func() int { return eval[int](t, ctx, `+sessionStorage.n`) }
	must(t, "open the loop page", chromedp.Do(ctx, chromedp.Navigate(loop)))
	e.waitStored("the first ticks", func(evs []storedEvent) bool { return len(ticks(t, evs)) >= 20 })

	// A reload while the server is up.
	must(t, "reload", chromedp.Do(ctx, chromedp.Navigate(loop)))
	waitJS(t, ctx, fmt.Sprintf(`+sessionStorage.n >= %d`, made()+20))
	// A reload in the middle of a send: the page goes while its request is
	// on the way (the browser cancels it; the closing page's keepalive
	// request and the next page both send those events again).
	proxy.setSlow(true)
	proxy.waitInflight(t)
	must(t, "reload mid-flush", chromedp.Do(ctx, chromedp.Navigate(loop)))
	proxy.setSlow(false)
	waitJS(t, ctx, fmt.Sprintf(`+sessionStorage.n >= %d`, made()+20))

	// Answers are lost: the server stores, the SDK retries.
	proxy.drop(true)
	waitJS(t, ctx, fmt.Sprintf(`+sessionStorage.n >= %d`, made()+30))
	// The server goes down in the middle of the traffic.
	must(t, "stop the server", e.srv.stop())
	dropped := proxy.drop(false)
	down := made()
	waitJS(t, ctx, fmt.Sprintf(`+sessionStorage.n >= %d`, down+40))
	// A reload while it is down: the closing page hands its queue over.
	must(t, "reload while down", chromedp.Do(ctx, chromedp.Navigate(loop)))
	total := made() + 40
	eval[int](t, ctx, fmt.Sprintf(`sessionStorage.stopAt = %d`, total))
	waitJS(t, ctx, fmt.Sprintf(`+sessionStorage.n == %d`, total))
	t.Logf("made %d ticks; %d requests had their answers dropped; %d ticks made while the server was down", total, dropped, total-down)
	if dropped == 0 {
		t.Fatalf("no answer was dropped: the test did not test lost answers")
	}

	e.restart()
	evs := e.waitStored("every tick", func(evs []storedEvent) bool { return len(ticks(t, evs)) >= total })
	seen := ticks(t, evs)
	for n := 1; n <= total; n++ {
		if seen[n] != 1 {
			t.Errorf("Tick %d stored %d times, want once", n, seen[n])
		}
	}
	if len(seen) != total {
		t.Errorf("stored %d distinct ticks, want %d", len(seen), total)
	}
	waitJS(t, ctx, `Object.keys(localStorage).filter(k => k.includes(":q:")).length == 0`)
	if got := eval[int](t, ctx, `localStorage.length`); got != 2 {
		t.Errorf("localStorage holds %d keys after delivery, want the anonymousId and the user", got)
	}
}

// TestBrowserSDKPagehide leaves a page whose events wait (a long flush
// interval) for one without the SDK, and closes a tab with waiting events:
// pagehide sends them with keepalive, with no later page to adopt them.
func TestBrowserSDKPagehide(t *testing.T) {
	e := newSDKEnv(t, true)
	ctx := browser(t)
	waiting := e.page("/wait.html", `<!doctype html><title>Wait</title><script src="/sendora.js"></script><script>
window.sendora = new Sendora({ publicKey: "{{KEY}}", endpoint: "{{SERVER}}", flushAt: 100, flushInterval: 600000 });
sendora.identify("u_hide", {}, { identityToken: "{{TOKEN:u_hide}}" });
const tag = new URLSearchParams(location.search).get("tag");
for (let i = 0; i < 3; i++) sendora.track("Waiting", { tag, i });
window.made = true;
</script>`)
	e.page("/plain.html", `<!doctype html><title>No SDK here</title><p>bye</p>`)

	must(t, "open the waiting page", chromedp.Do(ctx, chromedp.Navigate(waiting+"?tag=navigated")))
	waitJS(t, ctx, `window.made === true`)
	if n := len(e.export()); n != 0 {
		t.Fatalf("%d events stored before leaving the page, want none (they wait)", n)
	}
	must(t, "leave the page", chromedp.Do(ctx, chromedp.Navigate(e.siteURL+"/plain.html")))
	tagged := func(tag string) func([]storedEvent) bool {
		return func(evs []storedEvent) bool {
			n := 0
			for _, ev := range evs {
				if strings.Contains(string(ev.Properties), `"tag":"`+tag+`"`) && ev.Verification == "verified" {
					n++
				}
			}
			return n == 3
		}
	}
	e.waitStored("the navigated page's events", tagged("navigated"))

	// A second tab with waiting events, closed.
	tab, closeTab := chromedp.NewContext(ctx)
	must(t, "open a tab", chromedp.Do(tab, chromedp.Navigate(waiting+"?tag=closed")))
	waitJS(t, tab, `window.made === true`)
	if err := chromedp.Cancel(tab); err != nil {
		t.Fatalf("close the tab: %v", err)
	}
	closeTab()
	e.waitStored("the closed tab's events", tagged("closed"))
}

// TestBrowserSDKTwoTabs runs the SDK in two tabs of one site while the
// server is down. Each keeps its own queue; when one tab closes, the other
// adopts what it left; when the server is back, every event of both tabs
// is stored exactly once.
func TestBrowserSDKTwoTabs(t *testing.T) {
	e := newSDKEnv(t, true)
	ctx := browser(t)
	tabPage := e.page("/tab.html", `<!doctype html><title>Tab</title><script src="/sendora.js"></script><script>
window.sendora = new Sendora({ publicKey: "{{KEY}}", endpoint: "{{SERVER}}", flushAt: 5, flushInterval: 200 });
sendora.identify("u_tabs", {}, { identityToken: "{{TOKEN:u_tabs}}" });
window.track = (tab, count) => { for (let i = 0; i < count; i++) sendora.track("Tab Event", { n: tab * 1000 + i }); };
</script>`)
	must(t, "stop the server", e.srv.stop())

	// The first tab is the browser's own; the second is a new one.
	must(t, "open tab 1", chromedp.Do(ctx, chromedp.Navigate(tabPage)))
	tab2, cancel2 := chromedp.NewContext(ctx)
	defer cancel2()
	must(t, "open tab 2", chromedp.Do(tab2, chromedp.Navigate(tabPage)))
	waitJS(t, ctx, `typeof window.track == "function"`)
	waitJS(t, tab2, `typeof window.track == "function"`)
	eval[any](t, ctx, `track(1, 30)`)
	eval[any](t, tab2, `track(2, 30)`)
	// Both queues are in localStorage, each under its own tab's record.
	waitJS(t, ctx, `Object.keys(localStorage).filter(k => k.includes(":q:")).length == 2`)
	own := func(c context.Context) int {
		return eval[int](t, c, `sendora.flush().then(r => r.queued)`)
	}
	if a, b := own(ctx), own(tab2); a != 31 || b != 31 {
		t.Errorf("queued %d and %d events, want each tab's own 31 (an identify and 30 tracks)", a, b)
	}

	// Tab 2 closes: tab 1 adopts its record.
	if err := chromedp.Cancel(tab2); err != nil {
		t.Fatalf("close tab 2: %v", err)
	}
	waitJS(t, ctx, `Object.keys(localStorage).filter(k => k.includes(":q:")).length == 1`)
	if a := own(ctx); a != 62 {
		t.Errorf("after tab 2 closed, tab 1 holds %d events, want 62", a)
	}

	e.restart()
	evs := e.waitStored("both tabs' events", func(evs []storedEvent) bool { return len(evs) >= 62 })
	seen := map[string]int{}
	for _, ev := range evs {
		seen[ev.Type+" "+string(ev.Properties)]++
		if ev.Verification != "verified" {
			t.Errorf("%s %s: %s", ev.Type, ev.Properties, ev.Verification)
		}
	}
	if len(evs) != 62 {
		t.Errorf("stored %d events, want 62", len(evs))
	}
	for k, n := range seen {
		if n != 1 && !strings.HasPrefix(k, "identify") {
			t.Errorf("%s stored %d times", k, n)
		}
	}
}

// TestBrowserInstallPanel signs in, reads the Install panel on the
// Identity page (screenshots at desktop and phone widths), pastes its
// snippets into a page of another site, as a customer would, and checks
// that page's events are stored and verified.
func TestBrowserInstallPanel(t *testing.T) {
	e := newSDKEnv(t, true)
	const password = "correct horse battery staple"
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": password}, "admin", "create", "--email", "ada@example.com", "--data", e.data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	ctx := browser(t)
	console := consoleErrors(ctx)
	shots := newShooter(t)
	must(t, "open login", chromedp.Do(ctx, chromedp.Navigate(e.srv.url+"/login"), chromedp.WaitVisible(chromedp.ID("email"))))
	must(t, "sign in", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
	))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
	must(t, "identity page", chromedp.Do(ctx, chromedp.Navigate(e.srv.url+"/settings/identity#install"),
		chromedp.WaitVisible(chromedp.CSS("button[data-copy=install-script]")))) // shown by the page's script
	shots.element(ctx, "install-desktop", "#install")

	must(t, "phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(e.srv.url+"/settings/identity#install"), chromedp.WaitVisible(chromedp.ID("install"))))
	shots.element(ctx, "install-phone", "#install")
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("on a 390 px phone the page is %d px wide: the Install panel makes it scroll sideways", w)
	}
	must(t, "desktop viewport", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	tags := text(t, ctx, "#install-script")
	identify := text(t, ctx, "#install-identify")
	events := text(t, ctx, "#install-events")
	identify = strings.NewReplacer(`"u_123"`, `"u_pasted"`, `"hmac_v1:…"`, `"`+e.sign("u_pasted")+`"`).Replace(identify)
	pasted := e.page("/pasted.html", `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pasted</title>
`+tags+`</head><body>`+identify+`<script>
`+events+`
sendora.flush().then((r) => (window.result = r));
</script></body></html>`)
	must(t, "open the pasted page", chromedp.Do(ctx, chromedp.Navigate(pasted)))
	waitJS(t, ctx, `window.result !== undefined`)
	if r := eval[flushResult](t, ctx, `window.result`); r.Accepted != 3 || len(r.Rejected) != 0 {
		t.Fatalf("the pasted snippets' flush = %+v, want identify, page and track accepted", r)
	}
	var got []string
	for _, ev := range e.export() {
		if ev.UserID == "u_pasted" && ev.Verification == "verified" {
			got = append(got, ev.Type)
		}
	}
	if strings.Join(got, ",") != "identify,page,track" {
		t.Errorf("stored verified events %v, want identify, page, track", got)
	}
	for _, m := range console() {
		t.Errorf("browser console: %s", m)
	}
}

// TestBrowserSDKStorage runs the SDK where localStorage fails: full to its
// quota (the site's own data filled it), and denied altogether (a
// sandboxed frame, where reading localStorage throws SecurityError, as
// when the user blocks site data). Events are still sent and stored.
func TestBrowserSDKStorage(t *testing.T) {
	e := newSDKEnv(t, true)
	ctx := browser(t)
	console := consoleErrors(ctx)
	full := e.page("/full.html", `<!doctype html><title>Full</title><script>
// The site's own data fills localStorage to the last byte it takes.
let chunk = "x".repeat(1 << 20), i = 0;
while (chunk.length) {
  try { localStorage.setItem("site-data-" + i++, chunk); } catch { chunk = chunk.slice(0, chunk.length >> 1); }
}
window.filled = localStorage.length;
</script><script src="/sendora.js"></script><script>
window.sendora = new Sendora({ publicKey: "{{KEY}}", endpoint: "{{SERVER}}", debug: true });
sendora.identify("u_full", {}, { identityToken: "{{TOKEN:u_full}}" });
for (let i = 0; i < 5; i++) sendora.track("Full", { i });
sendora.flush().then((r) => (window.result = r));
</script>`)
	must(t, "open the full page", chromedp.Do(ctx, chromedp.Navigate(full)))
	waitJS(t, ctx, `window.result !== undefined`)
	if r := eval[flushResult](t, ctx, `window.result`); r.Accepted != 6 {
		t.Errorf("with localStorage full: %+v, want 6 accepted", r)
	}
	warned := false
	for _, m := range console() {
		warned = warned || strings.Contains(m, "localStorage refuses writes")
	}
	if !warned {
		t.Errorf("no debug warning that localStorage refuses writes:\n%s", strings.Join(console(), "\n"))
	}
	eval[int](t, ctx, `localStorage.clear(), 0`)

	frame := e.page("/frame.html", `<!doctype html><title>Sandboxed</title>
<iframe id="f" sandbox="allow-scripts" srcdoc='<script src="`+e.siteURL+`/sendora.js"></script><script>
let denied = false;
try { localStorage.length; } catch (e) { denied = e.name; }
const s = new Sendora({ publicKey: "{{KEY}}", endpoint: "{{SERVER}}" });
s.identify("u_frame", {}, { identityToken: "{{TOKEN:u_frame}}" });
s.track("Framed");
s.flush().then((r) => parent.postMessage(JSON.stringify({ denied, r }), "*"));
</script>'></iframe>
<script>addEventListener("message", (m) => (window.result = JSON.parse(m.data)));</script>`)
	must(t, "open the sandboxed page", chromedp.Do(ctx, chromedp.Navigate(frame)))
	waitJS(t, ctx, `window.result !== undefined`)
	res := eval[struct {
		Denied string      `json:"denied"`
		R      flushResult `json:"r"`
	}](t, ctx, `window.result`)
	if res.Denied != "SecurityError" {
		t.Errorf("the frame's localStorage was not denied (%q): the test does not test that", res.Denied)
	}
	if res.R.Accepted != 2 {
		t.Errorf("without localStorage: %+v, want 2 accepted", res.R)
	}
	n := 0
	for _, ev := range e.export() {
		if (ev.UserID == "u_full" || ev.UserID == "u_frame") && ev.Verification == "verified" {
			n++
		}
	}
	if n != 8 {
		t.Errorf("stored %d verified events of the two pages, want 8", n)
	}
}
