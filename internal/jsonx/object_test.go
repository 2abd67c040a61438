package jsonx

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestMembers(t *testing.T) {
	obj := []byte(" {\"a\" : 1 , \"b\":{\"c\":[1,\"}\"]},\"a\":\"x\\\"y\", \"d\\u0065\":null, \"e\":-1.5e3}")
	var got []string
	for m, ok := NewMembers(obj); ok && m.Next(); {
		got = append(got, string(Key(m.Key()))+"="+string(m.Value())+"|"+string(m.Member()))
	}
	want := []string{
		`a=1|"a" : 1`,
		`b={"c":[1,"}"]}|"b":{"c":[1,"}"]}`,
		`a="x\"y"|"a":"x\"y"`,
		`de=null|"d\u0065":null`,
		`e=-1.5e3|"e":-1.5e3`,
	}
	if len(got) != len(want) {
		t.Fatalf("members = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %q, want %q", i, got[i], want[i])
		}
	}
	for _, notObject := range []string{"", "[]", "1", `"{}"`, " "} {
		if _, ok := NewMembers([]byte(notObject)); ok {
			t.Errorf("NewMembers(%q) reads an object", notObject)
		}
	}
	if m, _ := NewMembers([]byte("{}")); m.Next() {
		t.Error("{} has a member")
	}
}

// FuzzMembers: for any JSON object, Members reads exactly the keys and
// values encoding/json's tokenizer reads, in order; for any other text it
// ends without panicking.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"\u00e9":{"x":["]",{}]},"b":"\\"}`, `{"a":1`, `{"a"}`, `{,,}`, `{"a":"`, "{\"a\":[\"\\\"]\"]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		m, ok := NewMembers(b)
		var keys, vals []string
		for n := 0; ok && m.Next(); n++ {
			if n > len(b) {
				t.Fatalf("more members than bytes in %q", s)
			}
			keys = append(keys, string(Key(m.Key())))
			vals = append(vals, string(m.Value()))
		}
		if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		dec.Token() // {
		var i int
		for ; dec.More(); i++ {
			k, _ := dec.Token()
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if i >= len(keys) {
				t.Fatalf("Members read %d members of %q, encoding/json more", len(keys), s)
			}
			if k.(string) != keys[i] && ValidText(b) {
				t.Fatalf("key %d of %q = %q, encoding/json %q", i, s, keys[i], k)
			}
			if string(v) != vals[i] {
				t.Fatalf("value %d of %q = %q, encoding/json %q", i, s, vals[i], v)
			}
		}
		if i != len(keys) {
			t.Fatalf("Members read %d members of %q, encoding/json %d", len(keys), s, i)
		}
	})
}
