package jsonx

import (
	"bytes"
	"encoding/json"
)

// Members reads the members of a JSON object, which must be valid JSON
// (json.Valid, or a json.RawMessage encoding/json filled), in order,
// duplicated keys included:
//
//	m, ok := jsonx.NewMembers(obj)
//	for m.Next() { m.Key(), m.Value(), m.Member() }
//
// It is a value with no pointers of its own beyond obj, so a caller's
// Members stays on its stack. For text that is not valid JSON its answers
// mean nothing, but it never panics and always ends.
type Members struct {
	b                []byte
	i                int
	key, val, member []byte
}

// NewMembers starts reading the object obj; false if obj is not one.
func NewMembers(obj []byte) (Members, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return Members{}, false
	}
	return Members{b: obj, i: i + 1}, true
}

// Next moves to the next member; false after the last.
func (m *Members) Next() bool {
	b, i := m.b, skipSpace(m.b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		m.i = len(b)
		return false // '}'
	}
	kend := stringEnd(b, i)
	j := skipSpace(b, kend)
	if j >= len(b) || b[j] != ':' {
		m.i = len(b)
		return false
	}
	j = skipSpace(b, j+1)
	vend := valueEnd(b, j)
	m.key, m.val, m.member = b[i:kend], b[j:vend], b[i:vend]
	m.i = vend
	return true
}

// Key is the current member's key as written: quoted, escapes undecoded.
func (m *Members) Key() []byte { return m.key }

// Value is the current member's value as written.
func (m *Members) Value() []byte { return m.val }

// Member is the current member's whole text, key, colon and value, as written.
func (m *Members) Member() []byte { return m.member }

// Key returns the text of a quoted key as Members hands it: the bytes
// between the quotes when it has no escape (a slice of quoted, nothing
// allocated), else what encoding/json decodes it to. Valid text
// (ValidText) decodes to exactly one string, so two keys are the same key
// exactly when their Key is equal.
func Key(quoted []byte) []byte {
	if len(quoted) >= 2 && bytes.IndexByte(quoted, '\\') < 0 {
		return quoted[1 : len(quoted)-1]
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return quoted
	}
	return []byte(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
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
