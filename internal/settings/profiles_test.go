package settings_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver store registers, for writing a row the way an older version did

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
)

// postEvent posts one event to /events with the project's public key and
// returns the status.
func postEvent(t *testing.T, e *dashtest.Env, ev map[string]any) int {
	t.Helper()
	ev["publicKey"] = e.Project.PublicKey
	b, _ := json.Marshal(ev)
	resp, err := http.Post(e.URL+"/events", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// poisoned sets up the attack the Profiles page exists for: strict mode
// off (report-only), a verified identify of u_victim with plan "free", then
// a forged one (no token) setting plan "enterprise" and removing mrr.
func poisoned(t *testing.T) (*dashtest.Env, *dashtest.Client, identity.Secret) {
	t.Helper()
	e, c := signedIn(t)
	sec, err := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []map[string]any{
		{"type": "identify", "userId": "u_victim", "messageId": "m_good", "identityToken": identity.Sign(sec, "u_victim"),
			"traits": map[string]any{"plan": "free", "email": "v@acme.co", "mrr": 10}},
		{"type": "identify", "userId": "u_ok", "messageId": "m_ok", "identityToken": identity.Sign(sec, "u_ok"), "traits": map[string]any{"plan": "pro"}},
		{"type": "track", "userId": "u_victim", "event": "Viewed Pricing", "messageId": "m_track", "identityToken": identity.Sign(sec, "u_victim"),
			"properties": map[string]any{"path": "/pricing"}},
		{"type": "identify", "userId": "u_victim", "messageId": "m_evil", "traits": map[string]any{"plan": "enterprise", "mrr": nil, "email": "v@acme.co"}},
	} {
		if code := postEvent(t, e, ev); code != http.StatusOK {
			t.Fatalf("event %v = %d", ev["messageId"], code)
		}
	}
	if err := e.Writer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e, c, sec
}

func getOK(t *testing.T, c *dashtest.Client, path string) *dashtest.Doc {
	t.Helper()
	r := c.Get(path)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, r.StatusCode, r.Body)
	}
	return r.Doc(t)
}

