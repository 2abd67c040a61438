package settings_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

const admin = "ada@example.com"

func signedIn(t *testing.T) (*dashtest.Env, *dashtest.Client) {
	t.Helper()
	e := dashtest.New(t)
	e.CreateAdmin(admin)
	c := e.NewClient()
	c.Login(admin, dashtest.Password)
	return e, c
}

func identityPage(t *testing.T, c *dashtest.Client, query string) *dashtest.Doc {
	t.Helper()
	r := c.Get("/settings/identity" + query)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /settings/identity%s = %d\n%s", query, r.StatusCode, r.Body)
	}
	return r.Doc(t)
}

func text(d *dashtest.Doc, id string) string { return dashtest.Text(d.ByID(id)) }

// rotate goes through the confirmation page and posts its form with the
// overlap; it returns the response holding the new secret.
func rotate(t *testing.T, c *dashtest.Client, overlap string) *dashtest.Response {
	t.Helper()
	confirm := c.Get("/settings/identity/rotate?project=default")
	if confirm.StatusCode != http.StatusOK {
		t.Fatalf("rotate confirmation = %d", confirm.StatusCode)
	}
	form := confirm.Doc(t).Form("/settings/identity/rotate")
	if form == nil {
		t.Fatal("no rotate form")
	}
	v := dashtest.FormValues(form)
	if v.Get("overlap") != "0" { // a first secret has no overlap choice
		v.Set("overlap", overlap)
	}
	r := c.Post("/settings/identity/rotate", v)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("POST rotate = %d\n%s", r.StatusCode, r.Body)
	}
	return r
}

func newSecret(t *testing.T, r *dashtest.Response) string {
	t.Helper()
	s := dashtest.Text(r.Doc(t).ByID("new-secret"))
	if !strings.HasPrefix(s, identity.SecretPrefix) || len(s) < len(identity.SecretPrefix)+32 {
		t.Fatalf("new secret = %q, want sis_ and at least 32 characters", s)
	}
	return s
}

func TestNoSecretRefusesStrict(t *testing.T) {
	e, c := signedIn(t)
	d := identityPage(t, c, "")
	if got := text(d, "secret"); !strings.Contains(got, "No secret") {
		t.Errorf("secret panel = %q, want No secret", got)
	}
	on := d.Form("/settings/identity/strict")
	if btn := dashtest.Find(on, "button"); len(btn) != 1 || !dashtest.HasAttr(btn[0], "disabled") {
		t.Errorf("the strict-on button is not disabled without a secret")
	}
	// Posted anyway (JavaScript off, an old page, curl): refused, clearly.
	r := c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}})
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("strict on without a secret = %d, want 409", r.StatusCode)
	}
	if msg := dashtest.Text(r.Doc(t).ByID("strict")); !strings.Contains(msg, "no identity secret yet") || !strings.Contains(msg, "Rotate a secret first") {
		t.Errorf("refusal message = %q", msg)
	}
	p, _ := e.Store.Project(context.Background(), e.Project.ID)
	if p.Strict {
		t.Errorf("strict turned on without a secret")
	}
	rows, _ := e.Store.AuditLog(context.Background(), 0, 100)
	for _, a := range rows {
		if a.Action == store.ActionStrictOn {
			t.Errorf("a refused strict-on was audited as done")
		}
	}
}

