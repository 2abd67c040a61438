package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sendora/sendora/internal/identity"
)

// chromiumPath finds Debian's chromium (or Chrome). Without one the browser
// tests skip, unless SENDORA_BROWSER_TESTS=required (make test), when a
// missing browser fails them.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SENDORA_BROWSER_TESTS") == "required" {
		t.Fatal("browser tests are required (SENDORA_BROWSER_TESTS=required) but no chromium was found; run ./scripts/ensure-chromium")
	}
	t.Skip("no chromium on PATH; set SENDORA_BROWSER_TESTS=required to make this a failure")
	return ""
}

// browser starts a fresh headless Chromium for the test and returns its
// context. The deadline only stops a stuck run; nothing asserts on timing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// A reload of a POST result re-posts without a dialog, as a person
		// clicking "Continue" would.
		chromedp.Flag("disable-prompt-on-repost", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// consoleErrors collects the page's console errors and exceptions, which
// include every Content-Security-Policy violation.
func consoleErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var msgs []string
	seq := chromedp.Console(ctx)
	go func() {
		for m, err := range seq {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				msgs = append(msgs, string(m.Type)+": "+m.Text+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
}

func setupLinkFromLogs(t *testing.T, logs string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Link string `json:"setup_link"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Link != "" {
			return line.Link
		}
	}
	t.Fatalf("no setup link in the log:\n%s", logs)
	return ""
}

type shooter struct {
	t   *testing.T
	dir string
}

func newShooter(t *testing.T) *shooter {
	dir := os.Getenv("SENDORA_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shooter{t: t, dir: dir}
}

// shot saves a full-page PNG of the current page.
func (s *shooter) shot(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	s.save(name, png, err)
}

// viewport saves what the screen shows now.
func (s *shooter) viewport(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	s.save(name, png, err)
}

// element saves one element.
func (s *shooter) element(ctx context.Context, name, css string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(css)))
	s.save(name, png, err)
}

func (s *shooter) save(name string, png []byte, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", p)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	must(t, "text of "+css, err)
	return s
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
	must(t, "body text", err)
	return s
}

// submit clicks a submit button and waits for the page it leads to.
func submit(t *testing.T, ctx context.Context, css string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
	must(t, "submit "+css, err)
	return resp
}

func TestBrowserIdentityFlow(t *testing.T) {
	ctx := browser(t)
	errs := consoleErrors(ctx)
	shots := newShooter(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, nil, "--data", data)
	link := setupLinkFromLogs(t, srv.logs.String())

	// 1. The setup link creates the first admin and signs them in.
	must(t, "open setup link", chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("email"))))
	shots.shot(ctx, "01-setup")
	must(t, "fill setup", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
		chromedp.SendKeys(chromedp.ID("confirm"), "correct horse battery staple"),
	))
	resp := submit(t, ctx, "form[action='/setup'] button[type=submit]")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/settings/identity") || resp.Status != 200 {
		t.Fatalf("after setup: %s (%d), want the Identity page", loc, resp.Status)
	}
	if got := text(t, ctx, "#secret"); !strings.Contains(got, "No secret") {
		t.Errorf("secret panel = %q", got)
	}
	shots.shot(ctx, "02-identity-no-secret")
	publicKey := text(t, ctx, "#public-key")

	// 2. Rotate: confirm, then the secret is shown once.
	submit(t, ctx, "#secret a.button")
	shots.shot(ctx, "03-rotate-confirm")
	resp = submit(t, ctx, "form[action='/settings/identity/rotate'] button[type=submit]")
	if cc, _ := resp.Headers["Cache-Control"].(string); cc != "no-store" {
		t.Errorf("the page with the secret has Cache-Control %q, want no-store", cc)
	}
	secret := text(t, ctx, "#new-secret")
	if !strings.HasPrefix(secret, "sis_") || len(secret) < 36 {
		t.Fatalf("new secret = %q", secret)
	}
	// The copy button is there because the script ran (it is hidden without it).
	must(t, "copy button shown by the script", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("button[data-copy=new-secret]"))))
	if env := text(t, ctx, "#env-line"); env != "SENDORA_IDENTITY_SECRET="+secret {
		t.Errorf("env line = %q", env)
	}
	shots.shot(ctx, "04-new-secret")
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.url}})
	must(t, "read cookies", err)
	for _, c := range cookies.Cookies {
		if strings.Contains(c.Value, secret) || strings.Contains(c.Name, secret) {
			t.Errorf("cookie %s holds the secret", c.Name)
		}
		if c.Name == "sendora_session" && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteLax) {
			t.Errorf("session cookie: HttpOnly=%v SameSite=%s", c.HTTPOnly, c.SameSite)
		}
	}

	// 3. A reload re-posts the form; nothing rotates and no secret shows.
	_, err = chromedp.RunResponse(ctx, chromedp.Reload())
	must(t, "reload", err)
	body := bodyText(t, ctx)
	if strings.Contains(body, secret) || strings.Contains(body, "sis_") {
		t.Errorf("the secret is still on the page after a reload")
	}
	if !strings.Contains(body, "Nothing was rotated") {
		t.Errorf("after the reload the page does not say that nothing was rotated:\n%s", body)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, "sis_") || !strings.Contains(loc, "/settings/identity") {
		t.Errorf("location after reload = %s", loc)
	}
	if got := text(t, ctx, "#secret"); !strings.Contains(got, "v1") {
		t.Errorf("status after reload = %q, want v1", got)
	}

	// Traffic before strict mode: signed events, unsigned ones and forged
	// ones. The page previews what strict mode would refuse.
	sec, err := identity.ParseSecret(secret)
	must(t, "parse secret", err)
	var events []map[string]any
	for i := range 30 {
		ev := map[string]any{"type": "track", "event": "Viewed Pricing", "userId": fmt.Sprintf("u_%d", i)}
		switch {
		case i < 20:
			ev["identityToken"] = identity.Sign(sec, fmt.Sprintf("u_%d", i))
		case i < 28: // no token
		default:
			ev["identityToken"] = "hmac_v1:" + strings.Repeat("1", 64)
		}
		events = append(events, ev)
	}
	batch, _ := json.Marshal(map[string]any{"publicKey": publicKey, "events": events})
	br, err := http.Post(srv.url+"/events/batch", "application/json", strings.NewReader(string(batch)))
	must(t, "post batch", err)
	bb, _ := io.ReadAll(br.Body)
	br.Body.Close()
	if br.StatusCode != http.StatusOK || !strings.Contains(string(bb), `"accepted":30`) {
		t.Fatalf("batch before strict mode = %d %s, want all 30 accepted", br.StatusCode, bb)
	}
	must(t, "identity page with traffic", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("strict-impact"))))
	if got := text(t, ctx, "#strict-impact"); !strings.Contains(got, "10 of 30 events (33.3%) would be rejected: 8 missing_token, 2 signature_mismatch") {
		t.Errorf("strict preview = %q", got)
	}
	shots.shot(ctx, "05-identity-preview")

	// The confirmation of a second rotation offers the overlap; leave it.
	must(t, "rotate confirmation with overlap", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity/rotate?project=default"),
		chromedp.WaitVisible(chromedp.CSS("input[name=overlap][value='1h']"))))
	shots.shot(ctx, "05b-rotate-overlap")
	must(t, "back to identity", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("strict"))))

	// 4. Strict on.
	submit(t, ctx, "#strict button[type=submit]")
	if got := text(t, ctx, "#strict"); !strings.Contains(got, "On · enforced") {
		t.Fatalf("strict panel after turning it on = %q", got)
	}

	// 5. A forged identify (a well-formed token under no secret of ours) is
	// refused, and shows up in Recent rejections by itself (live refresh).
	forged := fmt.Sprintf(`{"publicKey":%q,"type":"identify","userId":"u_victim","traits":{"plan":"enterprise"},"identityToken":"hmac_v1:%s"}`,
		publicKey, strings.Repeat("0", 64))
	r, err := http.Post(srv.url+"/events", "application/json", strings.NewReader(forged))
	must(t, "post forged event", err)
	rb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(string(rb), `"reason":"signature_mismatch"`) {
		t.Fatalf("forged event = %d %s, want 401 signature_mismatch", r.StatusCode, rb)
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#rejections-table tbody").innerText.includes("u_victim")`,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0)))
	must(t, "rejection appears without a reload", err)
	row := text(t, ctx, "#rejections-table tr[data-id]")
	for _, want := range []string{"/events", "identify", "u_victim", "signature_mismatch", "Enforced"} {
		if !strings.Contains(row, want) {
			t.Errorf("rejection row %q lacks %q", row, want)
		}
	}
	if strings.Contains(row, strings.Repeat("0", 64)) {
		t.Errorf("the rejection row shows the token")
	}
	if got := text(t, ctx, "#live-status"); !strings.Contains(got, "new rejection") {
		t.Errorf("live status = %q, want it to announce the new rejection", got)
	}
	shots.shot(ctx, "06-identity-strict-rejection")

	// 6. The token checker, by form post.
	must(t, "fill checker", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("check-user"), "u_victim"),
		chromedp.SendKeys(chromedp.ID("check-token"), "hmac_v1:"+strings.Repeat("0", 64)),
	))
	submit(t, ctx, "#checker button[type=submit]")
	if got := text(t, ctx, "#verdict"); !strings.Contains(got, "Not verified") || !strings.Contains(got, "signature_mismatch") {
		t.Errorf("checker verdict = %q", got)
	}

	// 7. A cross-site form posting to rotate is refused.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s/settings/identity/rotate">
