package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserHostileEventData: anyone with the public key (it ships to
// browsers) can put a userId in front of the admin through Recent
// rejections. In real Chromium, payloads that would run script if they
// became markup are posted as userIds and anonymousIds; the Identity page
// and its live refresh (which swaps the table in with innerHTML) show each
// one as text, no script runs, nothing is injected, and the console has no
// error (a CSP violation would be one).
func TestBrowserHostileEventData(t *testing.T) {
	ctx := browser(t)
	errs := consoleErrors(ctx)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, nil, "--data", data)
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"},
		"admin", "create", "--email", "ada@example.com", "--data", data); code != 0 {
		t.Fatalf("admin create: %s", errOut)
	}
	key := listProjects(t, nil, data)[0].PublicKey
	payloads := []string{
		`<img src=x onerror="window.__xss='img'">`,
		`<script>window.__xss='script'</script>`,
		`"><svg onload="window.__xss='svg'">`,
		`</code></td></tr></tbody></table><iframe srcdoc="<script>parent.__xss='iframe'</script>"></iframe>`,
		`<a href="javascript:window.__xss='link'" id=xsslink>x</a>`,
	}
	post := func(ev map[string]any) {
		ev["publicKey"] = key
		b, _ := json.Marshal(ev)
		if code, body := postJSON(t, srv.url+"/events", string(b)); code != 200 {
			t.Fatalf("event = %d %s", code, body)
		}
	}
	for _, p := range payloads {
		post(map[string]any{"type": "identify", "userId": p, "identityToken": "hmac_v1:" + strings.Repeat("0", 64)})
	}

	must(t, "open login", chromedp.Do(ctx, chromedp.Navigate(srv.url+"/settings/identity"), chromedp.WaitVisible(chromedp.ID("email"))))
	must(t, "sign in", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
	))
	submit(t, ctx, "form[action='/login'] button[type=submit]")
	must(t, "identity page", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("rejections-table"))))

	inert := func(when string, want []string) {
		t.Helper()
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("#rejections-table tbody code:not(.reason)")).map(c => c.textContent)`))
		must(t, "read the table", err)
		for _, p := range want {
			if !slices.Contains(shown, p) {
				t.Errorf("%s: %q is not shown as text; the table shows %q", when, p, shown)
			}
		}
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`String(window.__xss) + "|" + document.querySelectorAll("#rejections img, #rejections svg[onload], #rejections iframe, #rejections script, #xsslink").length`))
		must(t, "read the page state", err)
		if state != "undefined|0" {
			t.Errorf("%s: window.__xss and injected elements = %q, want undefined|0", when, state)
		}
	}
	inert("page", payloads)

	// The live refresh: a new rejection arrives and the script swaps the
	// fragment in (a visibility change refreshes at once).
	late := `<img src=x onerror="window.__xss='live'">late`
	post(map[string]any{"type": "track", "event": late, "anonymousId": late})
	must(t, "refresh", chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new Event("visibilitychange"))`)))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#rejections-table tbody").textContent.includes("late")`,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0)))
	must(t, "the live refresh shows the new rejection", err)
	inert("live refresh", append(payloads, late))

	for _, m := range errs() {
		t.Errorf("browser console: %s", m)
	}
}