func TestRotateShowsTheSecretOnce(t *testing.T) {
	e, c := signedIn(t)
	r := rotate(t, c, "0")
	secret := newSecret(t, r)

	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	d := r.Doc(t)
	if got := text(d, "env-line"); got != "SENDORA_IDENTITY_SECRET="+secret {
		t.Errorf("env line = %q", got)
	}
	for _, id := range []string{"snippet-node", "snippet-go", "snippet-python"} {
		if d.ByID(id) == nil {
			t.Errorf("no %s", id)
		}
	}
	// The Node snippet is DESIGN.md's reference signer, byte for byte.
	node := dashtest.RawText(d.ByID("snippet-node"))
	const reference = "import { createHmac } from \"node:crypto\";\nexport function signIdentity(userId: string) {\n" +
		"  const mac = createHmac(\"sha256\", process.env.SENDORA_IDENTITY_SECRET!).update(userId).digest(\"hex\");\n" +
		"  return `hmac_v1:${mac}`;\n}"
	if node != reference {
		t.Errorf("Node snippet =\n%s\nwant\n%s", node, reference)
	}
	copyButtons := d.Find("button", "data-copy", "new-secret")
	if len(copyButtons) != 1 {
		t.Errorf("no copy button for the secret")
	}

	// The secret appears nowhere but that response body.
	for _, h := range r.Header.Values("Set-Cookie") {
		if strings.Contains(h, secret) {
			t.Errorf("a cookie holds the secret")
		}
	}
	if loc := r.Header.Get("Location"); loc != "" {
		t.Errorf("the rotation redirected (%q): the secret must be in the response", loc)
	}
	page := c.Get("/settings/identity")
	if strings.Contains(page.Body, secret) {
		t.Errorf("the Identity page shows the secret after the rotation")
	}
	if strings.Contains(e.Logs.String(), secret) {
		t.Errorf("the log holds the secret")
	}
	rows, _ := e.Store.AuditLog(context.Background(), 0, 100)
	if rows[0].Action != store.ActionSecretRotate || rows[0].Actor != admin || strings.Contains(rows[0].Detail, secret) {
		t.Errorf("audit = %+v, want a rotation by %s without the secret", rows[0], admin)
	}

	// The status shows the new version and its fingerprint.
	parsed, _ := identity.ParseSecret(secret)
	status := text(page.Doc(t), "secret")
	for _, want := range []string{"Active", "v1", parsed.Fingerprint(), "2026-11-24 10:00:00 UTC by " + admin, "use it by 2026-11-24 10:01:00 UTC (their cache"} {
		if !strings.Contains(status, want) {
			t.Errorf("secret status %q lacks %q", status, want)
		}
	}
	// This server verifies with it at once.
	kr, err := e.Verifier.Keyring(context.Background(), e.Project.ID)
	if err != nil || kr.Version != 1 || kr.Verify("u_1", identity.Sign(parsed, "u_1"), e.Clock.Now()) != identity.Verified {
		t.Errorf("the verifier does not use the new secret at once (version %d, err %v)", kr.Version, err)
	}
}

func TestRotateResubmitDoesNotRotateAgain(t *testing.T) {
	e, c := signedIn(t)
	confirm := c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate")
	v := dashtest.FormValues(confirm)
	first := c.Post("/settings/identity/rotate", v)
	secret := newSecret(t, first)

	// A reload of the page that showed the secret posts the same form again.
	again := c.Post("/settings/identity/rotate", v)
	if again.StatusCode != http.StatusSeeOther || !strings.HasPrefix(again.Header.Get("Location"), "/settings/identity?project=default") {
		t.Fatalf("resubmitted rotation = %d → %q, want 303 to the Identity page", again.StatusCode, again.Header.Get("Location"))
	}
	page := c.Get(again.Header.Get("Location"))
	if strings.Contains(page.Body, secret) || strings.Contains(page.Body, "sis_") {
		t.Errorf("the page after a resubmission shows a secret")
	}
	if flash := dashtest.Text(page.Doc(t).Find("div", "class", "flash")[0]); !strings.Contains(flash, "Nothing was rotated") {
		t.Errorf("flash = %q", flash)
	}
	st, _ := e.Store.IdentityState(context.Background(), e.Project.ID)
	if cur, _ := st.Current(); cur.Version != 1 {
		t.Errorf("version = %d after a resubmission, want 1", cur.Version)
	}
}