// TestProfilesShowAPoisonedProfile: a report-only identify that changes a
// trait a verified one set is counted on the Profiles list, flagged there,
// and shown above everything on the profile with the value it replaced and
// both events, which the links find on the Events page.
func TestProfilesShowAPoisonedProfile(t *testing.T) {
	_, c, _ := poisoned(t)

	d := getOK(t, c, "/profiles")
	if got := text(d, "flagged-summary-h"); got != "1 profile has flagged traits" {
		t.Errorf("flagged summary = %q", got)
	}
	rows := dashtest.Find(d.ByID("profiles-table"), "tr", "class", "row-flagged")
	if len(rows) != 1 || !strings.Contains(dashtest.Text(rows[0]), "u_victim") || !strings.Contains(dashtest.Text(rows[0]), "2 flagged") {
		t.Errorf("flagged rows = %d: %q", len(rows), dashtest.Text(d.ByID("profiles-table")))
	}
	if all := dashtest.Text(d.ByID("profiles-table")); !strings.Contains(all, "u_ok") {
		t.Errorf("the list lacks u_ok: %q", all)
	}
	only := getOK(t, c, "/profiles?flagged=1")
	if got := dashtest.Text(only.ByID("profiles-table")); strings.Contains(got, "u_ok") || !strings.Contains(got, "u_victim") {
		t.Errorf("flagged only = %q", got)
	}
	if got := dashtest.Text(getOK(t, c, "/profiles?q=u_o").ByID("profiles-table")); !strings.Contains(got, "u_ok") || strings.Contains(got, "u_victim") {
		t.Errorf("prefix u_o = %q", got)
	}

	var link string
	for _, a := range dashtest.Find(d.ByID("profiles-table"), "a") {
		if dashtest.Text(a) == "u_victim" {
			link = dashtest.Attr(a, "href")
		}
	}
	p := getOK(t, c, link)
	if got := text(p, "profile-user"); got != "u_victim" {
		t.Errorf("profile heading = %q", got)
	}
	alert := dashtest.Text(p.ByID("poisoned"))
	for _, want := range []string{"2 traits were changed by a less trusted event",
		`plan: "free" → "enterprise"changed by report-only event m_evil (missing_token) at 2`, "over the value set by verified event m_good at 2",
		"mrr: 10 → removedchanged by report-only event m_evil (missing_token)"} {
		if !strings.Contains(alert, want) {
			t.Errorf("poisoned section lacks %q:\n%s", want, alert)
		}
	}
	byKey := map[string]string{}
	flagged := map[string]bool{}
	for _, tr := range dashtest.Find(p.ByID("traits-table"), "tr") {
		if k := dashtest.Attr(tr, "data-key"); k != "" {
			byKey[k] = dashtest.Text(tr)
			flagged[k] = strings.Contains(dashtest.Attr(tr, "class"), "row-flagged")
		}
	}
	if !flagged["plan"] || !flagged["mrr"] || flagged["email"] {
		t.Errorf("flagged rows = %v", flagged)
	}
	for k, want := range map[string][]string{
		"plan":  {`"enterprise"`, "m_evil", "Report-only", "missing_token", "Flagged", `Was "free" set by verified event m_good`},
		"mrr":   {"removed", "m_evil", "Flagged", "Was 10 set by verified event m_good"},
		"email": {`"v@acme.co"`, "m_good", "Verified"},
	} {
		for _, w := range want {
			if !strings.Contains(byKey[k], w) {
				t.Errorf("trait %s row %q lacks %q", k, byKey[k], w)
			}
		}
	}
	// Flagged traits come first.
	var order []string
	for _, tr := range dashtest.Find(p.ByID("traits-table"), "tr") {
		if k := dashtest.Attr(tr, "data-key"); k != "" {
			order = append(order, k)
		}
	}
	if strings.Join(order, ",") != "plan,mrr,email" {
		t.Errorf("trait order = %v, want flagged first", order)
	}

	// The messageId links find each event on the Events page.
	for _, want := range []string{"m_good", "m_evil"} {
		var href string
		for _, a := range dashtest.Find(p.ByID("traits-table"), "a") {
			if dashtest.Text(a) == want {
				href = dashtest.Attr(a, "href")
			}
		}
		if href == "" {
			t.Fatalf("no link to %s", want)
		}
		ev := getOK(t, c, href)
		if got := text(ev, "event-message"); got != want {
			t.Errorf("link to %s opened %q", want, got)
		}
		if want == "m_evil" {
			facts := text(ev, "event-facts")
			if !strings.Contains(facts, "Report-only") || !strings.Contains(facts, "missing_token") || !strings.Contains(facts, "u_victim") {
				t.Errorf("event facts = %q", facts)
			}
			if got := dashtest.RawText(dashtest.Find(ev.ByID("traits"), "code")[0]); got != "{\n  \"email\": \"v@acme.co\",\n  \"mrr\": null,\n  \"plan\": \"enterprise\"\n}" {
				t.Errorf("traits as stored = %q", got)
			}
		}
	}
}

