package ingest_test

import (
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

	tests := []struct {
		name, path, contentType, body string
		header                        []string
		status                        int
		code                          string
	}{
		{"empty body", "/events", "application/json", ``, nil, 400, "INVALID_JSON"},
		{"only whitespace", "/events", "application/json", "  \n\t ", nil, 400, "INVALID_JSON"},
		{"truncated object", "/events", "application/json", `{` + k + `,"type":"tra`, nil, 400, "INVALID_JSON"},
		{"truncated batch", "/events/batch", "application/json", `{` + k + `,"events":[{"type":"page"`, nil, 400, "INVALID_JSON"},
		{"bare string", "/events", "application/json", `"identify"`, nil, 400, "INVALID_EVENT"},
		{"number", "/events", "application/json", `42`, nil, 400, "INVALID_EVENT"},
		{"null", "/events", "application/json", `null`, nil, 401, "INVALID_PUBLIC_KEY"},
		{"type is a number", "/events", "application/json", `{` + k + `,"type":1,"userId":"u1"}`, nil, 400, "INVALID_EVENT"},
		{"userId is an object", "/events", "application/json", `{` + k + `,"type":"page","userId":{"$ne":null}}`, nil, 400, "INVALID_EVENT"},
		{"userId is an array", "/events", "application/json", `{` + k + `,"type":"page","userId":["u1"]}`, nil, 400, "INVALID_EVENT"},
		{"token is a number", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":1}`, nil, 400, "INVALID_EVENT"},
		{"traits is a string", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":"{}"}`, nil, 400, "INVALID_EVENT"},
		{"deep nesting in traits", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","traits":` + deep + `}`, nil, 413, "PAYLOAD_TOO_LARGE"},
		{"deep nesting small", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","traits":` + deepArr + `}`, nil, 400, "INVALID_EVENT"},
		{"nesting past the decoder's limit", "/events/batch", "application/json", `{` + k + `,"events":[],"x":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`, nil, 400, "INVALID_JSON"},
		{"huge number", "/events", "application/json", `{` + k + `,"type":"track","event":"E","userId":"u1","properties":{"n":1e999999}}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"invalid UTF-8 in userId", "/events", "application/json", `{` + k + `,"type":"page","userId":"u` + "\xff\xfe" + `","identityToken":"` + good + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"invalid UTF-8 outside strings", "/events", "application/json", "{" + k + ",\xff:1}", nil, 400, "INVALID_JSON"},
		{"lone surrogate escape", "/events", "application/json", `{` + k + `,"type":"page","userId":"\ud800","identityToken":"` + good + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"duplicate userId keys", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `","userId":"victim"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"duplicate token keys", "/events", "application/json", `{` + k + `,"type":"identify","userId":"victim","identityToken":"` + good + `","identityToken":"x"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"oversized userId", "/events", "application/json", `{` + k + `,"type":"page","userId":"` + strings.Repeat("u", 9000) + `","identityToken":"` + good + `"}`, nil, 400, "INVALID_EVENT"},
		{"oversized messageId", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","identityToken":"` + good + `","messageId":"` + strings.Repeat("m", 101) + `"}`, nil, 400, "INVALID_EVENT"},
		{"oversized body", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1","pad":"` + strings.Repeat("x", 40<<10) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE"},
		{"oversized batch", "/events/batch", "application/json", `{` + k + `,"events":[],"pad":"` + strings.Repeat("x", 600<<10) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE"},
		{"no token in strict mode", "/events", "application/json", `{` + k + `,"type":"page","userId":"u1"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"form content type", "/events", "application/x-www-form-urlencoded", `publicKey=x`, nil, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"multipart", "/events", "multipart/form-data; boundary=x", `--x--`, nil, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"broken media type", "/events", "application/json; charset", `{}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"json lookalike media type", "/events", "application/jsonp", `{}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"secret as key", "/events", "application/json", `{"publicKey":"` + secret.Reveal() + `","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY"},
		{"key with spaces", "/events", "application/json", `{"publicKey":" ` + h.key + ` ","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY"},
		{"huge key", "/events", "application/json", `{"publicKey":"pk_live_` + strings.Repeat("A", 5000) + `","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY"},
		{"SQL in key", "/events", "application/json", `{"publicKey":"pk_live_' OR 1=1 --","type":"page","userId":"u1"}`, nil, 401, "INVALID_PUBLIC_KEY"},
		{"bearer without key", "/events", "application/json", `{"type":"page","userId":"u1"}`, []string{"Authorization", "Bearer "}, 401, "INVALID_PUBLIC_KEY"},
		{"token with inner space", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v1: ` + hexPart[1:] + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token with newline", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `\n"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token uppercase hex", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v1:` + strings.ToUpper(hexPart) + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token other scheme", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"hmac_v2:` + hexPart + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token jwt", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9."}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token of the secret itself", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + secret.Reveal() + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token truncated", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good[:len(good)-1] + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"token extended", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1","identityToken":"` + good + `00"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"userId with trailing NUL", "/events", "application/json", `{` + k + `,"type":"identify","userId":"u1\u0000","identityToken":"` + good + `"}`, nil, 401, "IDENTITY_UNVERIFIED"},
		{"batch of non-objects", "/events/batch", "application/json", `{` + k + `,"events":[1,"a",true,[],null]}`, nil, 200, ""},
		{"batch events is a string", "/events/batch", "application/json", `{` + k + `,"events":"[]"}`, nil, 400, "INVALID_JSON"},
		{"batch key is an object", "/events/batch", "application/json", `{"publicKey":{"a":1},"events":[]}`, nil, 401, "INVALID_PUBLIC_KEY"},
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
