package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeEvent: any body gives an event or a contract error, never a
// panic; a decoded event that validates has a known type and an id.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"identify","userId":"u_123","traits":{"plan":"pro"},"identityToken":"hmac_v1:` + strings.Repeat("ab", 32) + `"}`,
		`{"type":"track","event":"Signed Up","anonymousId":"a","properties":{},"timestamp":"2026-11-24T10:00:00Z","sentAt":"2026-11-24T10:00:01Z"}`,
		`{"type":"page","userId":"u","context":{"library":{"name":"sdk-web"}},"messageId":"m_1"}`,
		`{"type":"page","userId":123}`, `{"traits":[1]}`, `{"type":"identify","userId":"\ud800"}`,
		`{`, `null`, `[]`, `"x"`, `{"a":{"b":{"c":{"d":[[[[[]]]]]}}}}`, `{"type":"page","userId":"u","type":"track"}`,
		"{\"userId\":\"\xff\xfe\"}", `{"timestamp":"2026-02-30T00:00:00Z","type":"page","userId":"u"}`, `{"n":1e999999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := decodeEvent(body)
		if err != nil {
			if err.Code != CodeInvalidJSON && err.Code != CodeInvalidEvent {
				t.Fatalf("decode error code %q", err.Code)
			}
			return
		}
		if verr := e.validate(); verr != nil {
			if verr.Code != CodeInvalidEvent || verr.Message == "" {
				t.Fatalf("validate error %+v", verr)
			}
			return
		}
		if e.Type != "identify" && e.Type != "track" && e.Type != "page" {
			t.Fatalf("valid event with type %q", e.Type)
		}
		if e.UserID == "" && e.AnonymousID == "" {
			t.Fatal("valid event without ids")
		}
		for _, raw := range [][]byte{e.Traits, e.Properties, e.Context} {
			if raw != nil && (raw[0] != '{' || !json.Valid(raw)) {
				t.Fatalf("valid event with a non-object field %q", raw)
			}
		}
	})
}

// FuzzDecodeBatch: any body gives items or one whole-request error, never a
// panic, never more than MaxBatchEvents items.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"publicKey":"pk_live_x","events":[{"type":"page","userId":"u"},{"type":"track"},7,null,"s"]}`,
		`{"events":[],"publicKey":"pk_live_x","extra":{"deep":[1,2,{"a":null}]}}`,
		`{"publicKey":1,"events":[]}`, `{"events":{}}`, `{"events":null}`, `[]`, `{"events":[{"type":"page"}]} x`,
		`{"events":[{"type":"page","userId":"u"}],"events":[{}]}`, `{"events":[{"userId":{"a":1}}]}`, `{"events":[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, items, eerr, readErr := decodeBatch(bytes.NewReader(body), nil)
		if readErr != nil {
			t.Fatalf("read error from a bytes.Reader: %v", readErr)
		}
		if eerr != nil {
			switch eerr.Code {
			case CodeInvalidJSON, CodeInvalidPublicKey, CodePayloadTooLarge:
			default:
				t.Fatalf("whole-batch error code %q", eerr.Code)
			}
			if items != nil {
				t.Fatal("items and an error")
			}
			return
		}
		if len(items) > MaxBatchEvents {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if it.err == nil {
				_ = it.ev.validate()
			} else if it.err.Code != CodeInvalidEvent && it.err.Code != CodePayloadTooLarge {
				t.Fatalf("item error code %q", it.err.Code)
			}
		}
	})
}

// FuzzAppendJSONString: the hand-written encoder of the hot path's answer
// agrees with encoding/json on every string encoding/json can produce.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"m_1", `q"uote`, `back\slash`, "ctl\x00\x1f", "<&>", "é🙂", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("strings reaching the encoder came out of encoding/json: valid UTF-8")
		}
		var via string
		if err := json.Unmarshal(appendJSONString(nil, s), &via); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
		if via != s {
			t.Fatalf("round trip %q → %q", s, via)
		}
	})
}