func TestRotateWithOverlapShowsPreviousAndPickup(t *testing.T) {
	e, c := signedIn(t)
	rotate(t, c, "0")
	e.Clock.Advance(time.Hour)
	r := rotate(t, c, "1h")
	newSecret(t, r)
	if got := dashtest.Text(r.Doc(t).Root); !strings.Contains(got, "verifies until 2026-11-24 12:00:00 UTC") {
		t.Errorf("new secret page does not say until when the previous one verifies")
	}
	status := text(identityPage(t, c, ""), "secret")
	for _, want := range []string{"v2", "v1", "still verifies until 2026-11-24 12:00:00 UTC", "use it by 2026-11-24 11:01:00 UTC", "cache lasts 1 min"} {
		if !strings.Contains(status, want) {
			t.Errorf("status %q lacks %q", status, want)
		}
	}
	e.Clock.Advance(2 * time.Minute)
	if status := text(identityPage(t, c, ""), "secret"); !strings.Contains(status, "all use it since 2026-11-24 11:01:00 UTC") {
		t.Errorf("after the cache TTL, status = %q", status)
	}
	e.Clock.Advance(time.Hour)
	if status := text(identityPage(t, c, ""), "secret"); !strings.Contains(status, "none verifies") {
		t.Errorf("after the overlap, status = %q", status)
	}
}

func TestRotateRefusesBadOverlap(t *testing.T) {
	e, c := signedIn(t)
	rotate(t, c, "0")
	r := c.Post("/settings/identity/rotate", url.Values{"project": {"default"}, "version": {"1"}, "overlap": {"48h"}})
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("overlap 48h = %d, want 400", r.StatusCode)
	}
	st, _ := e.Store.IdentityState(context.Background(), e.Project.ID)
	if cur, _ := st.Current(); cur.Version != 1 {
		t.Errorf("a refused rotation rotated")
	}
}

func TestStrictPreviewAndToggle(t *testing.T) {
	e, c := signedIn(t)
	rotate(t, c, "0")
	now := e.Clock.Now()
	minute := store.MinuteOf(now.Add(-3 * time.Hour))
	b := &store.Batch{Counts: map[store.CountKey]int64{
		{ProjectID: e.Project.ID, Minute: minute, Outcome: store.OutcomeAccepted}:                                   10_380,
		{ProjectID: e.Project.ID, Minute: minute, Outcome: store.OutcomeReportOnly, Reason: "missing_token"}:        390,
		{ProjectID: e.Project.ID, Minute: minute, Outcome: store.OutcomeReportOnly, Reason: "signature_mismatch"}:   22,
		{ProjectID: e.Project.ID, Minute: store.MinuteOf(now.Add(-25 * time.Hour)), Outcome: store.OutcomeAccepted}: 999, // too old
	}}
	if err := e.Store.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	d := identityPage(t, c, "")
	want := "412 of 10,380 events (4.0%) would be rejected: 390 missing_token, 22 signature_mismatch"
	if got := text(d, "strict-impact"); !strings.Contains(got, want) {
		t.Errorf("preview = %q, want %q", got, want)
	}

	r := c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("strict on = %d", r.StatusCode)
	}
	// This server enforces at once, without waiting for the cache TTL.
	if kr, _ := e.Verifier.Keyring(context.Background(), e.Project.ID); !kr.Strict {
		t.Errorf("the verifier does not see strict mode at once")
	}
	d = identityPage(t, c, "")
	if got := text(d, "strict"); !strings.Contains(got, "On · enforced") {
		t.Errorf("strict panel = %q", got)
	}
	if f := dashtest.Text(d.Find("div", "class", "flash")[0]); !strings.Contains(f, "refused from now on") {
		t.Errorf("flash = %q", f)
	}
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"off"}})
	if kr, _ := e.Verifier.Keyring(context.Background(), e.Project.ID); kr.Strict {
		t.Errorf("strict still on after turning it off")
	}
	rows, _ := e.Store.AuditLog(context.Background(), 0, 100)
	if rows[0].Action != store.ActionStrictOff || rows[1].Action != store.ActionStrictOn || rows[1].Actor != admin {
		t.Errorf("audit = %+v, want strict.on then strict.off by %s", rows[:2], admin)
	}
	if r := c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"maybe"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("strict=maybe = %d, want 400", r.StatusCode)
	}
}

