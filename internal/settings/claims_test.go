package settings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// Settings → Identity for signed claims: the Token schemes panel and its
// form, the overlap's per-secret counts and End overlap now, the token
// checker on JWTs, the hints for every reason. Each runs on PostgreSQL too.

func TestSchemesPanelOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestSchemesPanel) }
func TestSchemesFormOnPostgres(t *testing.T)  { storetest.OnPostgres(t, TestSchemesForm) }
func TestOverlapCountsAndEndOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestOverlapCountsAndEnd)
}
func TestCheckerDecodesJWTOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestCheckerDecodesJWT) }

// send posts one event to the server's ingestion endpoint.
func send(t *testing.T, e *dashtest.Env, event map[string]any) {
	t.Helper()
	event["publicKey"] = e.Project.PublicKey
	b, _ := json.Marshal(event)
	resp, err := http.Post(e.URL+"/events", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /events = %d", resp.StatusCode)
	}
}

func flush(t *testing.T, e *dashtest.Env) {
	t.Helper()
	if err := e.Writer.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func jwtFor(t *testing.T, e *dashtest.Env, s identity.Secret, user string, ttl time.Duration, traits string) string {
	t.Helper()
	now := e.Clock.Now()
	c := identity.JWTClaims{Subject: user, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	if traits != "" {
		c.Traits = json.RawMessage(traits)
	}
	tok, err := identity.SignJWT(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// choice returns the label text of the radio or option with value v in n.
func choice(n *html.Node, tag, v string) string {
	found := dashtest.Find(n, tag, "value", v)
	switch {
	case len(found) == 0:
		return ""
	case tag == "option":
		return dashtest.Text(found[0])
	}
	return dashtest.Text(found[0].Parent)
}

// TestSchemesPanel: the panel counts the last 24 hours' stored events by
// scheme, says for each choice how many verified events it would refuse,
// and each maximum lifetime how many JWTs; a project that saw no JWT is
// told to accept hmac_v1 only, one that did is not.
func TestSchemesPanel(t *testing.T) {
	e, c := signedIn(t)
	secret, _ := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))

	d := identityPage(t, c, "")
	panel := d.ByID("schemes")
	if panel == nil || d.ByID("schemes-recommend") == nil {
		t.Fatalf("a project without JWTs: no recommendation:\n%s", dashtest.Text(panel))
	}
	if got := choice(panel, "input", "hmac_v1"); !strings.Contains(got, "Recommended") {
		t.Errorf("the hmac_v1 only choice = %q, want it recommended", got)
	}

	for i := range 3 {
		send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": identity.Sign(secret, "u"), "messageId": fmt.Sprint("h", i)})
	}
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": identity.Sign(identity.NewSecret(), "u")})
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": jwtFor(t, e, secret, "u", 50*time.Minute, "")})
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": jwtFor(t, e, secret, "u", 20*time.Hour, "")})
	flush(t, e)

	d = identityPage(t, c, "")
	panel = d.ByID("schemes")
	if d.ByID("schemes-recommend") != nil || d.ByID("schemes-risk") == nil {
		t.Errorf("a project that uses JWTs: recommendation %v, risk note %v; want only the note", d.ByID("schemes-recommend") != nil, d.ByID("schemes-risk") != nil)
	}
	var usage []string
	for _, tr := range dashtest.Find(d.ByID("scheme-usage"), "tr")[1:] {
		usage = append(usage, rowCells(tr))
	}
	if got := strings.Join(usage, " | "); got != "hmac_v1 3 1 | JWT 2 0" {
		t.Errorf("usage rows = %q", got)
	}
	for v, want := range map[string]string{
		"hmac_v1,jwt": "The current setting.",
		"jwt":         "Would refuse 3 of the last 24 hours' 5 verified events (60.0%, every one with a verified hmac_v1 token).",
		"hmac_v1":     "Would refuse 2 of the last 24 hours' 5 verified events (40.0%, every one with a verified JWT).",
	} {
		if got := choice(panel, "input", v); !strings.Contains(got, want) {
			t.Errorf("choice %s = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[string]string{
		"0": "None", "15m": "15 minutes · would refuse 2 recent JWTs", "1h": "1 hour · would refuse 1 recent JWTs",
		"24h": "24 hours", "168h": "7 days",
	} {
		if got := choice(panel, "option", v); got != want {
			t.Errorf("lifetime option %s = %q, want %q", v, got, want)
		}
	}
	if sel := dashtest.Find(panel, "option", "selected", ""); len(sel) != 1 || dashtest.Attr(sel[0], "value") != "0" {
		t.Errorf("selected lifetime: %d options", len(sel))
	}
	if dashtest.Find(panel, "label", "for", "max-lifetime") == nil {
		t.Error("the lifetime select has no label")
	}
}

// TestSchemesForm: the form sets the schemes and lifetime through the
// manager (audited, in force for the next event), refuses what is not a
// setting with the panel's error and a 400, and says so when nothing
// changes without writing anything.
func TestSchemesForm(t *testing.T) {
	e, c := signedIn(t)
	secret, _ := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))
	ctx := context.Background()
	form := dashtest.FormValues(identityPage(t, c, "").Form("/settings/identity/schemes"))
	if form.Get("schemes") != "hmac_v1,jwt" || form.Get("project") != "default" {
		t.Fatalf("form values = %v", form)
	}
	form.Set("schemes", "jwt")
	form.Set("max_lifetime", "24h")
	r := c.Post("/settings/identity/schemes", form)
	if r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "#schemes") {
		t.Fatalf("POST schemes = %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
	st, _ := e.Store.IdentityState(ctx, e.Project.ID)
	if st.Schemes != identity.AcceptJWTOnly || st.MaxLifetime != 24*time.Hour {
		t.Errorf("stored %s, %s", st.Schemes, st.MaxLifetime)
	}
	kr, _ := e.Verifier.Keyring(ctx, e.Project.ID)
	if kr.Verify("u", identity.Sign(secret, "u"), e.Clock.Now()) != identity.UnsupportedScheme {
		t.Error("this server still accepts hmac_v1 after the change")
	}
	d := identityPage(t, c, "")
	if f := dashtest.Text(d.Find("div", "class", "flash")[0]); !strings.Contains(f, "JWTs only are accepted, with exp at most 24h ahead") {
		t.Errorf("flash = %q", f)
	}
	if got := dashtest.Text(d.ByID("schemes")); !strings.Contains(got, "Maximum JWT lifetime: 24h") || d.ByID("schemes-risk") == nil {
		t.Errorf("panel after the change = %q", got)
	}
	audit, _ := e.Store.AuditLog(ctx, 0, 10)
	if audit[0].Action != store.ActionSchemesSet || audit[0].Actor != admin || audit[0].IP == "" {
		t.Errorf("audit = %+v", audit[0])
	}

	// hmac_v1 only drops the lifetime; the same again changes nothing.
	form = url.Values{"project": {"default"}, "schemes": {"hmac_v1"}, "max_lifetime": {"1h"}}
	c.Post("/settings/identity/schemes", form)
	if st, _ := e.Store.IdentityState(ctx, e.Project.ID); st.Schemes != identity.AcceptHMACOnly || st.MaxLifetime != 0 {
		t.Errorf("after hmac_v1 only: %s, %s", st.Schemes, st.MaxLifetime)
	}
	n := len(auditOf(t, e, store.ActionSchemesSet))
	c.Post("/settings/identity/schemes", form)
	if f := dashtest.Text(identityPage(t, c, "").Find("div", "class", "flash")[0]); !strings.Contains(f, "Nothing changed") {
		t.Errorf("flash after the same setting = %q", f)
	}
	if got := len(auditOf(t, e, store.ActionSchemesSet)); got != n {
		t.Errorf("an unchanged setting was audited")
	}

	for _, bad := range []url.Values{
		{"project": {"default"}, "schemes": {"none"}},
		{"project": {"default"}, "schemes": {"jwt"}, "max_lifetime": {"30s"}},
		{"project": {"default"}, "schemes": {"jwt"}, "max_lifetime": {"forever"}},
		{"project": {"default"}, "schemes": {"jwt"}, "max_lifetime": {"-1h"}},
	} {
		r := c.Post("/settings/identity/schemes", bad)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%v = %d, want 400", bad, r.StatusCode)
			continue
		}
		if msg := dashtest.Text(r.Doc(t).ByID("schemes")); !strings.Contains(msg, "Choose which tokens") && !strings.Contains(msg, "between 1 minute and 365 days") {
			t.Errorf("%v: panel = %q, want the error", bad, msg)
		}
	}
	if st, _ := e.Store.IdentityState(ctx, e.Project.ID); st.Schemes != identity.AcceptHMACOnly {
		t.Errorf("a refused form changed the setting to %s", st.Schemes)
	}
}

func auditOf(t *testing.T, e *dashtest.Env, action string) []store.Audit {
	t.Helper()
	all, err := e.Store.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Audit
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

// TestOverlapCountsAndEnd: rotate with a 24 h overlap, sign events
// with both secrets; the page counts each secret's events (last hour,
// since the rotation, the last one's time); End overlap now asks, then
// stops the old secret at once (rotated_secret for its next event); a
// second post of the form, and one made before another rotation, end
// nothing.
func TestOverlapCountsAndEnd(t *testing.T) {
	e, c := signedIn(t)
	ctx := context.Background()
	v1, _ := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))
	if identityPage(t, c, "").ByID("overlap") != nil {
		t.Fatal("an overlap panel without an overlap")
	}
	e.Clock.Advance(time.Hour)
	confirm := c.Get("/settings/identity/rotate?project=default").Doc(t)
	if v := dashtest.FormValues(confirm.Form("/settings/identity/rotate")); v.Get("overlap") != "1h" {
		t.Errorf("the rotation's overlap checked by default = %q, want 1h (the CLI's default)", v.Get("overlap"))
	}
	rf := dashtest.FormValues(confirm.Form("/settings/identity/rotate"))
	rf.Set("overlap", "24h")
	v2, _ := identity.ParseSecret(newSecret(t, c.Post("/settings/identity/rotate", rf)))
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}})

	for i := range 3 {
		send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": identity.Sign(v1, "u"), "messageId": fmt.Sprint("o", i)})
	}
	e.Clock.Advance(2 * time.Minute)
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": jwtFor(t, e, v2, "u", time.Hour, "")})
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": identity.Sign(v2, "u")})
	flush(t, e)
	lastNew := e.Clock.Now()

	d := identityPage(t, c, "")
	if d.ByID("overlap") == nil {
		t.Fatal("no overlap panel during the overlap")
	}
	rowText := func(d *dashtest.Doc, v int) string {
		for _, tr := range dashtest.Find(d.ByID("secret-use"), "tr", "data-version", strconv.Itoa(v)) {
			return rowCells(tr)
		}
		return ""
	}
	if got, want := rowText(d, 2), "Current · v2 "+v2.Fingerprint()+" 2 "+lastNew.UTC().Format("2006-01-02 15:04:05 UTC"); got != want {
		t.Errorf("current secret's row = %q, want %q", got, want)
	}
	if got := rowText(d, 1); !strings.HasPrefix(got, "Previous · v1 "+v1.Fingerprint()+" 3 ") {
		t.Errorf("previous secret's row = %q, want 3 in the last hour", got)
	}
	if got := dashtest.Text(d.ByID("overlap")); !strings.Contains(got, "Both secrets verify until 2026-11-25 11:00:00 UTC. When the previous one verifies nothing") {
		t.Errorf("overlap panel = %q, want until when both verify", got)
	}
	if !strings.Contains(dashtest.Text(d.ByID("overlap")), "Old secret in use") {
		t.Errorf("overlap panel = %q", dashtest.Text(d.ByID("overlap")))
	}

	// An hour later the old secret is idle.
	e.Clock.Advance(61 * time.Minute)
	d = identityPage(t, c, "")
	if !strings.Contains(dashtest.Text(d.ByID("overlap")), "Old secret idle") || rowText(d, 1) != "Previous · v1 "+v1.Fingerprint()+" 0 "+lastNew.Add(-2*time.Minute).UTC().Format("2006-01-02 15:04:05 UTC") {
		t.Errorf("after an hour without it: %q / %q", dashtest.Text(d.ByID("overlap")), rowText(d, 1))
	}
	// Not yet idle again: a new event with the old secret, then end anyway.
	send(t, e, map[string]any{"type": "track", "event": "a", "userId": "u", "identityToken": identity.Sign(v1, "u")})
	flush(t, e)

	page := c.Get(dashtest.Attr(dashtest.Find(d.ByID("overlap"), "a")[0], "href"))
	if page.StatusCode != http.StatusOK {
		t.Fatalf("confirmation = %d", page.StatusCode)
	}
	pd := page.Doc(t)
	form := pd.Form("/settings/identity/end-overlap")
	if got := dashtest.Text(pd.Root); !strings.Contains(got, "stops verifying now instead of at 2026-11-25 11:00:00 UTC, on this server at once") {
		t.Errorf("confirmation page = %q", got)
	}
	if form == nil || !strings.Contains(dashtest.Text(pd.Root), "will fail with rotated_secret and be refused") {
		t.Fatalf("confirmation page = %q", dashtest.Text(pd.Root))
	}
	values := dashtest.FormValues(form)
	if values.Get("version") != "1" {
		t.Errorf("form version = %q, want 1", values.Get("version"))
	}
	r := c.Post("/settings/identity/end-overlap", values)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST end-overlap = %d", r.StatusCode)
	}
	d = identityPage(t, c, "")
	if f := dashtest.Text(d.Find("div", "class", "flash")[0]); !strings.Contains(f, "secret v1 no longer verifies") || d.ByID("overlap") != nil {
		t.Errorf("after ending: flash %q, overlap panel %v", f, d.ByID("overlap") != nil)
	}
	kr, _ := e.Verifier.Keyring(ctx, e.Project.ID)
	if got := kr.Verify("u", identity.Sign(v1, "u"), e.Clock.Now()); got != identity.RotatedSecret {
		t.Errorf("the old secret right after End overlap now: %s, want rotated_secret", got)
	}
	if ends := auditOf(t, e, store.ActionOverlapEnd); len(ends) != 1 || ends[0].Actor != admin {
		t.Errorf("overlap.end entries = %+v", ends)
	}

	// The same form again: nothing to end, said calmly.
	c.Post("/settings/identity/end-overlap", values)
	if f := dashtest.Text(identityPage(t, c, "").Find("div", "class", "flash")[0]); !strings.Contains(f, "had already ended") {
		t.Errorf("flash after a second post = %q", f)
	}
	if n := len(auditOf(t, e, store.ActionOverlapEnd)); n != 1 {
		t.Errorf("%d overlap.end entries after a second post", n)
	}
	if p := c.Get("/settings/identity/end-overlap?project=default"); p.Doc(t).Form("/settings/identity/end-overlap") != nil || !strings.Contains(p.Body, "No overlap is running") {
		t.Errorf("confirmation without an overlap offers a form")
	}
	// A form left open across another rotation does not end the new overlap.
	newSecret(t, rotate(t, c, "1h"))
	c.Post("/settings/identity/end-overlap", values) // made for v1; v2 is previous now
	if st, _ := e.Store.IdentityState(ctx, e.Project.ID); statusOf(st, 2) != identity.StatusPrevious {
		t.Errorf("a stale form ended v2's overlap")
	}
	if f := dashtest.Text(identityPage(t, c, "").Find("div", "class", "flash")[0]); !strings.Contains(f, "rotated again") {
		t.Errorf("flash after a stale form = %q", f)
	}
}

