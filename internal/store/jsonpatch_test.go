package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// mergeCases are RFC 7396 merge patches with their results: the RFC's own
// examples (appendix A), then what profiles meet in practice.
var mergeCases = []struct{ target, patch, want string }{
	{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
	{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
	{`{"a":"b"}`, `{"a":null}`, `{}`},
	{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
	{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
	{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
	{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
	{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
	{`["a","b"]`, `["c","d"]`, `["c","d"]`},
	{`{"a":"b"}`, `["c"]`, `["c"]`},
	{`{"a":"foo"}`, `null`, `null`},
	{`{"a":"foo"}`, `"bar"`, `"bar"`},
	{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
	{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
	{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	// Nested objects merge key by key; nulls inside new objects vanish.
	{`{"plan":"free","address":{"city":"Lyon","zip":"69001"}}`, `{"address":{"zip":null,"street":"Rue X"},"mrr":10}`,
		`{"plan":"free","address":{"city":"Lyon","street":"Rue X"},"mrr":10}`},
	{`{"a":{"b":{"c":{"d":1}}}}`, `{"a":{"b":{"c":{"e":2},"f":null}}}`, `{"a":{"b":{"c":{"d":1,"e":2}}}}`},
	{`{"a":1}`, `{"a":{"b":null,"c":[null]}}`, `{"a":{"c":[null]}}`},
	// Arrays are values: replaced whole, never merged.
	{`{"tags":["a","b"]}`, `{"tags":["c"]}`, `{"tags":["c"]}`},
	{`{"tags":[{"x":1}]}`, `{"tags":[{"y":null}]}`, `{"tags":[{"y":null}]}`},
	// An empty patch changes nothing; an object replaces a scalar.
	{`{"a":1,"b":[2]}`, `{}`, `{"a":1,"b":[2]}`},
	{`{"a":"x"}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
	{`"scalar"`, `{"a":1}`, `{"a":1}`},
	// Numbers, strings and keys that need care.
	{`{"n":1}`, `{"big":12345678901234567890,"f":1.50,"e":1e3,"neg":-0.25}`, `{"n":1,"big":12345678901234567890,"f":1.5,"e":1000,"neg":-0.25}`},
	{`{}`, `{"é":"ü","emoji":"😀","q":"say \"hi\"\\n","k\"ey":true,"tab\t":"\u00e9"}`, `{"é":"ü","emoji":"😀","q":"say \"hi\"\\n","k\"ey":true,"tab\t":"é"}`},
	{`{"a":true,"b":false}`, `{"a":false,"b":null,"c":true}`, `{"a":false,"c":true}`},
	{`{"a":{}}`, `{"a":{}}`, `{"a":{}}`},
	{`{ "spaced" : [ 1, 2 ] }`, `{ "other" : { "x" : 1 } }`, `{"spaced":[1,2],"other":{"x":1}}`},
}

// TestJSONPatchSameOnBothDatabases runs every merge case through the
// database's json_patch (SQLite's own; on PostgreSQL the migration's
// function) and compares the results as JSON with the RFC's.
func TestJSONPatchSameOnBothDatabases(t *testing.T) {
	cases := mergeCases
	// 32 levels of nesting, the contract's limit, merge on both.
	deepT, deepP, deepW := `{"leaf":1}`, `{"leaf":null,"new":2}`, `{"new":2}`
	for range 31 {
		deepT, deepP, deepW = `{"d":`+deepT+`}`, `{"d":`+deepP+`}`, `{"d":`+deepW+`}`
	}
	cases = append(cases, struct{ target, patch, want string }{deepT, deepP, deepW})

	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, c := range cases {
			got, err := s.JSONPatchForTest(ctx, c.target, c.patch)
			if err != nil {
				t.Errorf("json_patch(%s, %s): %v", c.target, c.patch, err)
				continue
			}
			if !sameJSON(t, got, c.want) {
				t.Errorf("json_patch(%s, %s) = %s, want %s", c.target, c.patch, got, c.want)
			}
		}
	})
}

// TestProfileMergeSameOnBothDatabases sends identify traits through the
// write path and reads the profile back: the same profile on both.
func TestProfileMergeSameOnBothDatabases(t *testing.T) {
	patches := []string{
		`{"email":"a@b.c","plan":"free","address":{"city":"Lyon","zip":"69001"},"tags":["x"]}`,
		`{"plan":"pro","address":{"zip":null},"tags":["y","z"],"mrr":49.5}`,
		`{"email":null,"address":{"country":"FR"},"nested":{"gone":null}}`,
	}
	want := `{"plan":"pro","address":{"city":"Lyon","country":"FR"},"tags":["y","z"],"mrr":49.5,"nested":{}}`
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		// In one batch and in separate commits alike.
		var all []store.EventRow
		for i, tr := range patches {
			all = append(all, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint("one-", i), Type: "identify", UserID: "u1",
				Timestamp: now, ReceivedAt: now, Verification: "verified", Traits: []byte(tr)})
		}
		if err := s.WriteBatch(ctx, &store.Batch{Events: all}, nil); err != nil {
			t.Fatal(err)
		}
		for i, tr := range patches {
			b := &store.Batch{Events: []store.EventRow{{ProjectID: p.ID, MessageID: fmt.Sprint("sep-", i), Type: "identify", UserID: "u2",
				Timestamp: now, ReceivedAt: now, Verification: "missing_token", Traits: []byte(tr)}}}
			if err := s.WriteBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []string{"u1", "u2"} {
			pr, err := s.Profile(ctx, p.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, string(pr.Traits), want) {
				t.Errorf("profile %s = %s, want %s", u, pr.Traits, want)
			}
			if pr.LastVerified != (u == "u1") {
				t.Errorf("profile %s LastVerified = %v", u, pr.LastVerified)
			}
		}
	})
}

// sameJSON compares JSON texts as values, numbers by their exact value (so
// 1.50 equals 1.5 and 1e3 equals 1000, but no precision is lost to float64).
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	return reflect.DeepEqual(canonJSON(t, a), canonJSON(t, b))
}

func canonJSON(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	if d.More() {
		t.Fatalf("trailing data after JSON: %q", s)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case json.Number:
			r, ok := new(big.Rat).SetString(x.String())
			if !ok {
				t.Fatalf("number %s", x)
			}
			return "number:" + r.RatString()
		}
		return v
	}
	return walk(v)
}
