package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/metrics"
)

// value returns the value of the series named name whose labels include
// every pair in labels, and whether it exists.
func value(t *testing.T, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(s, labels[i], labels[i+1]) {
					continue series
				}
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue(), true
			case s.Gauge != nil:
				return s.Gauge.GetValue(), true
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabel(s *dto.Metric, name, val string) bool {
	for _, l := range s.GetLabel() {
		if l.GetName() == name && l.GetValue() == val {
			return true
		}
	}
	return false
}

func TestIngestOutcomes(t *testing.T) {
	m := metrics.New("test")
	o := ingest.Outcome{Endpoint: "/events/batch", Project: "web", Events: 7, Accepted: 3, Invalid: 1}
	o.Rejected[identity.SignatureMismatch] = 2
	o.ReportOnly[identity.MissingToken] = 1
	m.Ingest(o)
	m.Ingest(ingest.Outcome{Endpoint: "/events", Project: "web", Events: 1, Accepted: 1})
	m.Ingest(ingest.Outcome{Endpoint: "/events", Project: "shop", Events: 1, Invalid: 1})

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sendora_events_accepted_total", []string{"project", "web"}, 4},
		{"sendora_events_invalid_total", []string{"project", "web"}, 1},
		{"sendora_events_invalid_total", []string{"project", "shop"}, 1},
		{"sendora_events_rejected_total", []string{"project", "web", "reason", "signature_mismatch"}, 2},
		{"sendora_events_report_only_total", []string{"project", "web", "reason", "missing_token"}, 1},
		// Every reason exists from the project's first event, at zero.
		{"sendora_events_rejected_total", []string{"project", "shop", "reason", "rotated_secret"}, 0},
		{"sendora_ingest_request_events", []string{"endpoint", "/events/batch"}, 1},
		{"sendora_ingest_request_events", []string{"endpoint", "/events"}, 2},
	} {
		got, ok := value(t, m, c.name, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(t, m, "sendora_events_rejected_total", "reason", "verified"); ok {
		t.Error(`a rejected series with reason "verified" exists`)
	}
}

func TestCommitsRequestsAndRetention(t *testing.T) {
	m := metrics.New("test")
	m.Commit(ingest.CommitStats{Requests: 3, Events: 10, Inserted: 8, Duration: 2 * time.Millisecond})
	m.Commit(ingest.CommitStats{Requests: 1, Events: 5, Err: errors.New("disk full")})
	m.Request("POST /events", 200, time.Millisecond)
	m.Request("POST /events", 200, time.Millisecond)
	m.Request("POST /events", 503, time.Millisecond)
	m.Request("unmatched", 404, time.Millisecond)
	m.RetentionSwept(1500, time.Second, nil)
	m.RetentionSwept(10, time.Second, errors.New("busy"))

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sendora_writer_commits_total", nil, 2},
		{"sendora_writer_commit_errors_total", nil, 1},
		{"sendora_writer_commit_events", nil, 2},
		{"sendora_writer_commit_duration_seconds", nil, 2},
		{"sendora_events_stored_total", nil, 8},
		{"sendora_events_duplicates_total", nil, 2},
		{"sendora_http_requests_total", []string{"route", "POST /events", "status", "200"}, 2},
		{"sendora_http_requests_total", []string{"route", "POST /events", "status", "503"}, 1},
		{"sendora_http_requests_total", []string{"route", "unmatched", "status", "404"}, 1},
		{"sendora_http_request_duration_seconds", []string{"route", "POST /events"}, 3},
		{"sendora_retention_deleted_events_total", nil, 1510},
		{"sendora_retention_errors_total", nil, 1},
		{"sendora_build_info", []string{"version", "test"}, 1},
	} {
		got, ok := value(t, m, c.name, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}

// TestRecordingAllocatesNothing keeps the hot path's metrics free of
// allocations once a project and route have been seen: no label strings
// are built per request or per event.
func TestRecordingAllocatesNothing(t *testing.T) {
	m := metrics.New("test")
	o := ingest.Outcome{Endpoint: "/events/batch", Project: "web", Events: 20, Accepted: 18}
	o.Rejected[identity.SignatureMismatch] = 1
	o.ReportOnly[identity.MissingToken] = 1
	commit := ingest.CommitStats{Requests: 4, Events: 40, Inserted: 40, Duration: time.Millisecond}
	m.Ingest(o)
	m.Request("POST /events/batch", 200, time.Millisecond)
	for name, fn := range map[string]func(){
		"Ingest":  func() { m.Ingest(o) },
		"Request": func() { m.Request("POST /events/batch", 200, time.Millisecond) },
		"Commit":  func() { m.Commit(commit) },
	} {
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s allocates %v times per call, want 0", name, n)
		}
	}
}

func BenchmarkIngest(b *testing.B) {
	m := metrics.New("test")
	o := ingest.Outcome{Endpoint: "/events/batch", Project: "web", Events: 20, Accepted: 18}
	o.ReportOnly[identity.MissingToken] = 2
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Ingest(o)
			m.Request("POST /events/batch", 200, time.Millisecond)
		}
	})
}

func TestHandler(t *testing.T) {
	m := metrics.New("test")
	m.Ingest(ingest.Outcome{Endpoint: "/events", Project: "web", Events: 1, Accepted: 1})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`sendora_events_accepted_total{project="web"} 1`,
		"go_goroutines ", "go_memstats_heap_alloc_bytes ", `sendora_build_info{goversion=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ = %d", code)
	}
	if code, body := get("/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/goroutine = %d %.80q", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
}