// facts reads a <dl> into its terms and their descriptions.
func facts(n *html.Node) map[string]string {
	m := map[string]string{}
	var term string
	for _, c := range dashtest.Find(n, "dl") {
		for x := c.FirstChild; x != nil; x = x.NextSibling {
			switch {
			case x.Type != html.ElementNode:
			case x.Data == "dt":
				term = dashtest.Text(x)
			case x.Data == "dd":
				m[term] = dashtest.Text(x)
			}
		}
	}
	return m
}

// rowCells is a table row's header and data cells' text, space separated.
func rowCells(tr *html.Node) string {
	var out []string
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.Data == "th" || c.Data == "td") {
			out = append(out, dashtest.Text(c))
		}
	}
	return strings.Join(out, " ")
}

func statusOf(st identity.State, version int) identity.KeyStatus {
	for _, k := range st.Keys {
		if k.Version == version {
			return k.Status
		}
	}
	return ""
}

// TestCheckerDecodesJWT: the token checker shows what a JWT says (sub, its
// times, its traits as text), verified or not, with the reason and its fix;
// never the secret; a token of 8 KiB is checked, a longer one is not.
func TestCheckerDecodesJWT(t *testing.T) {
	e, c := signedIn(t)
	raw := newSecret(t, rotate(t, c, "0"))
	secret, _ := identity.ParseSecret(raw)
	check := func(user, token string) *dashtest.Doc {
		t.Helper()
		r := c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {user}, "token": {token}})
		if r.StatusCode != http.StatusOK || strings.Contains(r.Body, raw) {
			t.Fatalf("check = %d (or the page holds the secret)", r.StatusCode)
		}
		return r.Doc(t)
	}
	tok := jwtFor(t, e, secret, "u_42", 90*time.Minute, `{"plan":"startup","mrr":99}`)
	d := check("u_42", tok)
	exp := e.Clock.Now().Add(90 * time.Minute).UTC().Format("2006-01-02 15:04:05 UTC")
	if v := text(d, "verdict"); !strings.Contains(v, "Verified. This JWT proves userId “u_42” for project default until "+exp+". Its traits win") {
		t.Errorf("verdict = %q", v)
	}
	claims := facts(d.ByID("checker-claims"))
	for k, want := range map[string]string{"alg": "HS256", "sub": "u_42", "exp": exp + " (in 90 minutes)", "nbf": "—",
		"iat": e.Clock.Now().UTC().Format("2006-01-02 15:04:05 UTC"), "traits": `{ "plan": "startup", "mrr": 99 }`} {
		if claims[k] != want {
			t.Errorf("claim %s = %q, want %q", k, claims[k], want)
		}
	}

	for _, tt := range []struct {
		name, user, token, reason, inClaims string
	}{
		{"expired", "u_42", jwtFor(t, e, secret, "u_42", -2*time.Hour, ""), "expired_token", "(2 hours ago)"},
		{"another user", "u_43", tok, "user_mismatch", "not verified"},
		{"forged", "u_42", jwtFor(t, e, identity.NewSecret(), "u_42", time.Hour, `{"plan":"enterprise"}`), "signature_mismatch", `"plan": "enterprise"`},
		{"alg none", "u_42", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1XzQyIn0.", "unsupported_scheme", "its header says alg none"},
		{"no exp", "u_42", jwtFor(t, e, secret, "u_42", 0, ""), "", "none: the token never expires"},
	} {
		if tt.name == "no exp" {
			tok, _ := identity.SignJWT(secret, identity.JWTClaims{Subject: "u_42"})
			tt.token = tok
		}
		d := check(tt.user, tt.token)
		v := text(d, "verdict")
		if tt.reason != "" && (!strings.Contains(v, tt.reason) || !strings.Contains(v, "Fix:")) {
			t.Errorf("%s: verdict %q, want %s with its fix", tt.name, v, tt.reason)
		}
		if got := text(d, "checker-claims"); !strings.Contains(strings.ToLower(got), strings.ToLower(tt.inClaims)) {
			t.Errorf("%s: claims %q, want %q", tt.name, got, tt.inClaims)
		}
	}
	// An hmac_v1 token shows no claims.
	if d := check("u_42", identity.Sign(secret, "u_42")); d.ByID("checker-claims") != nil {
		t.Error("claims shown for an hmac_v1 token")
	}
	// A JWT of 8 KiB (traits fill it) is checked; one byte more is refused unchecked.
	pad := strings.Repeat("x", identity.MaxTokenLength*3/4-200)
	big := jwtFor(t, e, secret, "u_42", time.Hour, `{"bio":"`+pad+`"}`)
	for len(big) < identity.MaxTokenLength {
		pad += "x"
		big = jwtFor(t, e, secret, "u_42", time.Hour, `{"bio":"`+pad+`"}`)
	}
	if len(big) == identity.MaxTokenLength {
		if v := text(check("u_42", big), "verdict"); !strings.HasPrefix(v, "Verified") {
			t.Errorf("an 8 KiB JWT: %q", v)
		}
	}
	if v := text(check("u_42", strings.Repeat("a", identity.MaxTokenLength+1)), "verdict"); !strings.Contains(v, "far longer than any real one") {
		t.Errorf("an oversized token: %q", v)
	}
}

