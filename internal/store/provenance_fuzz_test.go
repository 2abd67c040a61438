package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzProvenance feeds profile_provenance's Go side (SQLite's) arbitrary
// JSON: its scanners must read objects as encoding/json does, minifyJSON
// must equal json.Compact, and whatever the traits, patch and earlier
// provenance, the result must be a JSON object of entries whose flag count
// by marker (what the upsert stores) is the number of flagged entries.
func FuzzProvenance(f *testing.F) {
	for _, s := range [][3]string{
		{`{"plan":"free"}`, `{"plan":"pro"}`, `{"plan":{"at":1,"by":"m0","v":"verified"}}`},
		{`{"a":{"b":[1, 2]}}`, `{"a":{"b":null},"c":null}`, ``},
		{`{}`, `{"k\"ey":"\u00e9","k\"ey":null}`, `{}`},
		{`{"flagged":true}`, `{"flagged":{"flagged":true}}`, `{"flagged":{"at":2,"by":"\"flagged\":true","v":"x","flagged":true,"was":{"at":1,"by":"m","v":"verified","value":"\"flagged\":true"}}}`},
		{`{ "x" : [ {"y" : "z z"} ] }`, `{"x":[{"y":"z z"}]}`, `{"x":{"at":1,"by":"m","v":"verified","signed":true}}`},
		{`{"a":1}`, `[1]`, `{}`},
		{`not json`, `{"a":1}`, `{"a":`},
	} {
		f.Add(s[0], s[1], s[2], "missing_token", true)
		f.Add(s[0], s[1], s[2], "verified", false)
	}
	f.Fuzz(func(t *testing.T, oldTraits, patch, oldProv, verification string, signedA bool) {
		for _, s := range []string{oldTraits, patch} {
			// Ingestion refuses invalid UTF-8 (which encoding/json would
			// read as U+FFFD): the store never meets it.
			if !json.Valid([]byte(s)) || !utf8.ValidString(s) {
				return
			}
			checkScan(t, s)
		}
		var newTraits string
		if isObject(oldTraits) && isObject(patch) {
			newTraits = refMerge(t, oldTraits, patch)
		} else {
			newTraits = `{}`
		}
		in := provenanceInput{OldTraits: &oldTraits, NewTraits: newTraits, Patch: patch, At: 1, By: "m\"1", Verification: verification}
		if json.Valid([]byte(oldProv)) {
			in.OldProv = &oldProv
		}
		if signedA {
			keys, _ := objectKeys(patch)
			b, _ := json.Marshal(keys)
			s := string(b)
			in.Signed = &s
		}
		out := profileProvenance(in)
		if out == nil || out == in.OldProv {
			return
		}
		if !isObject(*out) || !json.Valid([]byte(*out)) {
			t.Fatalf("provenance %q is not a JSON object", *out)
		}
		if in.OldProv != nil && !isProvenance(oldProv) {
			return // hand-made entries may hold the marker elsewhere
		}
		flagged := 0
		eachMember(*out, func(_, _, raw string) {
			var e struct {
				Flagged bool            `json:"flagged"`
				Was     json.RawMessage `json:"was"`
			}
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				t.Fatalf("entry %s: %v", raw, err)
			}
			if e.Flagged {
				flagged++
			}
		})
		if got := strings.Count(*out, provenanceFlagMarker); got != flagged {
			t.Fatalf("marker count %d, flagged entries %d in %s", got, flagged, *out)
		}
	})
}

// isProvenance reports whether s is provenance as the store writes it:
// an object of objects whose strings are written as quotePG writes them.
func isProvenance(s string) bool {
	var m map[string]map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return false
	}
	ok := true
	eachMember(s, func(key, keyRaw, raw string) {
		if quotePG(key) != keyRaw || strings.Count(raw, provenanceFlagMarker) > 1 {
			ok = false
		}
		var e struct {
			Flagged any `json:"flagged"`
			Was     any `json:"was"`
		}
		if json.Unmarshal([]byte(raw), &e) != nil || e.Flagged != nil && e.Flagged != true {
			ok = false
		}
		if e.Flagged == true && !strings.Contains(raw, provenanceFlagMarker) {
			ok = false
		}
		if w, _ := json.Marshal(e.Was); strings.Contains(string(w), `"flagged"`) {
			ok = false
		}
	})
	return ok
}

// checkScan compares eachMember with encoding/json on a valid JSON text.
func checkScan(t *testing.T, s string) {
	var want []string
	d := json.NewDecoder(strings.NewReader(s))
	if tok, err := d.Token(); err == nil && tok == json.Delim('{') {
		for d.More() {
			k, _ := d.Token()
			var v json.RawMessage
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			var c bytes.Buffer
			json.Compact(&c, v)
			want = append(want, k.(string)+"="+c.String())
		}
	}
	var got []string
	ok := eachMember(s, func(key, keyRaw, val string) {
		if decodeKey(keyRaw) != key {
			t.Fatalf("key %q decodes to %q", keyRaw, key)
		}
		got = append(got, key+"="+minifyJSON(val))
	})
	if ok != (want != nil || strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{")) {
		t.Fatalf("eachMember(%q) ok = %v", s, ok)
	}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("members of %q:\n got %q\nwant %q", s, got, want)
	}
	var c bytes.Buffer
	json.Compact(&c, []byte(s))
	if m := minifyJSON(s); m != c.String() {
		t.Fatalf("minifyJSON(%q) = %q, want %q", s, m, c.String())
	}
}

// refMerge is RFC 7396 over encoding/json values (key order aside), to
// give the fuzzed provenance a merged profile to compare against.
func refMerge(t *testing.T, target, patch string) string {
	var tv, pv any
	if json.Unmarshal([]byte(target), &tv) != nil || json.Unmarshal([]byte(patch), &pv) != nil {
		t.Skip()
	}
	var merge func(a, b any) any
	merge = func(a, b any) any {
		bm, ok := b.(map[string]any)
		if !ok {
			return b
		}
		am, ok := a.(map[string]any)
		if !ok {
			am = map[string]any{}
		}
		for k, v := range bm {
			if v == nil {
				delete(am, k)
			} else {
				am[k] = merge(am[k], v)
			}
		}
		return am
	}
	out, _ := json.Marshal(merge(tv, pv))
	return string(out)
}
