package ingest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/identity"
)

// TestHostileInput sends requests an attacker or a broken SDK might: each is
// answered with the contract's error shape (or, inside a batch, a rejection
// by index), never a 5xx, and nothing forged is stored.
func TestHostileInput(t *testing.T) {
	h := newHarness(t)
	secret := h.rotate(0)
	h.strict(true)
	good := identity.Sign(secret, "u1")
	hexPart := good[len("hmac_v1:"):]
	k := `"publicKey":"` + h.key + `"`
	deep := strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000)
	deepArr := strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000)
	nest := func(levels int) string {
		return strings.Repeat(`{"a":`, levels-1) + `{}` + strings.Repeat(`}`, levels-1)
	}

	tests := []struct {
		name, path, contentType, body string
		header                        []string
		status                        int
		code                          string
		field                         string // for INVALID_EVENT, when the case names one
	}{
		{"empty body", "/events", "application/json", ``, nil, 400, "INVALID_JSON", ""},
		{"only whitespace", "/events", "application/json", "  \n\t ", nil, 400, "INVALID_JSON", ""},
		{"truncated object", "/events", "application/json", `{` + k + `,"type":"tra`, nil, 400, "INVALID_JSON", ""},
		{"truncated batch", "/events/batch", "application/json", `{` + k + `,"events":[{"type":"page"`, nil, 400, "INVALID_JSON", ""},
		{"bare string", "/events", "application/json", `"identify"`, nil, 400, "INVALID_EVENT", ""},
		{"number", "/events", "application/json", `42`, nil, 400, "INVALID_EVENT", ""},
		{"null", "/events", "application/json", `null`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"type is a number", "/events", "application/json", `{` + k + `,"type":1,"userId":"u1"}`, nil, 400, "INVALID_EVENT", "type"},
		{"userId is an object", "/events", "application/json", `{` + k + `,"type":"page","userId":{"$ne":null}}`, nil, 400, "INVALID_EVENT", "userId"},
		{"userId is an array", "/events", "application/json", `{` + k + `,"type":"page","userId":["u1"]}`, nil, 400, "INVALID_EVENT", "userId"},
		{"token is a number", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":1}`, nil, 400, "INVALID_EVENT", "identityToken"},
		{"traits is a string", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":"{}"}`, nil, 400, "INVALID_EVENT", "traits"},
		{"deep nesting in traits", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":` + deep + `}`, nil, 413, "PAYLOAD_TOO_LARGE", ""},
		{"deep nesting small", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","traits":` + deepArr + `}`, nil, 400, "INVALID_EVENT", "traits"},
		{"nesting past the decoder's limit", "/events/batch", "application/json", `{` + k + `,"events":[],"x":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`, nil, 400, "INVALID_JSON", ""},
		{"huge number", "/events", "application/json", `{` + k + `,"type":"track","event":"E","userId":"u1","properties":{"n":1e999999}}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"invalid UTF-8 in userId", "/events", "application/json", `{` + k + `,"type":"page","userId":"u` + "\xff\xfe" + `","identityToken":"` + good + `"}`, nil, 400, "INVALID_JSON", ""},
		{"invalid UTF-8 outside strings", "/events", "application/json", "{" + k + ",\xff:1}", nil, 400, "INVALID_JSON", ""},
		{"lone surrogate escape", "/events", "application/json", `{` + k + `,"type":"page","userId":"\ud800","identityToken":"` + good + `"}`, nil, 400, "INVALID_JSON", ""},
		{"duplicate userId keys", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","userId":"victim"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"duplicate token keys", "/events", "application/json", `{` + k + `,"type":"identify","userId":"victim","identityToken":"` + good + `","identityToken":"x"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"oversized userId", "/events", "application/json", `{` + k + `,"type":"page","userId":"` + strings.Repeat("u", 9000) + `","identityToken":"` + good + `"}`, nil, 400, "INVALID_EVENT", "userId"},
		{"oversized messageId", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","messageId":"` + strings.Repeat("m", 101) + `"}`, nil, 400, "INVALID_EVENT", "messageId"},
		{"oversized body", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","pad":"` + strings.Repeat("x", 40<<10) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE", ""},
		{"oversized batch", "/events/batch", "application/json", `{` + k + `,"events":[],"pad":"` + strings.Repeat("x", 600<<10) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE", ""},
		{"no token in strict mode", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"form content type", "/events", "application/x-www-form-urlencoded", `publicKey=x`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"multipart", "/events", "multipart/form-data; boundary=x", `--x--`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"broken media type", "/events", "application/json; charset", `{}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"json lookalike media type", "/events", "application/jsonp", `{}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"secret as key", "/events", "application/json", `{"publicKey":"` + secret.Reveal() + `","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"key with spaces", "/events", "application/json", `{"publicKey":" ` + h.key + ` ","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"huge key", "/events", "application/json", `{"publicKey":"pk_live_` + strings.Repeat("A", 5000) + `","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"SQL in key", "/events", "application/json", `{"publicKey":"pk_live_' OR 1=1 --","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY", ""},
		{"bearer without key", "/events", "application/json", `{"type":"page","userId":"u1"}`, []string{"Authorization", "Bearer "}, 401, "INVALID_PUBLIC_KEY", ""},
		{"token with inner space", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v1: ` + hexPart[1:] + `"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token with newline", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `\n"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token uppercase hex", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v1:` + strings.ToUpper(hexPart) + `"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token other scheme", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v2:` + hexPart + `"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token jwt", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9."}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token of the secret itself", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + secret.Reveal() + `"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token truncated", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good[:len(good)-1] + `"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		{"token extended", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `00"}`, nil, 401, "IDENTITY_UNVERIFIED", ""},
		// U+0000 is refused in every string before identity is checked (no
		// store could keep it alike), so u1's token never covers "u1\0".
		{"userId with trailing NUL", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1\u0000","identityToken":"` + good + `"}`, nil, 400, "INVALID_JSON", ""},
		{"batch of non-objects", "/events/batch", "application/json", `{` + k + `,"events":[1,"a",true,[],null]}`, nil, 200, "", ""},
		{"batch events is a string", "/events/batch", "application/json", `{` + k + `,"events":"[]"}`, nil, 400, "INVALID_JSON", ""},
		{"batch key is an object", "/events/batch", "application/json", `{"publicKey":{"a":1},"events":[]}`, nil, 401, "INVALID_PUBLIC_KEY", ""},

		// Issue 10: values the store would fail on, or could not give back.
		{"traits nest 33 levels", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":` + nest(33) + `}`, nil, 400, "INVALID_EVENT", "traits"},
		{"traits nest 1000 levels", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":` + nest(1000) + `}`, nil, 400, "INVALID_EVENT", "traits"},
		{"properties nest 33 levels of arrays", "/events", "application/json", `{` + k + `,"type":"track","event":"E","userId":"u1","identityToken":"` + good + `","properties":{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}}`, nil, 400, "INVALID_EVENT", "properties"},
		{"context nests 33 levels", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","context":` + nest(33) + `}`, nil, 400, "INVALID_EVENT", "context"},
		{"deep traits under a folded key", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","TRAIT\u017f":` + nest(40) + `}`, nil, 400, "INVALID_EVENT", "traits"},
		{"deep traits in a duplicate key", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{},"traits":` + nest(40) + `}`, nil, 400, "INVALID_EVENT", "traits"},
		{"invalid UTF-8 in traits", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{"name":"` + "\xc3\x28" + `"}}`, nil, 400, "INVALID_JSON", ""},
		{"invalid UTF-8 in a traits key", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{"` + "\xff" + `":1}}`, nil, 400, "INVALID_JSON", ""},
		{"UTF-8 encoded surrogate in properties", "/events", "application/json", `{` + k + `,"type":"track","event":"E","userId":"u1","identityToken":"` + good + `","properties":{"a":"` + "\xed\xa0\x80" + `"}}`, nil, 400, "INVALID_JSON", ""},
		{"overlong UTF-8 in context", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","context":{"a":"` + "\xc0\xaf" + `"}}`, nil, 400, "INVALID_JSON", ""},
		{"lone high surrogate in traits", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{"a":"\ud83d"}}`, nil, 400, "INVALID_JSON", ""},
		{"lone low surrogate in properties", "/events", "application/json", `{` + k + `,"type":"track","event":"E","userId":"u1","identityToken":"` + good + `","properties":{"a":"x\udc00"}}`, nil, 400, "INVALID_JSON", ""},
		{"reversed surrogates", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{"a":"\ude00\ud83d"}}`, nil, 400, "INVALID_JSON", ""},
		{"invalid UTF-8 in an unknown field", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","future":"` + "\xff" + `"}`, nil, 400, "INVALID_JSON", ""},
		{"invalid UTF-8 in the batch key", "/events/batch", "application/json", `{"publicKey":"` + h.key + "\xff" + `","events":[]}`, nil, 400, "INVALID_JSON", ""},
		{"invalid UTF-8 in a batch's unknown field", "/events/batch", "application/json", `{` + k + `,"sdk":"` + "\xff" + `","events":[{"type":"page","userId":"u1","identityToken":"` + good + `"}]}`, nil, 400, "INVALID_JSON", ""},
		{"timestamp in year 0", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"0000-01-01T00:00:00Z"}`, nil, 400, "INVALID_EVENT", "timestamp"},
		{"timestamp in 1969", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"1969-12-31T23:59:59Z"}`, nil, 400, "INVALID_EVENT", "timestamp"},
		{"timestamp in year 10000", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"10000-01-01T00:00:00Z"}`, nil, 400, "INVALID_EVENT", "timestamp"},
		{"timestamp with a 25 h offset", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"2026-11-24T10:00:00+25:00"}`, nil, 400, "INVALID_EVENT", "timestamp"},
		{"timestamp as a number", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":1764000000}`, nil, 400, "INVALID_EVENT", "timestamp"},
		{"sentAt in year 1", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"2026-11-24T10:00:00Z","sentAt":"0001-01-01T00:00:00Z"}`, nil, 400, "INVALID_EVENT", "sentAt"},
		{"messageId squatting the server's prefix", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","messageId":"srv_0"}`, nil, 400, "INVALID_EVENT", "messageId"},
		{"batch of poison", "/events/batch", "application/json", `{` + k + `,"events":[` +
			`{"type":"identify","userId":"u1","identityToken":"` + good + `","traits":` + nest(1000) + `},` +
			`{"type":"identify","userId":"u1","identityToken":"` + good + `","traits":{"a":"` + "\xff" + `"}},` +
			`{"type":"page","userId":"u1","identityToken":"` + good + `","timestamp":"1900-01-01T00:00:00Z"},` +
			`{"type":"page","userId":"u1","identityToken":"` + good + `","messageId":"srv_1"}]}`, nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", tt.path, tt.contentType, tt.body, tt.header...)
			if r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.status != tt.status {
				t.Errorf("status = %d, want %d: %.300s", r.status, tt.status, r.raw)
			}
			if tt.status == 200 {
				if r.body["accepted"] != 0.0 {
					t.Errorf("hostile batch accepted %v", r.body["accepted"])
				}
				return
			}
			code, _ := errorOf(r)
			if code != tt.code {
				t.Errorf("code = %q, want %q: %.300s", code, tt.code, r.raw)
			}
			if field, _ := r.body["error"].(map[string]any)["field"].(string); field != tt.field {
				t.Errorf("field = %q, want %q: %.300s", field, tt.field, r.raw)
			}
			e, _ := r.body["error"].(map[string]any)
			if msg, _ := e["message"].(string); msg == "" || len(msg) > 300 {
				t.Errorf("message %q: want a short human text", msg)
			}
			if strings.Contains(r.raw, secret.Reveal()) || strings.Contains(r.raw, hexPart) {
				t.Errorf("answer echoes a secret or token")
			}
		})
	}
	if n := len(h.events()); n != 0 {
		t.Errorf("%d hostile events stored", n)
	}
}

// TestHostileBodies: bodies sent chunked (no length to check up front) are
// held to the same limits as they arrive, and still answered in the
// contract's shape.
func TestHostileBodies(t *testing.T) {
	h := newHarness(t)
	send := func(path string, body io.Reader) response {
		req, err := http.NewRequest("POST", h.srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1 // chunked
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
		json.Unmarshal(raw, &r.body)
		return r
	}
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	big := `{"publicKey":"` + h.key + `","events":[],"pad":"` + strings.Repeat("x", 600<<10) + `"}`
	if r := send("/events/batch", chunked(big)); r.status != 413 {
		t.Errorf("chunked 600 KiB batch: %d %.200s", r.status, r.raw)
	}
	if r := send("/events", chunked(h.js(ev("type", "page", "userId", "u", "pad", strings.Repeat("x", 40<<10))))); r.status != 413 {
		t.Errorf("chunked 40 KiB event: %d %.200s", r.status, r.raw)
	}
	if r := send("/events", chunked(h.js(ev("type", "page", "userId", "u")))); r.status != 200 {
		t.Errorf("chunked valid event: %d %.200s", r.status, r.raw)
	}
	if r := send("/events/batch", chunked(h.batch(ev("type", "page", "userId", "u")))); r.status != 200 || r.body["accepted"] != 1.0 {
		t.Errorf("chunked valid batch: %d %.200s", r.status, r.raw)
	}
}
