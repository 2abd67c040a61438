package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
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
		`{"type":"identify","userId":"u","traits":` + strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33) + `}`,
		`{"type":"identify","userId":"u","traits":{"a":"\ud800"}}`, "{\"type\":\"page\",\"userId\":\"u\",\"context\":{\"x\":\"\xed\xa0\x80\"}}",
		`{"type":"page","userId":"u","timestamp":"9999-12-31T23:59:59Z","sentAt":"1970-01-01T00:00:00Z"}`,
		`{"type":"page","userId":"u","timestamp":"0001-01-01T00:00:00Z"}`, `{"type":"page","userId":"u","messageId":"srv_x"}`,
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
		if !refValidText(body) {
			t.Fatalf("body with invalid text decoded: %q", body)
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
		checkValidEvent(t, &e)
		if !refValidText(body) {
			t.Fatalf("event with invalid text decoded: %q", body)
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
		"{\"events\":[{\"type\":\"page\",\"userId\":\"u\"},{\"type\":\"page\",\"userId\":\"\xff\"}]}",
		"{\"publicKey\":\"\xff\",\"events\":[{\"type\":\"page\",\"userId\":\"u\"}]}",
		`{"events":[{"type":"identify","userId":"u","traits":{"a":"\udfff"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, items, eerr := decodeBatch(body, nil)
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
				if it.ev.validate() == nil {
					checkValidEvent(t, &it.ev)
				}
			} else if it.err.Code != CodeInvalidEvent && it.err.Code != CodePayloadTooLarge && it.err.Code != CodeInvalidJSON {
				t.Fatalf("item error code %q", it.err.Code)
			}
		}
		if !refValidText(body) && json.Valid(body) {
			for _, it := range items {
				if it.err == nil && it.ev.validate() == nil && !refValidText([]byte(it.ev.Traits)) {
					t.Fatalf("event with invalid text in its traits accepted: %q", it.ev.Traits)
				}
			}
		}
	})
}

// checkValidEvent asserts what validation promises the store.
func checkValidEvent(t *testing.T, e *event) {
	t.Helper()
	for _, raw := range [][]byte{e.Traits, e.Properties, e.Context} {
		if raw == nil {
			continue
		}
		if raw[0] != '{' || !json.Valid(raw) {
			t.Fatalf("valid event with a non-object field %q", raw)
		}
		if d := refNesting(raw); d > MaxNesting {
			t.Fatalf("valid event nests %d levels: %q", d, raw)
		}
		if !refValidText(raw) {
			t.Fatalf("valid event with invalid text: %q", raw)
		}
	}
	for _, ts := range []time.Time{e.timestamp, e.sentAt} {
		if !ts.IsZero() && (ts.Year() < 1970 || ts.Year() > 9999) {
			t.Fatalf("valid event with time %v", ts)
		}
	}
	recv := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if st := e.storedTime(recv); st.Before(time.Unix(0, 0)) || st.After(recv.Add(24*time.Hour)) {
		t.Fatalf("stored time %v outside [1970, receivedAt+24h]", st)
	}
}

// refValidText walks b rune by rune: inside strings every rune must be
// valid UTF-8 and every \u escape of a surrogate must be a high one
// followed at once by a low one.
func refValidText(b []byte) bool {
	inString := false
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		i += size
		switch {
		case !inString:
			inString = r == '"'
		case r == '"':
			inString = false
		case r == '\\':
			if i >= len(b) {
				return false
			}
			if b[i] != 'u' {
				i++
				continue
			}
			v, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 32)
			if err != nil {
				return false
			}
			i += 5
			if v == 0 || v >= 0xDC00 && v <= 0xDFFF {
				return false
			}
			if v >= 0xD800 && v <= 0xDBFF {
				if i+6 > len(b) || string(b[i:i+2]) != `\u` {
					return false
				}
				w, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
				if err != nil || w < 0xDC00 || w > 0xDFFF {
					return false
				}
				i += 6
			}
		}
	}
	return true
}

// refNesting counts nesting with encoding/json's tokens.
func refNesting(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
