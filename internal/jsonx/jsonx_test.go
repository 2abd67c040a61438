package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan: the single-pass checks agree with slow references on every
// valid JSON value: validText with a rune-by-rune walk of each string,
// nesting with encoding/json's own tokens.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `1`, `"a"`, `{"a":[{"b":{}}]}`, `"\\u"`, `"\\"`, `"\\\"}"`, `"\ud83d\ude00"`, `"\ud83d"`,
		`"\ude00"`, `"\ud83d\u0041"`, `"\uD83D\uDE00"`, "\"\xff\"", "\"\xc3\xa9\"", "\"\xed\xa0\x80\"", `{"k\"":[["]]]"]]}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, `{"a":"\"{["}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if got, want := ValidText(b), refValidText(b); got != want {
			t.Fatalf("ValidText(%q) = %v, want %v", b, got, want)
		}
		want := refNesting(b)
		if got := Nesting(b, 1<<30); got != want {
			t.Fatalf("Nesting(%q) = %d, want %d", b, got, want)
		}
		for _, limit := range []int{0, 1, 2, 32} {
			if got := Nesting(b, limit); (got > limit) != (want > limit) {
				t.Fatalf("Nesting(%q, %d) = %d, want past the limit: %v", b, limit, got, want > limit)
			}
		}
	})
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
			if v >= 0xDC00 && v <= 0xDFFF {
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

// FuzzAppendString: the hand-written string encoder writes exactly what
// encoding/json writes for every string, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"m_1", `q"uote`, `back\slash`, "ctl\x00\x1f\n\r\t", "<&>", "é🙂", "\u2028\u2029", "\xff", "a\xc3", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

// FuzzAppendCompact: whatever bytes are stored, the exported value is one
// line of valid JSON with valid text; a valid stored value keeps its
// meaning.
func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\n  \"a\": [1, 2]\n}", `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\u2028\"}",
		`{"a":`, `not json`, "{\"a\":\"\x01\"}", `"\\ud800"`, `{"a":"\ud83d\ude00"}`, `{"k\ud800":1}`, `[1e999999]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := AppendCompact([]byte("x"), raw)[1:]
		if !json.Valid(out) || !ValidText(out) || bytes.ContainsAny(out, "\n\r") || bytes.Contains(out, lineSep) || bytes.Contains(out, paraSep) {
			t.Fatalf("AppendCompact(%q) = %q: not one line of valid JSON with valid text", raw, out)
		}
		if json.Valid(raw) && ValidText(raw) {
			var a, b any
			if json.Unmarshal(raw, &a) != nil || json.Unmarshal(out, &b) != nil {
				return // numbers out of float64's range: both valid, neither decodes
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("AppendCompact(%q) = %q changes the value", raw, out)
			}
		}
	})
}

// FuzzHasNUL compares HasNUL with decoding: valid JSON whose decoded
// strings (keys included) hold U+0000 exactly when HasNUL says so.
func FuzzHasNUL(f *testing.F) {
	for _, s := range []string{`"\u0000"`, `{"a\u0000":1}`, `"\\u0000"`, `["x","\\\u0000"]`, `"\u00001"`, `{"a":"\U0000"}`, `"é\u0001"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if got, want := HasNUL(b), hasNULDecoded(v); got != want {
			t.Fatalf("HasNUL(%q) = %v, want %v", b, got, want)
		}
	})
}

func hasNULDecoded(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, 0)
	case []any:
		for _, e := range x {
			if hasNULDecoded(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) || hasNULDecoded(e) {
				return true
			}
		}
	}
	return false
}

// benchEvent is a typical SDK event, as the load test sends.
const benchEvent = `{"type":"track","event":"Product Viewed","userId":"user_42","messageId":"0193a2f0-6c1e-7b3a-9d2f-4a1c8e5b7d21","timestamp":"2026-11-24T10:00:00.000Z","properties":{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42","title":"Crème brûlée \"deluxe\" \u00e9"},"context":{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}}`

// BenchmarkValidText: the text check ingestion runs over every body, here
// a 100-event batch.
func BenchmarkValidText(b *testing.B) {
	body := []byte(`{"events":[` + strings.TrimSuffix(strings.Repeat(benchEvent+",", 100), ",") + `]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !ValidText(body) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkNesting: the depth check of one event's raw value.
func BenchmarkNesting(b *testing.B) {
	raw := []byte(benchEvent)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if Nesting(raw, 32) > 32 {
			b.Fatal("deep")
		}
	}
}

// BenchmarkAppendCompact: writing one stored value back out for export.
func BenchmarkAppendCompact(b *testing.B) {
	raw := []byte(`{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42"}`)
	b.SetBytes(int64(len(raw)))
	var out []byte
	for b.Loop() {
		out = AppendCompact(out[:0], raw)
	}
}
