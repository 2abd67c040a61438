package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
)

// TestContractSingle walks every status, code and reason of POST /events.
func TestContractSingle(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	good := identity.Sign(secret, "u_123")
	other := identity.NewSecret()

	tests := []struct {
		name        string
		contentType string
		body        string
		header      []string
		status      int
		code        string
		reason      string
	}{
		{"signed identify", "application/json", h.js(ev("type", "identify", "userId", "u_123", "identityToken", good, "traits", ev("plan", "pro"))), nil, 200, "", ""},
		{"text/plain as sendBeacon sends", "text/plain;charset=UTF-8", h.js(ev("type", "track", "event", "Clicked", "userId", "u_123", "identityToken", good)), nil, 200, "", ""},
		{"bearer key", "application/json", `{"type":"page","userId":"u_123","identityToken":"` + good + `"}`, []string{"Authorization", "Bearer " + h.key}, 200, "", ""},
		{"unknown fields ignored", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "futureField", ev("x", 1))), nil, 200, "", ""},

		{"form content type", "application/x-www-form-urlencoded", h.js(ev("type", "page", "userId", "u_123")), nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"no content type", "", h.js(ev("type", "page", "userId", "u_123")), nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"too large", "application/json", h.js(ev("type", "track", "event", "X", "userId", "u_123", "properties", ev("pad", strings.Repeat("x", 33<<10)))), nil, 413, "PAYLOAD_TOO_LARGE", ""},

		{"truncated JSON", "application/json", `{"type":"track",`, nil, 400, "INVALID_JSON", ""},
		{"not JSON", "application/json", `hello`, nil, 400, "INVALID_JSON", ""},
		{"trailing data", "application/json", h.js(ev("type", "page", "userId", "u")) + `{}`, nil, 400, "INVALID_JSON", ""},
		{"array body", "application/json", `[1,2]`, nil, 400, "INVALID_EVENT", ""},

		{"no key", "application/json", `{"type":"page","userId":"u_123"}`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"unknown key", "application/json", h.js(ev("publicKey", "pk_live_000000000000000000000000", "type", "page", "userId", "u")), nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"not a key", "application/json", h.js(ev("publicKey", "sis_oops", "type", "page", "userId", "u")), nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"key not a string", "application/json", `{"publicKey":12,"type":"page","userId":"u"}`, nil, 400, "INVALID_EVENT", ""},
		{"bearer and body differ", "application/json", h.js(ev("type", "page", "userId", "u")), []string{"Authorization", "Bearer pk_live_other"}, 401, "INVALID_PUBLIC_KEY", ""},
		{"basic auth", "application/json", h.js(ev("type", "page", "userId", "u")), []string{"Authorization", "Basic eDp5"}, 401, "INVALID_PUBLIC_KEY", ""},

		{"no type", "application/json", h.js(ev("userId", "u_123", "identityToken", good)), nil, 400, "INVALID_EVENT", ""},
		{"bad type", "application/json", h.js(ev("type", "alias", "userId", "u_123", "identityToken", good)), nil, 400, "INVALID_EVENT", ""},
		{"no ids", "application/json", h.js(ev("type", "page", "identityToken", good)), nil, 400, "INVALID_EVENT", ""},
		{"track without event", "application/json", h.js(ev("type", "track", "userId", "u_123", "identityToken", good)), nil, 400, "INVALID_EVENT", ""},
		{"traits not object", "application/json", h.js(ev("type", "identify", "userId", "u_123", "identityToken", good, "traits", []int{1})), nil, 400, "INVALID_EVENT", ""},
		{"properties not object", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "properties", "x")), nil, 400, "INVALID_EVENT", ""},
		{"context not object", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "context", 3)), nil, 400, "INVALID_EVENT", ""},
		{"userId number", "application/json", h.js(ev("type", "page", "userId", 123, "identityToken", good)), nil, 400, "INVALID_EVENT", ""},
		{"messageId too long", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "messageId", strings.Repeat("é", 101))), nil, 400, "INVALID_EVENT", ""},
		{"bad timestamp", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "timestamp", "yesterday")), nil, 400, "INVALID_EVENT", ""},
		{"bad sentAt", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good, "sentAt", "2026-11-24 10:00")), nil, 400, "INVALID_EVENT", ""},

		{"missing_token", "application/json", h.js(ev("type", "identify", "userId", "u_123")), nil, 401, "IDENTITY_UNVERIFIED", "missing_token"},
		{"missing_user_id", "application/json", h.js(ev("type", "page", "anonymousId", "a_1", "identityToken", good)), nil, 401, "IDENTITY_UNVERIFIED", "missing_user_id"},
		{"unsupported_scheme", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", "jwt:abc")), nil, 401, "IDENTITY_UNVERIFIED", "unsupported_scheme"},
		{"malformed_token no colon", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", "deadbeef")), nil, 401, "IDENTITY_UNVERIFIED", "malformed_token"},
		{"malformed_token uppercase", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", strings.ToUpper(good[8:]))), nil, 401, "IDENTITY_UNVERIFIED", "malformed_token"},
		{"malformed_token uppercase hex", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", "hmac_v1:"+strings.ToUpper(good[8:]))), nil, 401, "IDENTITY_UNVERIFIED", "malformed_token"},
		{"malformed_token space", "application/json", h.js(ev("type", "page", "userId", "u_123", "identityToken", good+" ")), nil, 401, "IDENTITY_UNVERIFIED", "malformed_token"},
		{"signature_mismatch other user", "application/json", h.js(ev("type", "identify", "userId", "u_124", "identityToken", good)), nil, 401, "IDENTITY_UNVERIFIED", "signature_mismatch"},
		{"signature_mismatch other secret", "application/json", h.js(ev("type", "identify", "userId", "u_123", "identityToken", identity.Sign(other, "u_123"))), nil, 401, "IDENTITY_UNVERIFIED", "signature_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/events", tt.contentType, tt.body, tt.header...)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.raw)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
			}
			if r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("credentials allowed")
			}
			if tt.status == 200 {
				if r.body["accepted"] != 1.0 || r.body["messageId"] == "" || r.body["messageId"] == nil {
					t.Errorf("body = %s, want accepted 1 and a messageId", r.raw)
				}
				return
			}
			code, reason := errorOf(r)
			if code != tt.code || reason != tt.reason {
				t.Errorf("error = %s/%s, want %s/%s; body %s", code, reason, tt.code, tt.reason, r.raw)
			}
			if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("error has no message: %s", r.raw)
			}
			if strings.Contains(r.raw, secret.Reveal()) || (tt.reason != "" && strings.Contains(r.raw, good)) {
				t.Errorf("response echoes a secret or token: %s", r.raw)
			}
		})
	}
}

