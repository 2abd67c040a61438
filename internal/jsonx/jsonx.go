// Package jsonx checks and repairs raw JSON text in single passes over its
// bytes: whether its strings are valid Unicode, how deep it nests, and, for
// writing stored values back out, a compact copy that any JSON parser
// reads. The ingestion hot path keeps traits, properties and context as
// raw bytes; decoding them again would cost more than the checks.
package jsonx

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// ValidText reports whether every string in b, which is valid JSON syntax,
// is valid Unicode: valid UTF-8 bytes (encoding/json accepts invalid ones and
// would store them as sent in a raw value) and \u escapes that pair their
// UTF-16 surrogates (a lone \ud800 is no character at all). Outside strings
// valid JSON is ASCII, so checking the whole of b checks its strings.
func ValidText(b []byte) bool {
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

// HasNUL reports whether a string in b, which is valid JSON syntax, holds
// U+0000, written \u0000 (a raw NUL byte is not valid JSON). Ingestion
// refuses it on every store alike: PostgreSQL can keep it neither in text
// (a userId) nor through its JSON functions (traits, in the profile merge).
// It is valid JSON all the same, so what is written back out may hold it.
func HasNUL(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return false
		}
		i += j + 1 // the escaped character
		if i >= len(b) {
			return false
		}
		if b[i] != 'u' {
			i++ // \" \\ and the others: skipping it keeps \\u0000 from reading as an escape
			continue
		}
		if r, ok := hex4(b[i+1:]); ok && r == 0 {
			return true
		}
		i++
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

// Nesting returns how deep objects and arrays nest in b, which is valid
// JSON syntax: 0 for a scalar, 1 for {} or [], 2 for {"a":[]}. It stops
// counting once past limit, so a hostile value costs no more than a
// shallow one of its size.
func Nesting(b []byte, limit int) int {
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

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, exactly as encoding/json
// writes a Go string: invalid UTF-8 becomes U+FFFD, control characters,
// quotes and backslashes are escaped, and so are <, >, & and U+2028/U+2029
// (so the text is safe in HTML and in JavaScript source, and no line
// splitter breaks it), without reflection or allocation.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendCompact appends raw, a stored JSON value, in a form every JSON
// parser reads on one line: compacted (no newline of the original survives
// to break NDJSON), invalid UTF-8 and lone surrogate escapes replaced by
// U+FFFD, U+2028/U+2029 escaped. Text that is not JSON at all (a value
// edited by hand in the database) is appended as a JSON string holding it,
// so nothing is lost and the output still parses.
func AppendCompact(b, raw []byte) []byte {
	if !ValidText(raw) {
		raw = Repair(raw)
	}
	start := len(b)
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return AppendString(b[:start], string(raw))
	}
	b = buf.Bytes()
	if bytes.Contains(b[start:], lineSep) || bytes.Contains(b[start:], paraSep) {
		// Valid JSON has them only inside strings, where the escape means
		// the same character.
		out := append([]byte(nil), b[start:]...)
		out = bytes.ReplaceAll(out, lineSep, []byte(`\u2028`))
		out = bytes.ReplaceAll(out, paraSep, []byte(`\u2029`))
		b = append(b[:start], out...)
	}
	return b
}

var lineSep, paraSep = []byte("\u2028"), []byte("\u2029")

// Repair returns a copy of b with each invalid UTF-8 byte replaced by
// U+FFFD and each \u escape of an unpaired UTF-16 surrogate by \ufffd, so
// that ValidText holds for it.
func Repair(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			if b[i+1] != 'u' {
				out = append(out, c, b[i+1])
				i += 2
				continue
			}
			r, ok := hex4(b[i+2:])
			if !ok {
				out = append(out, c)
				i++
				continue
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if len(b) >= i+12 && b[i+6] == '\\' && b[i+7] == 'u' {
					if lo, ok := hex4(b[i+8:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						out = append(out, b[i:i+12]...)
						i += 12
						continue
					}
				}
				out = append(out, `\ufffd`...)
			case r >= 0xDC00 && r <= 0xDFFF:
				out = append(out, `\ufffd`...)
			default:
				out = append(out, b[i:i+6]...)
			}
			i += 6
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
