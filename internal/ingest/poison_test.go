package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// nested returns a JSON object nesting levels deep: {} is one level.
func nested(levels int) string {
	return strings.Repeat(`{"a":`, levels-1) + `{"deepest":true}` + strings.Repeat(`}`, levels-1)
}

// TestPoisonEventInBatch: one event the store cannot take (traits nesting
// 1,000 levels, which SQLite's json_patch refuses) among 499 valid ones is
// refused by its index and the other 499 are stored, instead of the whole
// batch being answered 503 and retried forever.
func TestPoisonEventInBatch(t *testing.T) {
	for _, poison := range []struct{ name, event, code, field string }{
		{"deep traits", `{"type":"identify","userId":"u_poison","traits":` + nested(1000) + `}`, "INVALID_EVENT", "traits"},
		{"invalid UTF-8", `{"type":"identify","userId":"u_poison","traits":{"name":"` + "\xff" + `"}}`, "INVALID_JSON", ""},
		{"lone surrogate", `{"type":"identify","userId":"u_poison","traits":{"name":"\ud800"}}`, "INVALID_JSON", ""},
		{"year 0", `{"type":"page","userId":"u_poison","timestamp":"0000-06-01T00:00:00Z"}`, "INVALID_EVENT", "timestamp"},
	} {
		t.Run(poison.name, func(t *testing.T) {
			h := newHarness(t)
			const at = 250
			var evs []string
			for i := range 500 {
				if i == at {
					evs = append(evs, poison.event)
					continue
				}
				evs = append(evs, fmt.Sprintf(`{"type":"identify","userId":"u%d","messageId":"m%d","traits":{"n":%d}}`, i, i, i))
			}
			r := h.post("/events/batch", `{"publicKey":"`+h.key+`","events":[`+strings.Join(evs, ",")+`]}`)
			if r.status != 200 || r.body["accepted"] != 499.0 {
				t.Fatalf("batch: %d %.300s", r.status, r.raw)
			}
			rej, _ := r.body["rejected"].([]any)
			if len(rej) != 1 {
				t.Fatalf("rejected = %v, want the poison alone", rej)
			}
			e := rej[0].(map[string]any)
			if e["index"] != float64(at) || e["code"] != poison.code || (poison.field != "" && e["field"] != poison.field) {
				t.Errorf("rejected = %v, want index %d %s %s", e, at, poison.code, poison.field)
			}
			stored := h.events()
			if len(stored) != 499 {
				t.Fatalf("%d events stored, want 499", len(stored))
			}
			for _, s := range stored {
				if s.UserID == "u_poison" {
					t.Errorf("the poison was stored")
				}
			}
		})
	}
}

// TestNestingBoundary: 32 levels are stored and merged into the profile;
// 33 are refused, in each of the three raw fields.
func TestNestingBoundary(t *testing.T) {
	h := newHarness(t)
	ok := h.post("/events", `{"publicKey":"`+h.key+`","type":"identify","userId":"u1","traits":`+nested(32)+`,"context":`+nested(32)+`}`)
	if ok.status != 200 {
		t.Fatalf("32 levels: %d %s", ok.status, ok.raw)
	}
	p, err := h.st.Profile(context.Background(), h.project.ID, "u1")
	if err != nil || !strings.Contains(string(p.Traits), `"deepest":true`) {
		t.Errorf("profile after a 32-level identify: %v %s", err, p.Traits)
	}
	for _, field := range []string{"traits", "properties", "context"} {
		r := h.post("/events", `{"publicKey":"`+h.key+`","type":"track","event":"E","userId":"u1","`+field+`":`+nested(33)+`}`)
		if code, _ := errorOf(r); r.status != 400 || code != "INVALID_EVENT" || r.body["error"].(map[string]any)["field"] != field {
			t.Errorf("33 levels in %s: %d %s", field, r.status, r.raw)
		}
	}
}

// TestStoredTimeBounds: timestamps are RFC 3339 in years 1970 to 9999, and
// the skew-corrected time is clamped into [1970-01-01, receivedAt + 24 h],
// so no stored time is before the epoch, years ahead, or past year 9999.
func TestStoredTimeBounds(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now().UTC()
	epoch := time.Unix(0, 0).UTC()
	tests := []struct {
		timestamp, sentAt string
		want              time.Time
	}{
		{"", "", now},
		{"2026-11-24T09:00:00Z", "", now.Add(-time.Hour)},
		{"2026-11-24T09:00:00Z", "2026-11-24T09:30:00Z", now.Add(-time.Hour + 30*time.Minute)}, // device clock 30 min slow
		{"9999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", now.Add(24 * time.Hour)},              // would be year 10025
		{"9999-12-31T23:59:59Z", "", now.Add(24 * time.Hour)},
		{"2026-11-25T09:59:59Z", "", now.Add(24*time.Hour - time.Second)},
		{"1970-01-01T00:00:00Z", "9999-01-01T00:00:00Z", epoch}, // skew of minus 8,000 years
		{"1970-01-01T00:30:00+01:00", "", epoch},                // 1969 in UTC
		{"1970-01-01T00:00:00.001Z", "", epoch.Add(time.Millisecond)},
	}
	for i, tt := range tests {
		body := h.js(ev("type", "page", "userId", "u1", "messageId", fmt.Sprintf("m%d", i), "timestamp", tt.timestamp, "sentAt", tt.sentAt))
		if r := h.post("/events", body); r.status != 200 {
			t.Fatalf("%q/%q: %d %s", tt.timestamp, tt.sentAt, r.status, r.raw)
		}
	}
	stored := h.events()
	if len(stored) != len(tests) {
		t.Fatalf("%d stored, want %d", len(stored), len(tests))
	}
	for i, tt := range tests {
		if got := stored[i].Timestamp; !got.Equal(tt.want) {
			t.Errorf("%q sent at %q: stored %v, want %v", tt.timestamp, tt.sentAt, got, tt.want)
		}
	}
}