func TestRotatedSecretAndOverlap(t *testing.T) {
	h := newHarness(t)
	old := h.rotate(0)
	h.strict(true)
	cur := h.rotate(time.Hour)
	send := func(s identity.Secret) response {
		return h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", identity.Sign(s, "u1"))))
	}
	if r := send(cur); r.status != 200 {
		t.Fatalf("current secret: %d %s", r.status, r.raw)
	}
	if r := send(old); r.status != 200 {
		t.Fatalf("previous secret inside its overlap: %d %s", r.status, r.raw)
	}
	h.clock.Advance(time.Hour + time.Second)
	if r := send(old); r.status != 401 {
		t.Fatalf("previous secret after overlap: %d %s", r.status, r.raw)
	} else if _, reason := errorOf(r); reason != "rotated_secret" {
		t.Errorf("reason = %s, want rotated_secret", reason)
	}
}

func TestReportOnlyNoSecret(t *testing.T) {
	h := newHarness(t)
	r := h.post("/events", h.js(ev("type", "identify", "userId", "u1", "traits", ev("plan", "pro"))))
	if r.status != 200 {
		t.Fatalf("strict off, no secret: %d %s", r.status, r.raw)
	}
	evs := h.events()
	if len(evs) != 1 || evs[0].Verification != "no_secret" {
		t.Fatalf("stored = %+v, want one event with verification no_secret", evs)
	}
	rs := h.rejections()
	if len(rs) != 1 || rs[0].Reason != "no_secret" || rs[0].Enforced || rs[0].Endpoint != "/events" || rs[0].BatchIndex != -1 {
		t.Errorf("rejections = %+v, want one report-only no_secret on /events", rs)
	}
}