// TestEveryReasonHasAFix: every reason has a fix hint in the dashboard and
// a section in docs/troubleshooting.md.
func TestEveryReasonHasAFix(t *testing.T) {
	doc, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range identity.Reasons {
		if !strings.Contains(string(doc), "### `"+r.String()+"`") {
			t.Errorf("docs/troubleshooting.md has no section for %s", r)
		}
	}
	// The hint table, through the page that shows it: a rejection of each
	// reason in Recent rejections.
	e, c := signedIn(t)
	var rs []store.RejectionRow
	for i, r := range identity.Reasons {
		rs = append(rs, store.RejectionRow{ProjectID: e.Project.ID, At: e.Clock.Now().Add(time.Duration(i) * time.Second), Endpoint: "/events",
			BatchIndex: -1, EventType: "identify", UserID: "u", Reason: r.String()})
	}
	if err := e.Store.WriteBatch(context.Background(), &store.Batch{Rejections: rs}, nil); err != nil {
		t.Fatal(err)
	}
	hints := map[string]string{}
	for _, tr := range rows(identityPage(t, c, "")) {
		reason := dashtest.Text(dashtest.Find(tr, "code", "class", "reason")[0])
		hints[reason] = dashtest.Text(dashtest.Find(tr, "span", "class", "hint")[0])
	}
	for _, r := range identity.Reasons {
		if h := hints[r.String()]; len(h) < 40 {
			t.Errorf("the fix hint for %s is %q", r, h)
		}
	}
}

func TestRotationPageOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestRotationPage) }

// TestRotationPage: the rotation page offers 1 hour first, says it is the
// CLI's default too, and explains the shared MAC while the project accepts
// both schemes; the page with the new secret shows the JWT snippets.
func TestRotationPage(t *testing.T) {
	e, c := signedIn(t)
	rotate(t, c, "0")
	d := c.Get("/settings/identity/rotate?project=default").Doc(t)
	if got := dashtest.FormValues(d.Form("/settings/identity/rotate")).Get("overlap"); got != "1h" {
		t.Errorf("checked overlap = %q, want 1h", got)
	}
	if got := text(d, "overlap-default"); !strings.Contains(got, "1 hour unless you choose otherwise, here and in sendora identity rotate") {
		t.Errorf("default note = %q", got)
	}
	if got := choice(d.Root, "input", "1h"); !strings.Contains(got, "1 hour (default)") {
		t.Errorf("the 1h choice = %q", got)
	}
	if d.ByID("rotate-shared-mac") == nil {
		t.Error("no note on the shared MAC while the project accepts both schemes")
	}
	shown := rotate(t, c, "1h").Doc(t)
	for _, id := range []string{"jwt-snippet-node", "jwt-snippet-go", "jwt-snippet-python"} {
		if shown.ByID(id) == nil {
			t.Errorf("no %s with the new secret", id)
		}
	}
	if err := e.Manager.SetSchemes(context.Background(), e.Project.ID, identity.AcceptHMACOnly, 0, identity.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if d := c.Get("/settings/identity/rotate?project=default").Doc(t); d.ByID("rotate-shared-mac") != nil {
		t.Error("the shared-MAC note shows for a project that accepts hmac_v1 only")
	}
}
