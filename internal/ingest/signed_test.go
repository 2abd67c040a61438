package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/jsonx"
)

func TestApplySignedTraits(t *testing.T) {
	for _, tt := range []struct {
		name, typ, client, signed string
		want                      string
		keys                      []string
	}{
		{"identify: the signed value wins", "identify", `{"plan":"enterprise","email":"a@b.c"}`, `{"plan":"startup"}`,
			`{"plan":"startup","email":"a@b.c"}`, []string{"plan"}},
		{"identify: signed keys the client did not send are added", "identify", `{"email":"a@b.c"}`, `{"plan":"startup","mrr":99}`,
			`{"email":"a@b.c","plan":"startup","mrr":99}`, []string{"plan", "mrr"}},
		{"identify without client traits: the signed ones", "identify", ``, `{"plan":"startup"}`,
			`{"plan":"startup"}`, []string{"plan"}},
		{"identify: a key the client repeats is replaced once", "identify", `{"plan":"a","x":1,"plan":"b"}`, `{"plan":"startup"}`,
			`{"plan":"startup","x":1}`, []string{"plan"}},
		{"identify: an escaped client key is the same key", "identify", `{"pl\u0061n":"enterprise","pla\u006e":"x"}`, `{"plan":"startup"}`,
			`{"plan":"startup"}`, []string{"plan"}},
		{"identify: an escaped signed key matches the client's", "identify", `{"plan":"enterprise"}`, `{"pl\u0061n":"startup"}`,
			`{"pl\u0061n":"startup"}`, []string{"plan"}},
		{"identify: nested values are replaced whole", "identify", `{"company":{"name":"X","admin":true}}`, `{"company":{"name":"Acme"}}`,
			`{"company":{"name":"Acme"}}`, []string{"company"}},
		{"identify: a signed null (removes the trait from the profile)", "identify", `{"plan":"enterprise"}`, `{"plan":null}`,
			`{"plan":null}`, []string{"plan"}},
		{"identify: white space kept as written", "identify", "{ \"a\" : 1 ,\n \"plan\" : \"x\" }", `{ "plan" : "startup" }`,
			`{"a" : 1,"plan" : "startup"}`, []string{"plan"}},
		{"identify: empty signed traits change nothing", "identify", `{"plan":"x"}`, `{}`, `{"plan":"x"}`, nil},
		{"identify: empty client traits", "identify", `{}`, `{"plan":"startup"}`, `{"plan":"startup"}`, []string{"plan"}},
		{"track: only the keys the client sent", "track", `{"plan":"enterprise","x":1}`, `{"plan":"startup","mrr":99}`,
			`{"plan":"startup","x":1}`, []string{"plan"}},
		{"track: no signed key sent: traits as sent", "track", `{"x":1}`, `{"plan":"startup"}`, `{"x":1}`, nil},
		{"track without traits: none added", "track", ``, `{"plan":"startup"}`, ``, nil},
		{"page: only the keys the client sent", "page", `{"mrr":1000}`, `{"plan":"startup","mrr":99}`, `{"mrr":99}`, []string{"mrr"}},
		{"unicode keys", "identify", `{"名前":"偽"}`, `{"名前":"José"}`, `{"名前":"José"}`, []string{"名前"}},
		{"a key that differs by case is another key", "identify", `{"Plan":"enterprise"}`, `{"plan":"startup"}`,
			`{"Plan":"enterprise","plan":"startup"}`, []string{"plan"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var client []byte
			if tt.client != "" {
				client = []byte(tt.client)
			}
			got, keys := applySignedTraits(tt.typ, client, []byte(tt.signed))
			if string(got) != tt.want || !slices.Equal(keys, tt.keys) {
				t.Errorf("applySignedTraits = %s %q, want %s %q", got, keys, tt.want, tt.keys)
			}
			if len(got) > 0 && !json.Valid(got) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

// checkSigned holds one result of applySignedTraits to the rules: the
// result is a JSON object; every signed key it holds appears once, with
// its signed value; for identify every signed key is there, for track and
// page exactly those the client sent; every other key is the client's, as
// the client sent it; keys lists the signed keys the result holds.
func checkSigned(t *testing.T, typ string, client, signed []byte) {
	t.Helper()
	got, keys := applySignedTraits(typ, client, signed)
	sv := members(t, signed)
	cv := members(t, client)
	if len(got) == 0 {
		if len(client) != 0 || typ == "identify" && len(sv) > 0 {
			t.Fatalf("no traits from client %s and signed %s", client, signed)
		}
		return
	}
	if !json.Valid(got) {
		t.Fatalf("result is not JSON: %s (client %s, signed %s)", got, client, signed)
	}
	gv := members(t, got)
	var wantKeys []string
	for k, vs := range gv {
		if s, ok := sv[k]; ok {
			if len(vs) != 1 || vs[0] != s[0] {
				t.Fatalf("signed key %q holds %q, want once %q (client %s, signed %s, result %s)", k, vs, s[0], client, signed, got)
			}
			wantKeys = append(wantKeys, k)
			continue
		}
		if !reflect.DeepEqual(vs, cv[k]) {
			t.Fatalf("client key %q holds %q, want %q (client %s, signed %s, result %s)", k, vs, cv[k], client, signed, got)
		}
	}
	for k := range sv {
		_, sent := cv[k]
		if _, ok := gv[k]; ok != (typ == "identify" || sent) {
			t.Fatalf("signed key %q in the result: %v (type %s, sent by the client: %v)", k, ok, typ, sent)
		}
	}
	slices.Sort(wantKeys)
	sortedKeys := slices.Sorted(slices.Values(keys))
	if !slices.Equal(sortedKeys, wantKeys) {
		t.Fatalf("keys = %q, want %q", keys, wantKeys)
	}
}

// members decodes a JSON object's members by key (unescaped), each value
// compacted, every duplicate kept in order.
func members(t *testing.T, obj []byte) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	if len(obj) == 0 {
		return m
	}
	for it, _ := jsonx.NewMembers(obj); it.Next(); {
		var b bytes.Buffer
		if err := json.Compact(&b, it.Value()); err != nil {
			t.Fatalf("value %q of %s: %v", it.Value(), obj, err)
		}
		key := string(jsonx.Key(it.Key()))
		m[key] = append(m[key], b.String())
	}
	return m
}

// FuzzSignedTraits: for any client traits the decoder accepts and any
// signed traits identity returns (an object, each key once), the result
// follows the rules of checkSigned.
func FuzzSignedTraits(f *testing.F) {
	for _, s := range [][2]string{
		{`{"plan":"enterprise"}`, `{"plan":"startup"}`},
		{`{"plan":"a","plan":"b","pl\u0061n":"c"}`, `{"plan":"startup","mrr":99}`},
		{`{"a":{"plan":"x"},"b":[1,{"plan":2}]}`, `{"plan":{"deep":[1,2,{"x":"}"}]}}`},
		{`{"\"":"q","\\":"b"}`, `{"\"":1}`},
		{``, `{"x":null}`},
		{` { } `, ` { "a" : [ ] } `},
	} {
		f.Add(s[0], s[1], uint8(0))
	}
	f.Fuzz(func(t *testing.T, client, signed string, typ uint8) {
		var c, s json.RawMessage
		if client != "" {
			var w struct {
				Traits json.RawMessage `json:"traits"`
			}
			if json.Unmarshal([]byte(`{"traits":`+client+`}`), &w) != nil || !isObjectOrNull(w.Traits) || !jsonx.ValidText(w.Traits) {
				return
			}
			c = dropNull(w.Traits)
		}
		if json.Unmarshal([]byte(signed), &s) != nil || !bytes.HasPrefix(s, []byte("{")) || !jsonx.ValidText(s) {
			return
		}
		seen := map[string]bool{}
		unique := true
		for it, _ := jsonx.NewMembers(s); it.Next(); {
			key := string(jsonx.Key(it.Key()))
			unique = unique && !seen[key]
			seen[key] = true
		}
		if !unique {
			return // identity refuses such a token
		}
		checkSigned(t, []string{"identify", "track", "page"}[typ%3], c, s)
	})
}

// A hostile SDK sends client traits with thousands of keys, many of them
// the signed ones again; the result keeps one of each signed key.
func TestSignedTraitsManyKeys(t *testing.T) {
	var client, signed strings.Builder
	client.WriteByte('{')
	signed.WriteByte('{')
	for i := range 3000 {
		if i > 0 {
			client.WriteByte(',')
		}
		fmt.Fprintf(&client, `"k%d":%d`, i%1500, i)
	}
	for i := range 200 {
		if i > 0 {
			signed.WriteByte(',')
		}
		fmt.Fprintf(&signed, `"k%d":"signed"`, i*7)
	}
	client.WriteByte('}')
	signed.WriteByte('}')
	for _, typ := range []string{"identify", "track"} {
		checkSigned(t, typ, []byte(client.String()), []byte(signed.String()))
	}
}

// BenchmarkApplySignedTraits: the merge a verified JWT with traits costs
// an event, on the sizes SDKs send (an identify with six traits, a token
// signing three of them) and on a large one.
func BenchmarkApplySignedTraits(b *testing.B) {
	client := []byte(`{"email":"sam@acme.co","name":"Sam Lee","plan":"enterprise","mrr":1000,"company":{"name":"Acme","size":40},"created_at":"2026-01-05T10:00:00Z"}`)
	signed := []byte(`{"plan":"startup","mrr":99,"email":"sam@acme.co"}`)
	var big, bigSigned strings.Builder
	big.WriteByte('{')
	bigSigned.WriteByte('{')
	for i := range 200 {
		if i > 0 {
			big.WriteByte(',')
		}
		fmt.Fprintf(&big, `"trait_%d":"value %d"`, i, i)
	}
	for i := range 20 {
		if i > 0 {
			bigSigned.WriteByte(',')
		}
		fmt.Fprintf(&bigSigned, `"trait_%d":"signed %d"`, i*10, i)
	}
	big.WriteByte('}')
	bigSigned.WriteByte('}')
	for _, c := range []struct {
		name           string
		typ            string
		client, signed []byte
	}{
		{"identify_6_traits_3_signed", "identify", client, signed},
		{"identify_no_client_traits", "identify", nil, signed},
		{"track_without_traits", "track", nil, signed},
		{"identify_200_traits_20_signed", "identify", []byte(big.String()), []byte(bigSigned.String())},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				applySignedTraits(c.typ, c.client, c.signed)
			}
		})
	}
}