func TestReportOnlyAcceptsAndRecords(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	good := identity.Sign(secret, "u1")
	bad := identity.Sign(secret, "u2")
	r := h.post("/events/batch", h.batch(
		ev("type", "identify", "userId", "u1", "identityToken", good, "messageId", "m0"),
		ev("type", "identify", "userId", "u1", "identityToken", bad, "messageId", "m1"),
		ev("type", "track", "event", "E", "userId", "u1", "messageId", "m2"),
		ev("type", "page", "messageId", "m3"),
	), "User-Agent", "sdk-test/1.0")
	if r.status != 200 || r.body["accepted"] != 3.0 {
		t.Fatalf("batch = %d %s, want 200 with 3 accepted", r.status, r.raw)
	}
	got := map[string]string{}
	for _, e := range h.events() {
		got[e.MessageID] = e.Verification
	}
	want := map[string]string{"m0": "verified", "m1": "signature_mismatch", "m2": "missing_token"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored verification = %v, want %v", got, want)
	}
	rs := h.rejections()
	if len(rs) != 2 {
		t.Fatalf("rejections = %+v, want 2", rs)
	}
	// Newest first; both report-only, with their batch index.
	byIndex := map[int]string{}
	for _, x := range rs {
		if x.Enforced || x.Endpoint != "/events/batch" {
			t.Errorf("rejection %+v, want report-only on /events/batch", x)
		}
		byIndex[x.BatchIndex] = x.Reason
	}
	if !reflect.DeepEqual(byIndex, map[int]string{1: "signature_mismatch", 2: "missing_token"}) {
		t.Errorf("rejections by index = %v", byIndex)
	}
}

