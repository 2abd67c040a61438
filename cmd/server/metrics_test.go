package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// logAddr returns the "addr" of the first JSON log line whose msg is msg.
func logAddr(logs, msg string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			return line.Addr
		}
	}
	return ""
}

// scrape returns the metrics page.
func scrape(t *testing.T, url string) string {
	t.Helper()
	code, body := get(t, url+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	return body
}

// metric reads one series from a metrics page: series is the name with its
// labels as Prometheus prints them (sorted), e.g.
// `sendora_events_accepted_total{project="default"}`.
func metric(page, series string) (float64, bool) {
	for line := range strings.Lines(page) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// waitMetric scrapes until series reaches want. HTTP request counts are
// recorded after the response is sent, so the client may have its answer a
// moment before the count moves; everything else is recorded before.
func waitMetric(t *testing.T, url, series string, want float64) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := scrape(t, url)
		if v, _ := metric(page, series); v == want || time.Now().After(deadline) {
			return page
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetrics runs the real server with --metrics-addr and checks that its
// own listener reports what the ingestion API did, with the runtime and
// process collectors and pprof beside it, and that the public listener
// serves neither.
func TestMetrics(t *testing.T) {
	data := newDataDir(t)
	secret := rotateCLI(t, "--data", data)
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	key := listProjects(t, nil, data)[0].PublicKey
	s := startServer(t, nil, "--data", data, "--metrics-addr", "127.0.0.1:0")
	maddr := logAddr(s.logs.String(), "metrics listening")
	if maddr == "" {
		t.Fatalf("no metrics listener in the log:\n%s", s.logs)
	}
	murl := "http://" + maddr

	event := func(user, token string) string {
		b, _ := json.Marshal(map[string]any{"publicKey": key, "type": "track", "event": "E", "userId": user, "identityToken": token})
		return string(b)
	}
	for i := range 5 {
		u := "metrics-user-" + strconv.Itoa(i)
		if code, body := postJSON(t, s.url+"/events", event(u, identity.Sign(secret, u))); code != 200 {
			t.Fatalf("signed event: %d %s", code, body)
		}
	}
	forged := identity.Sign(secret, "metrics-user-0")
	for range 2 {
		if code, _ := postJSON(t, s.url+"/events", event("metrics-victim", forged)); code != 401 {
			t.Fatalf("forged event: %d", code)
		}
	}
	if code, _ := postJSON(t, s.url+"/events", event("metrics-user-9", "")); code != 401 {
		t.Fatalf("unsigned event: %d", code)
	}
	batch := `{"publicKey":"` + key + `","events":[` + strings.Join([]string{
		event("metrics-user-1", identity.Sign(secret, "metrics-user-1")),
		event("metrics-user-2", identity.Sign(secret, "metrics-user-2")),
		event("metrics-user-3", identity.Sign(secret, "metrics-user-3")),
		event("metrics-victim", forged),
		`{"type":"bogus"}`,
	}, ",") + `]}`
	if code, body := postJSON(t, s.url+"/events/batch", batch); code != 200 || !strings.Contains(body, `"accepted":3`) {
		t.Fatalf("batch: %d %s", code, body)
	}
	if code, _ := postJSON(t, s.url+"/events", event("u", ""), "Authorization", "Bearer pk_live_unknownunknownunknown"); code != 401 {
		t.Fatalf("unknown key: %d", code)
	}

	page := waitMetric(t, murl, `sendora_http_requests_total{route="POST /events",status="401"}`, 4)
	for series, want := range map[string]float64{
		`sendora_events_accepted_total{project="default"}`:                                  8,
		`sendora_events_rejected_total{project="default",reason="signature_mismatch"}`:      3,
		`sendora_events_rejected_total{project="default",reason="missing_token"}`:           1,
		`sendora_events_rejected_total{project="default",reason="rotated_secret"}`:          0,
		`sendora_events_report_only_total{project="default",reason="missing_token"}`:        0,
		`sendora_events_invalid_total{project="default"}`:                                   1,
		`sendora_events_stored_total`:                                                       8,
		`sendora_ingest_request_events_count{endpoint="/events/batch"}`:                     1,
		`sendora_ingest_request_events_sum{endpoint="/events/batch"}`:                       5,
		`sendora_ingest_request_events_count{endpoint="/events"}`:                           8,
		`sendora_http_requests_total{route="POST /events",status="401"}`:                    4,
		`sendora_http_requests_total{route="POST /events/batch",status="200"}`:              1,
		`sendora_http_request_duration_seconds_count{route="POST /events/batch"}`:           1,
		`sendora_writer_commit_events_sum`:                                                  8,
		`sendora_writer_queue_events`:                                                       0,
		`sendora_writer_commit_errors_total`:                                                0,
		`sendora_verifier_cache_loads_total`:                                                1,
		`sendora_verifier_cache_misses_total`:                                               1,
		`sendora_verifier_cache_hits_total`:                                                 8,
		`sendora_build_info{goversion="` + goVersion(page) + `",version="` + version + `"}`: 1,
	} {
		if got, ok := metric(page, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if v, _ := metric(page, `sendora_http_requests_total{route="POST /events",status="200"}`); v != 5 {
		// Counted after each answer; the 401s above came later, so these
		// are in.
		t.Errorf("POST /events 200 = %v, want 5", v)
	}
	for _, name := range []string{"sendora_writer_commits_total", "sendora_writer_commit_duration_seconds_count", "sendora_database_size_bytes", "go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if v, ok := metric(page, name); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
		}
	}
	for _, leak := range []string{key, "metrics-user-", "metrics-victim", forged, forged[len("hmac_v1:"):], secret.Reveal()} {
		if strings.Contains(page, leak) {
			t.Errorf("the metrics page holds %q", leak)
		}
	}

	if code, body := get(t, murl+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof on the metrics listener = %d", code)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine"} {
		if code, body := get(t, s.url+path); code == 200 || strings.Contains(body, "go_goroutines") {
			t.Errorf("the public listener serves %s: %d", path, code)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(murl + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after shutdown")
	}

	// Off by default: no listener, no log line.
	s2 := startServer(t, nil, "--data", data)
	s2.stop()
	if strings.Contains(s2.logs.String(), "metrics listening") {
		t.Error("metrics listener started without --metrics-addr")
	}
}

// goVersion reads the goversion label back, so the test does not depend on
// the toolchain that runs it.
func goVersion(page string) string {
	_, rest, _ := strings.Cut(page, `sendora_build_info{goversion="`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestMetricsAddrErrors(t *testing.T) {
	data := newDataDir(t)
	s := startServer(t, nil, "--data", data, "--metrics-addr", "127.0.0.1:0")
	taken := logAddr(s.logs.String(), "metrics listening")
	// A second server needs a data directory of its own (one server per
	// SQLite data directory).
	_, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", newDataDir(t), "--metrics-addr", taken)
	// The server's log lines of its start come first; the error is the last line.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, "sendora: metrics: listen on "+taken) {
		t.Errorf("metrics address in use: exit %d, stderr %q; want 1 and one line naming it", code, errOut)
	}
}
