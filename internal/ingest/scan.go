package ingest

import (
	"bytes"
	"unicode/utf8"
)

// MaxNesting is how deep traits, properties and context may nest: {} is
// one level, {"a":{}} two. Deeper values are refused before they reach the
// store, whose JSON functions (the profile merge) have their own, lower
// limits and would fail the event at commit.
const MaxNesting = 32

// The hot path keeps traits, properties and context as raw JSON, so the
// checks below are single passes over bytes that encoding/json has already
// accepted as syntactically valid JSON, not a second decode.

// validText reports whether every string in b, which is valid JSON syntax,
// is valid Unicode: valid UTF-8 bytes (encoding/json accepts invalid ones and
// would store them as sent in a raw value) and \u escapes that pair their
// UTF-16 surrogates (a lone \ud800 is no character at all). Outside strings
// valid JSON is ASCII, so checking the whole of b checks its strings.
func validText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return true
		}
		i += j + 1 // the escaped character
		if i >= len(b) {
			return false
		}
		if b[i] != 'u' {
			i++ // \" \\ \/ \b \f \n \r \t: skipping it keeps \\u from reading as an escape
			continue
		}
		r, ok := hex4(b[i+1:])
		if !ok {
			return false
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF: // a low surrogate with no high one before it
			return false
		case r >= 0xD800 && r <= 0xDBFF: // must be followed by \u and a low surrogate
			if len(b) < i+6 || b[i] != '\\' || b[i+1] != 'u' {
				return false
			}
			lo, ok := hex4(b[i+2:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// nesting returns how deep objects and arrays nest in b, which is valid
// JSON syntax: 0 for a scalar, 1 for {} or [], 2 for {"a":[]}. It stops
// counting once past limit, so a hostile value costs no more than a
// shallow one of its size.
func nesting(b []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: find its closing quote, one not escaped.
			for {
				j := bytes.IndexByte(b[i+1:], '"')
				if j < 0 {
					return deepest // unterminated: not valid JSON, not ours to judge
				}
				i += j + 1
				k := i - 1
				for k >= 0 && b[k] == '\\' {
					k--
				}
				if (i-1-k)%2 == 0 { // an even run of backslashes escapes nothing
					break
				}
			}
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}
