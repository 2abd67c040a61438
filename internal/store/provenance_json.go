package store

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Small scanners over JSON text that SQLite's JSON functions have already
// produced (valid JSON), for profile_provenance: it reads only the
// top-level members of an object and copies value text as it is, so it
// never decodes a whole profile.

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at s[i] ('"').
func skipString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// skipValue returns the index just past the value starting at s[i].
func skipValue(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i = skipString(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// isObject reports whether s is a JSON object.
func isObject(s string) bool {
	i := skipSpace(s, 0)
	return i < len(s) && s[i] == '{'
}

// eachMember calls fn for each member of the JSON object s with its key
// decoded, the key as written and the value as written. It reports false
// when s is not an object.
func eachMember(s string, fn func(key, keyRaw, val string)) bool {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	for i < len(s) && s[i] == '"' {
		end := skipString(s, i)
		keyRaw := s[i:end]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return true
		}
		i = skipSpace(s, i+1)
		vend := skipValue(s, i)
		fn(decodeKey(keyRaw), keyRaw, s[i:vend])
		i = skipSpace(s, vend)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
		}
	}
	return true
}

// objectKeys returns the decoded keys of the JSON object s in order
// (repeats included), or false when s is not an object.
func objectKeys(s string) ([]string, bool) {
	var keys []string
	ok := eachMember(s, func(key, _, _ string) { keys = append(keys, key) })
	return keys, ok
}

// decodeKey decodes a JSON string token.
func decodeKey(raw string) string {
	if len(raw) >= 2 && strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var k string
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		return raw
	}
	return k
}

// minifyJSON removes the white space outside strings, as SQLite writes JSON.
func minifyJSON(v string) string {
	if !strings.ContainsAny(v, " \t\n\r") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end := skipString(v, i)
			b.WriteString(v[i:end])
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// quotePG writes s as a JSON string exactly as PostgreSQL's to_json(text)
// does (escape_json): ", \ and the C0 controls escaped (\b \f \n \r \t, else
// \u00xx in lower case), every other character as it is. Both databases
// then write the same provenance text.
func quotePG(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatUint(uint64(c)>>4, 16))
				b.WriteString(strconv.FormatUint(uint64(c)&15, 16))
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
