package identity

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Strict readers of the top level of a JSON object, for JWT headers and
// claims: objectScanner validates as it reads; objectReader walks an
// object already validated (the traits of a token being signed). encoding/json matches keys case-insensitively ({"SUB": …} fills
// a field tagged "sub") and keeps the last of duplicated keys; JavaScript
// verifiers read keys exactly. So that no token means one thing here and
// another to the customer's own JWT library, a member is looked up by its
// exact, unescaped key, and a key that appears twice makes the object
// malformed.
//
// Every function here expects input that json.Valid accepted and that is
// valid UTF-8; they never panic on other input (FuzzJWT feeds them
// everything), but their answers then mean nothing.

// objectReader walks the members of one JSON object.
type objectReader struct {
	b []byte
	i int
}

// newObjectReader starts reading the object in b; false if b is not one.
func newObjectReader(b []byte) (objectReader, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return objectReader{}, false
	}
	return objectReader{b: b, i: i + 1}, true
}

// next returns the next member: its key as written (quoted, escapes
// undecoded) and its value's raw bytes. ok is false after the last one.
func (r *objectReader) next() (key, val []byte, ok bool) {
	b := r.b
	i := skipSpace(b, r.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	end := stringEnd(b, i)
	key = b[i:end]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	vend := valueEnd(b, i)
	r.i = vend
	return key, b[i:vend], true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at
// b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		d := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				d++
			case '}', ']':
				d--
				if d == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// unquote decodes the JSON string literal q (quotes included), which
// must be one the validator accepted (no raw control character or quote
// inside). It returns the content itself when there is no escape, so
// nothing is allocated in the common case. It refuses what encoding/json
// would silently replace with U+FFFD: an escaped lone surrogate
// ("\ud800"), so a signed "sub" means exactly one userId.
func unquote(q []byte) ([]byte, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, false
	}
	s := q[1 : len(q)-1]
	esc := bytes.IndexByte(s, '\\')
	if esc < 0 {
		return s, true
	}
	out := make([]byte, 0, len(s))
	out = append(out, s[:esc]...)
	for i := esc; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < 0x20 || c == '"' {
				return nil, false
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return nil, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xdc00 && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					lo, ok = hex4(s, i+2)
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return nil, false // a lone surrogate names no character
				}
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}

// hex4 reads four hex digits at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxJSONDepth bounds the nesting of a JWT's header and claims: a claims
// object (level 1) holding traits that nest MaxTraitsDepth levels.
const maxJSONDepth = MaxTraitsDepth + 1

// jsonValidator checks JSON text against RFC 8259's grammar, as
// json.Valid does, with a bound on nesting. Bytes of 0x80 and above are
// accepted in strings, as json.Valid accepts them; callers check UTF-8
// with utf8.Valid. FuzzJSONScan holds it to json.Valid.
type jsonValidator struct {
	b []byte
	i int
}

func (v *jsonValidator) space() { v.i = skipSpace(v.b, v.i) }

func (v *jsonValidator) eat(c byte) bool {
	if v.i < len(v.b) && v.b[v.i] == c {
		v.i++
		return true
	}
	return false
}

func (v *jsonValidator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '{':
		if depth == 0 {
			return false
		}
		v.i++
		v.space()
		if v.eat('}') {
			return true
		}
		for {
			if !v.str() {
				return false
			}
			v.space()
			if !v.eat(':') {
				return false
			}
			v.space()
			if !v.value(depth - 1) {
				return false
			}
			v.space()
			if !v.eat(',') {
				return v.eat('}')
			}
			v.space()
		}
	case c == '[':
		if depth == 0 {
			return false
		}
		v.i++
		v.space()
		if v.eat(']') {
			return true
		}
		for {
			if !v.value(depth - 1) {
				return false
			}
			v.space()
			if !v.eat(',') {
				return v.eat(']')
			}
			v.space()
		}
	case c == '"':
		return v.str()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return v.number()
	}
	return false
}

func (v *jsonValidator) literal(lit string) bool {
	if len(v.b)-v.i >= len(lit) && string(v.b[v.i:v.i+len(lit)]) == lit {
		v.i += len(lit)
		return true
	}
	return false
}

func (v *jsonValidator) str() bool {
	if !v.eat('"') {
		return false
	}
	b := v.b
	for i := v.i; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			v.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(b) {
				return false
			}
			i++
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(b, i+1); !ok {
					return false
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func (v *jsonValidator) digits() int {
	start := v.i
	for v.i < len(v.b) && '0' <= v.b[v.i] && v.b[v.i] <= '9' {
		v.i++
	}
	return v.i - start
}

func (v *jsonValidator) number() bool {
	v.eat('-')
	switch {
	case v.eat('0'):
	case v.digits() == 0:
		return false
	}
	if v.eat('.') && v.digits() == 0 {
		return false
	}
	if v.eat('e') || v.eat('E') {
		if !v.eat('+') {
			v.eat('-')
		}
		if v.digits() == 0 {
			return false
		}
	}
	return true
}

// objectScanner reads a JSON object member by member and validates it as
// it goes (json.Valid's grammar), so a token's claims are checked and read
// in one pass. Keys are returned as written; the caller picks each value's
// nesting bound once it has seen the key.
type objectScanner struct {
	v    jsonValidator
	more bool // a member was read: the next one needs a ','
}

// newObjectScanner starts on b, which must hold one object and nothing
// but white space around it.
func newObjectScanner(b []byte) (objectScanner, bool) {
	s := objectScanner{v: jsonValidator{b: b}}
	s.v.space()
	return s, s.v.eat('{')
}

// key reads the next member's key (quoted, escapes undecoded) and the ':'
// after it. done is true at the closing brace; ok is false on a syntax
// error.
func (s *objectScanner) key() (key []byte, done, ok bool) {
	v := &s.v
	v.space()
	if v.eat('}') {
		return nil, true, true
	}
	if s.more {
		if !v.eat(',') {
			return nil, false, false
		}
		v.space()
	}
	start := v.i
	if !v.str() {
		return nil, false, false
	}
	key = v.b[start:v.i]
	v.space()
	if !v.eat(':') {
		return nil, false, false
	}
	v.space()
	s.more = true
	return key, false, true
}

// rest reports, after the closing brace, whether only white space follows.
func (s *objectScanner) rest() bool {
	s.v.space()
	return s.v.i == len(s.v.b)
}

// value reads the member's value, which may nest at most depth arrays and
// objects.
func (s *objectScanner) value(depth int) ([]byte, bool) {
	start := s.v.i
	if !s.v.value(depth) {
		return nil, false
	}
	return s.v.b[start:s.v.i], true
}