// TestEventLogFiltersAndPages: the Events page filters by userId, type,
// verification (any report-only reason, or one) and messageId, pages by
// id newest first, and refuses nothing a person can type.
func TestEventLogFiltersAndPages(t *testing.T) {
	e, c, sec := poisoned(t)
	list := func(query string) []string {
		t.Helper()
		d := getOK(t, c, "/event-log?"+query)
		var out []string
		for _, tr := range dashtest.Find(d.ByID("events-table"), "tr") {
			if tr.Parent != nil && tr.Parent.Data == "tbody" && dashtest.Attr(tr, "data-id") != "" {
				var m string
				for _, a := range dashtest.Find(tr, "a") {
					m = dashtest.Text(a)
				}
				out = append(out, m)
			}
		}
		return out
	}
	for q, want := range map[string]string{
		"":                                    "m_evil,m_track,m_ok,m_good",
		"user=u_victim":                       "m_evil,m_track,m_good",
		"type=track":                          "m_track",
		"verification=report_only":            "m_evil",
		"verification=missing_token":          "m_evil",
		"verification=signature_mismatch":     "",
		"verification=verified&type=identify": "m_ok,m_good",
		"message=m_ok":                        "m_ok",
		"type=bogus&verification=bogus":       "m_evil,m_track,m_ok,m_good", // unknown filters are ignored
		"user=" + url.QueryEscape("\x00\xff"): "",
		"before=abc":                          "m_evil,m_track,m_ok,m_good",
	} {
		if got := strings.Join(list(q), ","); got != want {
			t.Errorf("events?%s = %s, want %s", q, got, want)
		}
	}
	// More than a page: 120 more events, paged 50 at a time by id.
	for i := range 120 {
		postEvent(t, e, map[string]any{"type": "page", "userId": "u_many", "messageId": fmt.Sprintf("p%03d", i), "identityToken": identity.Sign(sec, "u_many")})
	}
	if err := e.Writer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := getOK(t, c, "/event-log?user=u_many")
	var seen []string
	for page := 0; ; page++ {
		for _, tr := range dashtest.Find(d.ByID("events-table"), "tr") {
			if dashtest.Attr(tr, "data-id") != "" {
				for _, a := range dashtest.Find(tr, "a") {
					seen = append(seen, dashtest.Text(a))
				}
			}
		}
		older := d.Find("a", "class", "button")
		next := ""
		for _, a := range older {
			if strings.Contains(dashtest.Text(a), "Older") {
				next = dashtest.Attr(a, "href")
			}
		}
		if next == "" {
			break
		}
		d = getOK(t, c, next)
	}
	if len(seen) != 120 || seen[0] != "p119" || seen[119] != "p000" {
		t.Errorf("paged through %d events: %v … %v", len(seen), seen[:min(3, len(seen))], seen[max(0, len(seen)-3):])
	}
}

// TestDataPagesRefuseBadRequestsPolitely: missing, malformed and unknown
// parameters answer 400 or 404 pages, never a 500.
func TestDataPagesRefuseBadRequestsPolitely(t *testing.T) {
	_, c, _ := poisoned(t)
	for path, want := range map[string]int{
		"/profiles/view":                                     http.StatusBadRequest,
		"/profiles/view?user=nobody":                         http.StatusNotFound,
		"/profiles/view?user=" + url.QueryEscape("\x00"):     http.StatusNotFound,
		"/profiles/view?user=" + url.QueryEscape("\xff"):     http.StatusNotFound,
		"/profiles/view?user=u_victim&from=-5":               http.StatusOK,
		"/profiles/view?user=u_victim&from=99999":            http.StatusOK,
		"/profiles?project=nope":                             http.StatusNotFound,
		"/profiles?q=" + url.QueryEscape("\x00\xfe"):         http.StatusOK,
		"/profiles?after=" + url.QueryEscape("\x00"):         http.StatusOK,
		"/event-log/view":                                    http.StatusBadRequest,
		"/event-log/view?id=abc":                             http.StatusBadRequest,
		"/event-log/view?id=-1":                              http.StatusBadRequest,
		"/event-log/view?id=99999":                           http.StatusNotFound,
		"/event-log/view?message=nope":                       http.StatusNotFound,
		"/event-log/view?message=m_evil&at=abc":              http.StatusOK,
		"/event-log/view?message=m_evil&at=1":                http.StatusOK,
		"/event-log/view?message=" + url.QueryEscape("\x00"): http.StatusNotFound,
		"/event-log?project=nope":                            http.StatusNotFound,
		"/event-log?before=-3&verification=report_only":      http.StatusOK,
	} {
		if r := c.Get(path); r.StatusCode != want {
			t.Errorf("GET %s = %d, want %d\n%s", path, r.StatusCode, want, r.Body)
		}
	}
}

