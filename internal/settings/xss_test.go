package settings_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/web/static"
)

// hostile are userIds an attacker can put in front of the admin: anyone
// with the public key (it ships to browsers) can post events, and refused
// ones are listed in Recent rejections.
var hostile = []string{
	`<script>window.__xss=1</script>`,
	`"><img src=x onerror=alert(1)>`,
	`' onmouseover='alert(1)' x='`,
	`</code></td></tr></tbody></table><script>alert(1)</script>`,
	`<svg/onload=alert(1)>`,
	`javascript:alert(1)`,
	`<a href="//evil.example/">click</a>`,
	`<style>body{display:none}</style>`,
	`<!-- <iframe src=//evil.example>`,
	`&lt;b&gt;not bold&lt;/b&gt;`,
	"u\u202egnp.exe",
	`{{7*7}} ${7*7} <%= 7*7 %>`,
}

// checkInert fails if the document has any script, handler, frame,
// image, style or link an attacker could have injected.
func checkInert(t *testing.T, what string, d *dashtest.Doc) {
	t.Helper()
	for _, n := range d.Find("") {
		switch n.Data {
		case "script":
			if dashtest.Attr(n, "src") != static.Path("app.js") || n.FirstChild != nil {
				t.Errorf("%s: an injected <script>", what)
			}
		case "img", "iframe", "object", "embed", "style", "base", "meta":
			if n.Data != "meta" || dashtest.HasAttr(n, "http-equiv") {
				t.Errorf("%s: an injected <%s>", what, n.Data)
			}
		case "a":
			if h := dashtest.Attr(n, "href"); strings.HasPrefix(h, "//") || strings.Contains(h, ":") {
				t.Errorf("%s: a link to %q", what, h)
			}
		}
		for _, a := range n.Attr {
			url := a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "formaction" || a.Key == "data-live-src"
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" || url && strings.Contains(strings.ToLower(a.Val), "javascript:") {
				t.Errorf("%s: <%s %s=%q>", what, n.Data, a.Key, a.Val)
			}
		}
	}
}

// TestHostileEventDataIsInert posts events whose userId and anonymousId
// are HTML, script and template payloads (strict off, so they are kept as
// report-only rejections, then on, so they are refused), and checks that
// the Identity page, the live fragment and the token checker show each
// one as text, exactly, and that none becomes markup.
func TestHostileEventDataIsInert(t *testing.T) {
	e, c := signedIn(t)
	post := func(ev map[string]any) {
		ev["publicKey"] = e.Project.PublicKey
		b, _ := json.Marshal(ev)
		resp, err := http.Post(e.URL+"/events", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Report-only (strict off): a forged identify per payload.
	for _, h := range hostile {
		post(map[string]any{"type": "identify", "userId": h, "identityToken": "hmac_v1:" + strings.Repeat("0", 64)})
	}
	rotate(t, c, "0")
	if r := c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("strict on = %d", r.StatusCode)
	}
	// Refused (strict on): an anonymous track per payload, its name too.
	for _, h := range hostile {
		post(map[string]any{"type": "track", "event": h, "anonymousId": h})
	}
	if err := e.Writer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/settings/identity", "/settings/identity/rejections?project=default"} {
		d := c.Get(path).Doc(t)
		checkInert(t, path, d)
		shown := map[string]int{}
		for _, tr := range rows(d) {
			for _, code := range dashtest.Find(tr, "code") {
				shown[dashtest.RawText(code)]++
			}
		}
		for _, h := range hostile {
			if shown[h] != 2 { // as the identify's userId and the track's anonymousId
				t.Errorf("%s: userId %q shown %d times as text, want it shown as is", path, h, shown[h])
			}
		}
	}

	// The checker echoes what was pasted, in an input and its verdict.
	for _, h := range hostile {
		r := c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {h}, "token": {h}})
		d := r.Doc(t)
		checkInert(t, "checker "+h, d)
		if got := dashtest.Attr(d.ByID("check-user"), "value"); got != h {
			t.Errorf("checker userId field = %q, want %q", got, h)
		}
	}
	// A project filter or reason named like markup only reaches error text.
	for _, q := range []string{"?project=" + url.QueryEscape(hostile[1]), "?reason=" + url.QueryEscape(hostile[0])} {
		checkInert(t, q, c.Get("/settings/identity"+q).Doc(t))
	}
}