func TestBatchIndexExactness(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	sign := func(u string) string { return identity.Sign(secret, u) }
	body := `{"publicKey":"` + h.key + `","events":[
		{"type":"identify","userId":"u0","identityToken":"` + sign("u0") + `","traits":{"plan":"pro"}},
		{"type":"identify","userId":"u1","identityToken":"` + sign("u0") + `"},
		"not an event",
		{"type":"track","userId":"u3","identityToken":"` + sign("u3") + `"},
		{"type":"page","userId":"u4","identityToken":"` + sign("u4") + `","messageId":"m4"},
		{"type":"page","userId":"u5"},
		{"type":"page","userId":{"nested":true},"identityToken":"x"},
		null,
		{"type":"page","userId":"u8","identityToken":"` + sign("u8") + `","timestamp":"2026-13-01T00:00:00Z"},
		{"type":"page","userId":"u9","identityToken":"hmac_v2:abc"},
		{"type":"page","userId":"u10","identityToken":"` + sign("u10") + `"}
	]}`
	r := h.post("/events/batch", body)
	if r.status != 200 {
		t.Fatalf("status = %d: %s", r.status, r.raw)
	}
	if r.body["accepted"] != 3.0 {
		t.Errorf("accepted = %v, want 3", r.body["accepted"])
	}
	type rej struct {
		Index  int    `json:"index"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}
	var got struct{ Rejected []rej }
	json.Unmarshal([]byte(r.raw), &got)
	want := []rej{
		{1, "IDENTITY_UNVERIFIED", "signature_mismatch"},
		{2, "INVALID_EVENT", ""},
		{3, "INVALID_EVENT", ""},
		{5, "IDENTITY_UNVERIFIED", "missing_token"},
		{6, "INVALID_EVENT", ""},
		{7, "INVALID_EVENT", ""},
		{8, "INVALID_EVENT", ""},
		{9, "IDENTITY_UNVERIFIED", "unsupported_scheme"},
	}
	if !reflect.DeepEqual(got.Rejected, want) {
		t.Errorf("rejected =\n%+v\nwant\n%+v", got.Rejected, want)
	}
	if n := len(h.events()); n != 3 {
		t.Errorf("stored %d events, want 3", n)
	}
	rs := h.rejections()
	idx := map[int]string{}
	for _, x := range rs {
		if !x.Enforced {
			t.Errorf("rejection %+v not enforced", x)
		}
		idx[x.BatchIndex] = x.Reason
	}
	if !reflect.DeepEqual(idx, map[int]string{1: "signature_mismatch", 5: "missing_token", 9: "unsupported_scheme"}) {
		t.Errorf("recorded rejections by index = %v", idx)
	}
}

func TestBatchWhole(t *testing.T) {
	h := newHarness(t)
	pad := strings.Repeat("x", 33<<10)
	many := make([]map[string]any, ingest.MaxBatchEvents+1)
	for i := range many {
		many[i] = ev("type", "page", "userId", "u")
	}
	big := make([]map[string]any, 20)
	for i := range big {
		big[i] = ev("type", "page", "userId", "u", "properties", ev("pad", pad[:30<<10]))
	}
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"bad JSON", `{"publicKey":"` + h.key + `","events":[{"type":`, 400, "INVALID_JSON"},
		{"not an object", `[]`, 400, "INVALID_JSON"},
		{"events not array", `{"publicKey":"` + h.key + `","events":{}}`, 400, "INVALID_JSON"},
		{"no events", `{"publicKey":"` + h.key + `"}`, 400, "INVALID_JSON"},
		{"trailing data", h.batch(ev("type", "page", "userId", "u")) + `x`, 400, "INVALID_JSON"},
		{"bad key", `{"publicKey":"pk_live_nope","events":[]}`, 401, "INVALID_PUBLIC_KEY"},
		{"key not string", `{"publicKey":1,"events":[]}`, 401, "INVALID_PUBLIC_KEY"},
		{"too many events", h.batch(many...), 413, "PAYLOAD_TOO_LARGE"},
		{"too many bytes", h.batch(big...), 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post("/events/batch", tt.body)
			if code, _ := errorOf(r); r.status != tt.status || code != tt.code {
				t.Errorf("= %d %s, want %d %s; %s", r.status, code, tt.status, tt.code, r.raw)
			}
		})
	}
	if n := len(h.events()); n != 0 {
		t.Errorf("requests wrong as a whole stored %d events", n)
	}

	// One oversized event in a batch is rejected by index; the rest land.
	r := h.post("/events/batch", h.batch(ev("type", "page", "userId", "u", "properties", ev("pad", pad)), ev("type", "page", "userId", "u")))
	if r.status != 200 || r.body["accepted"] != 1.0 || !strings.Contains(r.raw, `"index":0,"code":"PAYLOAD_TOO_LARGE"`) {
		t.Errorf("oversized event in batch: %d %s", r.status, r.raw)
	}
	// An empty batch is fine.
	if r := h.post("/events/batch", h.batch()); r.status != 200 || r.raw != `{"accepted":0,"rejected":[]}`+"\n" {
		t.Errorf("empty batch: %d %s", r.status, r.raw)
	}
}

func TestDedupByMessageID(t *testing.T) {
	h := newHarness(t)
	body := h.js(ev("type", "identify", "userId", "u1", "messageId", "m-1", "traits", ev("plan", "pro")))
	for i := range 3 {
		r := h.post("/events", body)
		if r.status != 200 || r.body["messageId"] != "m-1" {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.raw)
		}
	}
	r := h.post("/events/batch", h.batch(ev("type", "page", "userId", "u1", "messageId", "m-1"), ev("type", "page", "userId", "u1", "messageId", "m-2"), ev("type", "page", "userId", "u1", "messageId", "m-2")))
	if r.status != 200 || r.body["accepted"] != 3.0 {
		t.Fatalf("batch with retries: %d %s", r.status, r.raw)
	}
	evs := h.events()
	if len(evs) != 2 || evs[0].MessageID != "m-1" || evs[0].Type != "identify" || evs[1].MessageID != "m-2" {
		t.Errorf("stored = %+v, want m-1 (identify) and m-2 once each", evs)
	}
	// Counters count each stored event once.
	rs := h.rejections() // flushes
	if len(rs) != 2 {
		t.Errorf("report-only rejections = %d, want 2 (one per stored event)", len(rs))
	}
}

func TestClockSkewAndReceivedAt(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now()
	// The device's clock is 1 h behind: it stamped the event at 08:59:30
	// and sent it at 09:00:00 device time, which is 10:00:00 server time.
	h.post("/events", h.js(ev("type", "page", "userId", "u", "messageId", "skew",
		"timestamp", "2026-11-24T08:59:30Z", "sentAt", "2026-11-24T09:00:00Z")))
	h.post("/events", h.js(ev("type", "page", "userId", "u", "messageId", "plain", "timestamp", "2026-11-24T08:00:00.5+01:00")))
	h.post("/events", h.js(ev("type", "page", "userId", "u", "messageId", "none")))
	want := map[string]time.Time{
		"skew":  time.Date(2026, 11, 24, 9, 59, 30, 0, time.UTC),
		"plain": time.Date(2026, 11, 24, 7, 0, 0, 500e6, time.UTC),
		"none":  now,
	}
	for _, e := range h.events() {
		if !e.Timestamp.Equal(want[e.MessageID]) {
			t.Errorf("%s: timestamp = %v, want %v", e.MessageID, e.Timestamp, want[e.MessageID])
		}
		if !e.ReceivedAt.Equal(now) {
			t.Errorf("%s: receivedAt = %v, want %v", e.MessageID, e.ReceivedAt, now)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/events", "/events/batch"} {
		r := h.do("OPTIONS", path, "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,authorization")
		if r.status != 204 {
			t.Errorf("%s preflight = %d", path, r.status)
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "POST, OPTIONS",
			"Access-Control-Allow-Headers": "Content-Type, Authorization",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s %s = %q, want %q", path, k, got, v)
			}
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s allows credentials", path)
		}
	}
	if r := h.do("GET", "/events", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /events = %d, want 405", r.status)
	}
}

func TestOverloadAnswers503(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.writer.MaxPending = 2 })
	r := h.post("/events/batch", h.batch(ev("type", "page", "userId", "a"), ev("type", "page", "userId", "b"), ev("type", "page", "userId", "c")))
	if code, _ := errorOf(r); r.status != 503 || code != "OVERLOADED" || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the queue bound: %d %s Retry-After=%q", r.status, r.raw, r.header.Get("Retry-After"))
	}
	if n := len(h.events()); n != 0 {
		t.Errorf("a refused batch stored %d events", n)
	}
	if r := h.post("/events", h.js(ev("type", "page", "userId", "a"))); r.status != 200 {
		t.Errorf("within the bound: %d %s", r.status, r.raw)
	}
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.handler.RateLimitKey = 5 })
	body := h.js(ev("type", "page", "userId", "u"))
	var limited response
	for i := range 20 {
		r := h.post("/events", body)
		if r.status == 429 {
			limited = r
			break
		}
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	if code, _ := errorOf(limited); code != "RATE_LIMITED" || limited.header.Get("Retry-After") == "" {
		t.Fatalf("no RATE_LIMITED with Retry-After within 20 requests at 5/s: %+v", limited)
	}
	h.clock.Advance(2 * time.Second)
	if r := h.post("/events", body); r.status != 200 {
		t.Errorf("after the window: %d", r.status)
	}

	hi := newHarness(t, func(o *harnessOptions) { o.handler.RateLimitIP = 3 })
	statuses := ""
	for range 8 {
		statuses += fmt.Sprint(hi.post("/events", hi.js(ev("type", "page", "userId", "u"))).status, " ")
	}
	if !strings.Contains(statuses, "429") {
		t.Errorf("per-IP limit never applied: %s", statuses)
	}
}

func TestProfilesMergeTraits(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.post("/events", h.js(ev("type", "identify", "userId", "u1", "identityToken", identity.Sign(secret, "u1"), "traits", ev("plan", "free", "email", "a@b.c"))))
	h.post("/events", h.js(ev("type", "identify", "userId", "u1", "traits", ev("plan", "pro"))))
	p, err := h.st.Profile(t.Context(), h.project.ID, "u1")
	if err != nil {
		t.Fatal(err)
	}
	var traits map[string]any
	json.Unmarshal(p.Traits, &traits)
	if traits["plan"] != "pro" || traits["email"] != "a@b.c" || p.LastVerified {
		t.Errorf("profile = %s verified=%v, want merged traits and last identify unverified", p.Traits, p.LastVerified)
	}
}

func TestAllowedOrigins(t *testing.T) {
	h := newHarness(t)
	if err := h.st.SetAllowedOrigins(t.Context(), h.project.ID, []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	body := h.js(ev("type", "page", "anonymousId", "a1"))
	if r := h.post("/events", body, "Origin", "https://shop.example"); r.status != 200 {
		t.Errorf("allowed origin: %d %s", r.status, r.raw)
	}
	if r := h.post("/events", body); r.status != 200 {
		t.Errorf("no Origin (a server-side sender): %d %s", r.status, r.raw)
	}
	r := h.post("/events/batch", h.batch(ev("type", "page", "anonymousId", "a1")), "Origin", "https://evil.example")
	if code, _ := errorOf(r); r.status != 403 || code != "ORIGIN_NOT_ALLOWED" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("other origin: %d %s", r.status, r.raw)
	}
	if n := len(h.events()); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
}
