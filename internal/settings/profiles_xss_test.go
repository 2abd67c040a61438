package settings_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
)

// rawJSON encodes v without HTML escaping, as an SDK may: "<" reaches the
// server as "<", not "\u003c".
func rawJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestHostileDataOnProfilesAndEventsIsInert: every hostile payload as a
// userId, trait key, trait value, event name, anonymousId, property and
// context, set by a verified identify and then poisoned by a report-only
// one, is shown on the Profiles list, the profile, the Events page and the
// event's page as exact text, and none becomes markup.
func TestHostileDataOnProfilesAndEventsIsInert(t *testing.T) {
	e, c := signedIn(t)
	sec, err := identity.ParseSecret(newSecret(t, rotate(t, c, "0")))
	if err != nil {
		t.Fatal(err)
	}
	post := func(ev map[string]any) {
		t.Helper()
		ev["publicKey"] = e.Project.PublicKey
		resp, err := http.Post(e.URL+"/events", "application/json", strings.NewReader(rawJSON(t, ev)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("event %v = %d", ev, resp.StatusCode)
		}
	}
	for _, h := range hostile {
		post(map[string]any{"type": "identify", "userId": h, "identityToken": identity.Sign(sec, h), "traits": map[string]any{h: "verified " + h, "plan": h}})
		post(map[string]any{"type": "identify", "userId": h, "traits": map[string]any{h: "forged " + h}})
		post(map[string]any{"type": "track", "userId": h, "anonymousId": h, "event": h, "messageId": h,
			"properties": map[string]any{h: h}, "context": map[string]any{"page": map[string]any{"title": h}}})
	}
	if err := e.Writer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	codes := func(n any) map[string]int {
		out := map[string]int{}
		var nodes = dashtest.Find(n.(*dashtest.Doc).Root, "code")
		for _, c := range nodes {
			out[dashtest.RawText(c)]++
		}
		return out
	}
	list := getOK(t, c, "/profiles")
	checkInert(t, "/profiles", list)
	shown := codes(list)
	for _, h := range hostile {
		if shown[h] != 1 {
			t.Errorf("/profiles: userId %q shown %d times as text", h, shown[h])
		}
	}
	if got := text(list, "flagged-summary-h"); !strings.HasPrefix(got, "12 profiles have") {
		t.Errorf("flagged summary = %q", got)
	}

	for _, h := range hostile {
		var href string
		for _, a := range dashtest.Find(list.ByID("profiles-table"), "a") {
			if dashtest.RawText(a) == h {
				href = dashtest.Attr(a, "href")
			}
		}
		d := getOK(t, c, href)
		checkInert(t, "profile "+h, d)
		if got := dashtest.RawText(d.ByID("profile-user")); got != h {
			t.Errorf("profile heading %q, want %q", got, h)
		}
		shown := codes(d)
		forged, verified := rawJSON(t, "forged "+h), rawJSON(t, "verified "+h)
		for _, want := range []string{h, forged, verified, rawJSON(t, h)} {
			if shown[want] == 0 && shown[trimTo(want)] == 0 {
				t.Errorf("profile %q does not show %q as text: %v", h, want, shown)
			}
		}
		if !strings.Contains(dashtest.Text(d.ByID("poisoned")), "1 trait was changed") {
			t.Errorf("profile %q: poisoned section %q", h, dashtest.Text(d.ByID("poisoned")))
		}
	}

	ev := getOK(t, c, "/event-log?type=track")
	checkInert(t, "/event-log", ev)
	shownEv := codes(ev)
	for _, h := range hostile {
		if shownEv[h] != 1 { // the userId (the anonymousId is on the event's page)
			t.Errorf("/event-log: %q shown %d times as text, want 1", h, shownEv[h])
		}
	}
	names := map[string]bool{}
	for _, s := range ev.Find("span", "class", "event-name") {
		names[dashtest.RawText(s)] = true
	}
	for _, a := range dashtest.Find(ev.ByID("events-table"), "a") {
		h := dashtest.RawText(a)
		if !names[h] {
			t.Errorf("event name %q not shown as text", h)
		}
		d := getOK(t, c, dashtest.Attr(a, "href"))
		checkInert(t, "event "+h, d)
		if got := dashtest.RawText(d.ByID("event-message")); got != h {
			t.Errorf("event heading %q, want %q", got, h)
		}
		if got := codes(d); got[h] != 5 {
			t.Errorf("event %q: shown %d times as text, want 5 (heading, messageId, name, userId, anonymousId)", h, got[h])
		}
		var props bytes.Buffer
		json.Indent(&props, []byte(rawJSON(t, map[string]any{h: h})), "", "  ")
		if got := dashtest.RawText(dashtest.Find(d.ByID("properties"), "code")[0]); got != props.String() {
			t.Errorf("event %q properties shown as %q, want %q", h, got, props.String())
		}
	}
	// Hostile filters only ever reach inputs and text.
	for _, h := range hostile {
		for _, path := range []string{"/event-log?user=", "/event-log?message=", "/profiles?q=", "/profiles?after="} {
			r := c.Get(path + url.QueryEscape(h))
			if r.StatusCode != http.StatusOK {
				t.Errorf("GET %s%q = %d", path, h, r.StatusCode)
				continue
			}
			checkInert(t, path+h, r.Doc(t))
		}
	}
}

// trimTo is a long value as its table cell shows it: cut, with an ellipsis.
func trimTo(s string) string {
	r := []rune(s)
	if len(r) <= 120 {
		return s
	}
	return string(r[:120]) + "…"
}