func rows(d *dashtest.Doc) []*html.Node {
	var out []*html.Node
	for _, tr := range dashtest.Find(d.ByID("rejections-table"), "tr") {
		if dashtest.HasAttr(tr, "data-id") {
			out = append(out, tr)
		}
	}
	return out
}

func cells(tr *html.Node) []string {
	var out []string
	for _, td := range dashtest.Find(tr, "td") {
		out = append(out, dashtest.Text(td))
	}
	return out
}

func TestRecentRejections(t *testing.T) {
	e, c := signedIn(t)
	rotate(t, c, "0")
	e.Clock.Advance(10*time.Minute + 42*time.Second) // 10:10:42
	rotate(t, c, "0")                                // v1 rotated out at 10:10
	base := e.Clock.Now()
	var rs []store.RejectionRow
	for i := range 30 {
		r := store.RejectionRow{ProjectID: e.Project.ID, At: base.Add(time.Duration(i) * time.Second), Endpoint: "/events/batch", BatchIndex: i,
			EventType: "identify", UserID: fmt.Sprintf("u_%d", i), Reason: "missing_token", Enforced: i%2 == 0, SourceIP: "192.0.2.1"}
		if i%10 == 9 {
			r.Reason, r.Endpoint, r.BatchIndex = "rotated_secret", "/events", -1
		}
		rs = append(rs, r)
	}
	if err := e.Store.WriteBatch(context.Background(), &store.Batch{Rejections: rs}, nil); err != nil {
		t.Fatal(err)
	}

	d := identityPage(t, c, "")
	page1 := rows(d)
	if len(page1) != 25 {
		t.Fatalf("first page has %d rows, want 25", len(page1))
	}
	top := cells(page1[0])
	// Newest first: u_29 is a rotated_secret on POST /events, report-only.
	if want := []string{"2026-11-24 10:11:11 UTC", "/events", "—", "identify", "u_29"}; strings.Join(top[:5], "|") != strings.Join(want, "|") {
		t.Errorf("first row = %q, want %q…", top, want)
	}
	if !strings.Contains(top[5], "rotated_secret") || !strings.Contains(top[5], "rotated out at 10:10 UTC; update SENDORA_IDENTITY_SECRET") {
		t.Errorf("reason cell = %q, want the rotated_secret hint with the rotation time", top[5])
	}
	if top[6] != "Report-only" || cells(page1[1])[6] != "Enforced" {
		t.Errorf("mode cells = %q, %q", top[6], cells(page1[1])[6])
	}
	if got := cells(page1[1]); got[2] != "28" || !strings.Contains(got[5], "Send identityToken") {
		t.Errorf("second row = %q, want batch index 28 and the missing_token hint", got)
	}
	live := d.ByID("rejections-live")
	if src := dashtest.Attr(live, "data-live-src"); src != "/settings/identity/rejections?project=default" {
		t.Errorf("live source = %q", src)
	}

	older := d.Find("a", "href", "/settings/identity?before="+dashtest.Attr(page1[24], "data-id")+"&project=default#rejections")
	if len(older) != 1 {
		t.Fatalf("no Older link to before=%s", dashtest.Attr(page1[24], "data-id"))
	}
	d2 := identityPage(t, c, strings.TrimPrefix(strings.TrimSuffix(dashtest.Attr(older[0], "href"), "#rejections"), "/settings/identity"))
	page2 := rows(d2)
	if len(page2) != 5 || cells(page2[0])[4] != "u_4" || cells(page2[4])[4] != "u_0" {
		t.Errorf("second page = %d rows from %q, want u_4…u_0", len(page2), cells(page2[0]))
	}
	if dashtest.HasAttr(d2.ByID("rejections-live"), "data-live-src") {
		t.Errorf("an older page refreshes itself")
	}

	f := rows(identityPage(t, c, "?reason=rotated_secret"))
	if len(f) != 3 {
		t.Errorf("filtered by rotated_secret: %d rows, want 3", len(f))
	}
	for _, tr := range f {
		if !strings.HasPrefix(cells(tr)[5], "rotated_secret") {
			t.Errorf("filter let through %q", cells(tr)[5])
		}
	}
	if len(rows(identityPage(t, c, "?reason=bogus"))) != 25 {
		t.Errorf("an unknown reason filter is not ignored")
	}

	// The live refresh fetches the table alone.
	frag := c.Get("/settings/identity/rejections?project=default&reason=rotated_secret")
	if frag.StatusCode != http.StatusOK || strings.Contains(frag.Body, "<header") || len(rows(frag.Doc(t))) != 3 {
		t.Errorf("fragment = %d, %d rows", frag.StatusCode, len(rows(frag.Doc(t))))
	}
	if r := e.NewClient().Get("/settings/identity/rejections?project=default"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("fragment without a session = %d, want 303 to sign-in", r.StatusCode)
	}
}