// TestSignedTraitsOutrankHMAC: traits from a verified JWT's traits claim
// are shown as signed, and an hmac_v1 identify (which proves only the
// userId) changing one of them is flagged, as a report-only one is.
func TestSignedTraitsOutrankHMAC(t *testing.T) {
	e, c := signedIn(t)
	sec, err := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := identity.SignJWT(sec, identity.JWTClaims{Subject: "u_jwt", ExpiresAt: e.Clock.Now().Add(time.Hour), Traits: json.RawMessage(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []map[string]any{
		// The client also claims enterprise: the signed value wins.
		{"type": "identify", "userId": "u_jwt", "messageId": "m_jwt", "identityToken": jwt, "traits": map[string]any{"plan": "enterprise", "email": "j@acme.co"}},
		{"type": "identify", "userId": "u_jwt", "messageId": "m_hmac", "identityToken": identity.Sign(sec, "u_jwt"), "traits": map[string]any{"plan": "enterprise"}},
	} {
		if code := postEvent(t, e, ev); code != http.StatusOK {
			t.Fatalf("%s = %d", ev["messageId"], code)
		}
		if err := e.Writer.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	d := getOK(t, c, "/profiles/view?user=u_jwt")
	rows := map[string]string{}
	for _, tr := range dashtest.Find(d.ByID("traits-table"), "tr") {
		if k := dashtest.Attr(tr, "data-key"); k != "" {
			rows[k] = dashtest.Text(tr)
		}
	}
	for k, want := range map[string][]string{
		"plan":  {`"enterprise"`, "m_hmac", "Verified", "Flagged", `Was "pro" set by signed event m_jwt`},
		"email": {`"j@acme.co"`, "m_jwt", "Verified"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[k], w) {
				t.Errorf("trait %s row %q lacks %q", k, rows[k], w)
			}
		}
	}
	if strings.Contains(rows["email"], "Signed") || strings.Contains(rows["email"], "Flagged") {
		t.Errorf("email (sent by the client, not signed) = %q", rows["email"])
	}
}

// TestProfileStoredBeforeProvenance: a profile written before provenance
// was recorded (by an older version) shows its values as set before
// provenance was recorded, flags nothing, and gains provenance for what a
// new identify changes.
func TestProfileStoredBeforeProvenance(t *testing.T) {
	e, c := signedIn(t)
	db, err := sql.Open("sqlite", "file:"+e.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at) VALUES (?, 'u_old', '{"plan":"pro","email":"o@x.y"}', 1, 1)`,
		e.Project.ID); err != nil {
		t.Fatal(err)
	}
	d := getOK(t, c, "/profiles")
	if got := dashtest.Text(d.ByID("profiles-table")); !strings.Contains(got, "u_oldset before provenance was recorded") {
		t.Errorf("list = %q", got)
	}
	if d.ByID("flagged-summary") != nil {
		t.Errorf("a profile from before provenance is counted as flagged")
	}
	if code := postEvent(t, e, map[string]any{"type": "identify", "userId": "u_old", "messageId": "m_new", "traits": map[string]any{"plan": "free"}}); code != http.StatusOK {
		t.Fatal(code)
	}
	if err := e.Writer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := getOK(t, c, "/profiles/view?user=u_old")
	rows := map[string]string{}
	for _, tr := range dashtest.Find(p.ByID("traits-table"), "tr") {
		if k := dashtest.Attr(tr, "data-key"); k != "" {
			rows[k] = dashtest.Text(tr)
		}
	}
	if !strings.Contains(rows["email"], "set before provenance was recorded") || !strings.Contains(rows["plan"], "m_new") ||
		strings.Contains(rows["plan"], "Flagged") || p.ByID("poisoned") != nil {
		t.Errorf("rows = %q", rows)
	}
}