<input type="hidden" name="project" value="default"><input type="hidden" name="version" value="1"><input type="hidden" name="overlap" value="0">
<button id="go" type="submit">Claim</button></form>`, srv.url)
	}))
	defer attacker.Close()
	au, _ := url.Parse(attacker.URL)
	evil := "http://localhost:" + au.Port() + "/" // another site than 127.0.0.1
	must(t, "open the attacker's page", chromedp.Do(ctx, chromedp.Navigate(evil), chromedp.WaitVisible(chromedp.ID("go"))))
	resp = submit(t, ctx, "#go")
	if resp.Status != http.StatusForbidden {
		t.Errorf("cross-site rotate = %d, want 403", resp.Status)
	}
	if body := bodyText(t, ctx); !strings.Contains(body, "came from another site") || strings.Contains(body, "sis_") {
		t.Errorf("cross-site rotate page:\n%s", body)
	}
	shots.shot(ctx, "07-cross-site-refused")
	must(t, "back to identity", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("secret"))))
	if got := text(t, ctx, "#secret"); !strings.Contains(got, "v1") || strings.Contains(got, "v2") {
		t.Errorf("after the cross-site post the secret changed: %q", got)
	}

	// 8. The audit log records it all, newest first.
	must(t, "audit page", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/audit"), chromedp.WaitVisible(chromedp.ID("audit-table"))))
	audit := text(t, ctx, "#audit-table tbody")
	for _, want := range []string{"Strict on", "Secret rotated", "Signed in", "Admin created"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, secret) {
		t.Errorf("the audit log shows the secret")
	}
	shots.shot(ctx, "08-audit")
	must(t, "account page", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/account"), chromedp.WaitVisible(chromedp.ID("current"))))
	shots.shot(ctx, "09-account")

	// 9. The same pages on a phone.
	must(t, "phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("rejections-table"))))
	shots.shot(ctx, "10-phone-identity")
	shots.viewport(ctx, "10a-phone-identity-top")
	shots.element(ctx, "10b-phone-chart", "#events")
	must(t, "scroll to rejections", chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.ID("rejections"))))
	shots.viewport(ctx, "10c-phone-rejections")
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	must(t, "page width", err)
	if width > 390 {
		t.Errorf("on a 390 px phone the page is %d px wide: it scrolls sideways", width)
	}
	must(t, "phone audit", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/audit"), chromedp.WaitVisible(chromedp.ID("audit-table"))))
	shots.shot(ctx, "11-phone-audit")
	must(t, "desktop viewport", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	// 10. Sign out; the dashboard is closed again.
	must(t, "identity page", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("secret"))))
	submit(t, ctx, ".who button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "You are signed out.") {
		t.Errorf("after sign-out:\n%s", got)
	}
	shots.shot(ctx, "12-login")
	must(t, "identity after sign-out", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("password"))))

	if strings.Contains(srv.logs.String(), secret) {
		t.Errorf("the server log holds the secret")
	}
	for _, m := range errs() {
		// The attacker's page and the refused request are expected noise.
		if strings.Contains(m, "localhost:"+au.Port()) || strings.Contains(m, "403") {
			continue
		}
		t.Errorf("browser console: %s", m)
	}
}

// TestBrowserWithoutJavaScript signs in, rotates, filters, checks a token
// and turns strict mode on with scripts disabled: every action is a plain
// form post. It also walks the first controls by keyboard.
func TestBrowserWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	shots := newShooter(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, nil, "--data", data)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	must(t, "disable scripts", err)

	must(t, "open login", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("email"))))
	must(t, "sign in", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
	))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/settings/identity") {
		t.Fatalf("after sign-in without JavaScript: %s", loc)
	}
	// Keyboard: on a freshly loaded page the first Tab reaches the skip
	// link, which shows a focus ring.
	must(t, "reload identity", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("secret"))))
	must(t, "tab", chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)))
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`document.activeElement.textContent.trim() + "|" + getComputedStyle(document.activeElement).outlineStyle`))
	must(t, "read focus", err)
	if focus != "Skip to content|solid" {
		t.Errorf("after one Tab: %q, want the skip link with a solid outline", focus)
	}
	// Without the script, the reason filter needs its button, and copy
	// buttons (which could not work) stay hidden.
	must(t, "filter button visible", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#rejections button[data-js-hide]"))))
	must(t, "copy button hidden", chromedp.Do(ctx, chromedp.WaitNotVisible(chromedp.CSS("button[data-copy=public-key]"))))
	shots.shot(ctx, "nojs-01-identity")

	submit(t, ctx, "#secret a.button")
	submit(t, ctx, "form[action='/settings/identity/rotate'] button[type=submit]")
	if s := text(t, ctx, "#new-secret"); !strings.HasPrefix(s, "sis_") {
		t.Fatalf("no secret after a rotation without JavaScript: %q", s)
	}
	shots.shot(ctx, "nojs-02-new-secret")
	submit(t, ctx, "a.button.primary") // back to Identity

	submit(t, ctx, "#strict button[type=submit]")
	if got := text(t, ctx, "#strict"); !strings.Contains(got, "On · enforced") {
		t.Errorf("strict without JavaScript: %q", got)
	}
	must(t, "choose a reason", chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("reason-filter"), "missing_token")))
	submit(t, ctx, "#rejections button[data-js-hide]")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "reason=missing_token") {
		t.Errorf("filter without JavaScript went to %s", loc)
	}
	must(t, "fill checker", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("check-user"), "u_1"),
		chromedp.SendKeys(chromedp.ID("check-token"), "nonsense"),
	))
	submit(t, ctx, "#checker button[type=submit]")
	if got := text(t, ctx, "#verdict"); !strings.Contains(got, "malformed_token") {
		t.Errorf("checker without JavaScript: %q", got)
	}
	submit(t, ctx, ".who button[type=submit]")
	if got := bodyText(t, ctx); !strings.Contains(got, "You are signed out.") {
		t.Errorf("sign-out without JavaScript:\n%s", got)
	}
}