func TestTokenChecker(t *testing.T) {
	e, c := signedIn(t)
	secret := newSecret(t, rotate(t, c, "0"))
	parsed, _ := identity.ParseSecret(secret)
	good := identity.Sign(parsed, "u_42")
	auditBefore, _ := e.Store.AuditLog(context.Background(), 0, 100)

	for _, tt := range []struct {
		user, token, verdict, reason string
	}{
		{"u_42", good, "Verified", ""},
		{"u_43", good, "Not verified", "signature_mismatch"},
		{"u_42", "", "Not verified", "missing_token"},
		{"u_42", "hmac_v1:abc", "Not verified", "malformed_token"},
		{"u_42", "hmac_v2:" + strings.Repeat("a", 64), "Not verified", "unsupported_scheme"},
		{"", good, "Not verified", "missing_user_id"},
	} {
		r := c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {tt.user}, "token": {tt.token}})
		if r.StatusCode != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("check %q: %d, Cache-Control %q", tt.reason, r.StatusCode, r.Header.Get("Cache-Control"))
		}
		v := text(r.Doc(t), "verdict")
		if !strings.HasPrefix(v, tt.verdict) || !strings.Contains(v, tt.reason) {
			t.Errorf("verdict for %q/%q = %q, want %s %s", tt.user, tt.token, v, tt.verdict, tt.reason)
		}
		if tt.reason != "" && !strings.Contains(v, "Fix:") {
			t.Errorf("verdict %q has no fix hint", v)
		}
	}
	// Nothing stored, nothing logged.
	auditAfter, _ := e.Store.AuditLog(context.Background(), 0, 100)
	if len(auditAfter) != len(auditBefore) {
		t.Errorf("the checker wrote %d audit entries", len(auditAfter)-len(auditBefore))
	}
	if rs, _ := e.Store.Rejections(context.Background(), store.RejectionFilter{ProjectID: e.Project.ID, Limit: 10}); len(rs) != 0 {
		t.Errorf("the checker stored %d rejections", len(rs))
	}
	if strings.Contains(e.Logs.String(), good) || strings.Contains(e.Logs.String(), "u_42") {
		t.Errorf("the log holds the checked token or userId")
	}
}

