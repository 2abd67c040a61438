package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEventsExport(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	key := listProjects(t, nil, data)[0].PublicKey

	var evs []string
	for i := range 30 {
		evs = append(evs, fmt.Sprintf(`{"type":"track","event":"E","userId":"u%d","messageId":"m%02d","properties":{"i":%d}}`, i, i, i))
	}
	body := `{"publicKey":"` + key + `","events":[` + strings.Join(evs, ",") + `]}`
	resp, err := http.Post(s.url+"/events/batch", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %v %v", err, resp)
	}
	resp.Body.Close()
	s.stop()

	out, errOut, code := runCLI(t, nil, "events", "export", "--data", data)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("export printed progress to a non-terminal: %q", errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var e struct {
			MessageID, Type, UserID, Verification string
			ReceivedAt                            time.Time
			Properties                            map[string]int
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Text())
		}
		if want := fmt.Sprintf("m%02d", n); e.MessageID != want || e.Type != "track" || e.UserID != fmt.Sprintf("u%d", n) ||
			e.Verification != "no_secret" || e.ReceivedAt.IsZero() || e.Properties["i"] != n {
			t.Errorf("line %d = %+v", n, e)
		}
		n++
	}
	if n != 30 {
		t.Errorf("exported %d events, want 30", n)
	}

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, _, code := runCLI(t, nil, "events", "export", "--since", future, "--data", data); code != 0 || out != "" {
		t.Errorf("export --since future = %d %q, want nothing", code, out)
	}
	if _, errOut, code := runCLI(t, nil, "events", "export", "--since", "yesterday", "--data", data); code != 2 || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("bad --since: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, nil, "events", "export", "--project", "nope", "--data", data); code != 1 || !strings.Contains(errOut, `no project named "nope"`) {
		t.Errorf("unknown project: %d %q", code, errOut)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProjectOrigins(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	startServer(t, nil, "--data", data).stop()
	if out, _, code := runCLI(t, nil, "project", "origins", "default", "--data", data); code != 0 || out != "any origin\n" {
		t.Errorf("fresh project: %d %q", code, out)
	}
	if out, _, code := runCLI(t, nil, "project", "origins", "default", "https://shop.example/", "http://localhost:3000", "--data", data); code != 0 || out != "https://shop.example\nhttp://localhost:3000\n" {
		t.Errorf("set: %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, nil, "project", "origins", "default", "shop.example", "--data", data); code != 2 || !strings.Contains(errOut, "not an origin") {
		t.Errorf("bad origin: %d %q", code, errOut)
	}
	if out, _, code := runCLI(t, nil, "project", "origins", "default", "--data", data); code != 0 || !strings.Contains(out, "https://shop.example") {
		t.Errorf("bad origin changed the list: %q", out)
	}
	if out, _, code := runCLI(t, nil, "project", "origins", "default", "--clear", "--data", data); code != 0 || out != "any origin\n" {
		t.Errorf("clear: %d %q", code, out)
	}
}
