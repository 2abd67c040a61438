package ingest_test

import "testing"

// TestNULRefusedOnEveryStore: U+0000 in any string is refused as
// INVALID_JSON, by the event's index in a batch, on SQLite as on
// PostgreSQL (whose text and JSON functions cannot hold it): the same
// event never gets 200 from one store and 400 from the other.
func TestNULRefusedOnEveryStore(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{
		`{"publicKey":"` + h.key + `","type":"identify","userId":"u1","traits":{"a":"x\u0000y"}}`,
		`{"publicKey":"` + h.key + `","type":"track","event":"e","userId":"u\u00001"}`,
		`{"publicKey":"` + h.key + `","type":"track","event":"e\u0000","userId":"u1"}`,
		`{"publicKey":"` + h.key + `","type":"page","userId":"u1","properties":{"k\u0000":1}}`,
		`{"publicKey":"` + h.key + `","type":"page","userId":"u1","context":{"a":["\u0000"]}}`,
	} {
		if r := h.post("/events", body); r.status != 400 {
			t.Errorf("%s: %d %s, want 400", body, r.status, r.raw)
		} else if code, _ := errorOf(r); code != "INVALID_JSON" {
			t.Errorf("%s: code %s, want INVALID_JSON", body, code)
		}
	}
	// An escaped backslash before u0000 is the six characters \u0000, not NUL.
	if r := h.post("/events", `{"publicKey":"`+h.key+`","type":"identify","userId":"u1","traits":{"path":"C:\\u0000"}}`); r.status != 200 {
		t.Errorf("a literal backslash-u0000: %d %s, want 200", r.status, r.raw)
	}
	r := h.post("/events/batch", `{"publicKey":"`+h.key+`","events":[{"type":"identify","userId":"u2","traits":{"a":"\u0000"}},{"type":"track","event":"ok","userId":"u2"}]}`)
	rej, _ := r.body["rejected"].([]any)
	if r.status != 200 || r.body["accepted"] != float64(1) || len(rej) != 1 {
		t.Fatalf("batch with one NUL event: %d %s, want 1 accepted, index 0 rejected", r.status, r.raw)
	}
	if first, _ := rej[0].(map[string]any); first["index"] != float64(0) || first["code"] != "INVALID_JSON" {
		t.Errorf("rejected = %v, want index 0 INVALID_JSON", rej)
	}
	h.flush()
	if n := len(h.events()); n != 2 {
		t.Errorf("%d events stored, want the 2 valid ones", n)
	}
}