func TestProjectSwitcher(t *testing.T) {
	e, c := signedIn(t)
	if sel := identityPage(t, c, "").ByID("project-switch"); sel != nil {
		t.Errorf("a switcher with one project")
	}
	other, err := e.Store.CreateProject(context.Background(), "shop", e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := identityPage(t, c, "")
	var opts []string
	for _, o := range dashtest.Find(d.ByID("project-switch"), "option") {
		opts = append(opts, dashtest.Attr(o, "value"))
	}
	if strings.Join(opts, ",") != "default,shop" {
		t.Errorf("switcher options = %v", opts)
	}
	d = identityPage(t, c, "?project=shop")
	if h := dashtest.Text(d.Find("h1")[0]); h != "Identity · shop" {
		t.Errorf("heading = %q", h)
	}
	if got := text(d, "public-key"); got != other.PublicKey {
		t.Errorf("public key = %q, want %q", got, other.PublicKey)
	}
	if r := c.Get("/settings/identity?project=nope"); r.StatusCode != http.StatusNotFound || !strings.Contains(dashtest.Text(r.Doc(t).Root), `no project named "nope"`) {
		t.Errorf("unknown project = %d", r.StatusCode)
	}
}

func TestChartOnPage(t *testing.T) {
	e, c := signedIn(t)
	now := e.Clock.Now()
	ev := func(id string, at time.Time, v string) store.EventRow {
		return store.EventRow{ProjectID: e.Project.ID, MessageID: id, Type: "track", Event: "x", UserID: "u", Timestamp: at, ReceivedAt: at, Verification: v}
	}
	b := &store.Batch{Events: []store.EventRow{ev("a", now.Add(-time.Minute), "verified"), ev("b", now.Add(-time.Minute), "missing_token"), ev("c", now.Add(-5*time.Hour), "verified")}}
	if err := e.Store.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	d := identityPage(t, c, "")
	svg := d.Find("svg", "class", "chart")
	if len(svg) != 1 || dashtest.Attr(svg[0], "role") != "img" {
		t.Fatalf("no chart SVG with role=img")
	}
	bars := dashtest.Find(svg[0], "g")
	if len(bars) != 24 {
		t.Errorf("%d bars, want 24", len(bars))
	}
	// The last bar is the hour now running (10:00); the events of 09:59
	// are in the one before.
	if last := dashtest.Text(bars[23]); !strings.Contains(last, "10:00–11:00 UTC: 0 verified") {
		t.Errorf("last bar title = %q", last)
	}
	prev := dashtest.Text(bars[22])
	if !strings.Contains(prev, "09:00–10:00 UTC: 1 verified, 1 report-only, 0 rejected") {
		t.Errorf("previous bar title = %q", prev)
	}
	if n := len(dashtest.Find(bars[22], "rect")); n != 2 {
		t.Errorf("the 09:00 bar has %d segments, want 2", n)
	}
	if n := len(dashtest.Find(bars[18], "rect", "class", "seg-verified")); n != 1 {
		t.Errorf("the bar five hours ago has %d verified segments, want 1", n)
	}
	if legend := text(d, "events"); !strings.Contains(legend, "Accepted, verified 2") || !strings.Contains(legend, "Accepted, report-only 1") {
		t.Errorf("legend = %q", legend)
	}
}

func TestAuditPageNewestFirstPaged(t *testing.T) {
	e, c := signedIn(t)
	for i := range 60 {
		e.Store.AddAudit(context.Background(), store.Audit{At: e.Clock.Now(), Actor: admin, Action: store.ActionStrictOn, ProjectID: e.Project.ID, Detail: fmt.Sprintf("n=%d", i)})
	}
	r := c.Get("/audit")
	if r.StatusCode != http.StatusOK {
		t.Fatal(r.StatusCode)
	}
	d := r.Doc(t)
	trs := dashtest.Find(d.ByID("audit-table"), "tr", "data-action", store.ActionStrictOn)
	if len(trs) != 50 || !strings.Contains(dashtest.Text(trs[0]), "n=59") || !strings.Contains(dashtest.Text(trs[0]), "default") {
		t.Fatalf("first page: %d rows, first %q", len(trs), dashtest.Text(trs[0]))
	}
	older := d.Find("a", "class", "button")
	var href string
	for _, a := range older {
		if strings.HasPrefix(dashtest.Attr(a, "href"), "/audit?before=") {
			href = dashtest.Attr(a, "href")
		}
	}
	d2 := c.Get(href).Doc(t)
	texts := dashtest.Text(d2.ByID("audit-table"))
	if !strings.Contains(texts, "n=0") || strings.Contains(texts, "n=10") || !strings.Contains(texts, "Signed in") {
		t.Errorf("second page = %q", texts)
	}
}
