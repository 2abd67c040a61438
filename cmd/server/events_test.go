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

// TestServerIDsCannotBeSquatted: a client that reads a server-assigned
// messageId and sends the ids it guesses come next (or the same one, or any
// srv_ id) is refused, so the next event sent without a messageId is stored
// and exported, not answered 200 as a "retry" of the squatter's event.
func TestServerIDsCannotBeSquatted(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	key := listProjects(t, nil, data)[0].PublicKey
	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(s.url+"/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		return resp.StatusCode, m
	}
	event := func(user, messageID string) string {
		b, _ := json.Marshal(map[string]any{"publicKey": key, "type": "track", "event": "E", "userId": user, "messageId": messageID})
		return string(b)
	}

	code, m := post(event("attacker", ""))
	seen, _ := m["messageId"].(string)
	if code != 200 || !strings.HasPrefix(seen, "srv_") {
		t.Fatalf("id-less event: %d %v", code, m)
	}
	// Every id the attacker could derive from the one it saw, and the
	// formats earlier versions used (a prefix and a counter).
	guesses := []string{seen, "srv_", "srv_x", "srv_" + strings.Repeat("0", 26)}
	if i := strings.LastIndexByte(seen, '_'); i > 3 {
		for n := 1; n <= 5; n++ {
			guesses = append(guesses, fmt.Sprintf("%s%d", seen[:i+1], n))
		}
	}
	for _, g := range guesses {
		code, m := post(event("attacker", g))
		e, _ := m["error"].(map[string]any)
		if code != 400 || e["code"] != "INVALID_EVENT" || e["field"] != "messageId" {
			t.Errorf("squatting messageId %q: %d %v, want 400 INVALID_EVENT field messageId", g, code, m)
		}
	}
	// The batch endpoint refuses them by index too.
	batch := `{"publicKey":"` + key + `","events":[` + event("attacker", "srv_guess") + `,` + event("attacker", "m_ok") + `]}`
	resp, err := http.Post(s.url+"/events/batch", "application/json", strings.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	var br struct {
		Accepted int
		Rejected []struct {
			Index       int
			Code, Field string
		}
	}
	json.NewDecoder(resp.Body).Decode(&br)
	resp.Body.Close()
	if br.Accepted != 1 || len(br.Rejected) != 1 || br.Rejected[0].Index != 0 || br.Rejected[0].Field != "messageId" {
		t.Errorf("batch with a srv_ messageId: %+v", br)
	}

	// The victim's id-less events: each answered with a new id, each stored.
	victim := map[string]bool{}
	for range 20 {
		code, m := post(event("victim", ""))
		id, _ := m["messageId"].(string)
		if code != 200 || !strings.HasPrefix(id, "srv_") || len(id) < len("srv_")+22 || victim[id] || id == seen {
			t.Fatalf("victim's event: %d %v", code, m)
		}
		victim[id] = true
	}
	s.stop()

	out, errOut, code := runCLI(t, nil, "events", "export", "--data", data)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ MessageID, UserID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if e.UserID == "victim" {
			delete(victim, e.MessageID)
		}
		if e.UserID == "attacker" && strings.HasPrefix(e.MessageID, "srv_") && e.MessageID != seen {
			t.Errorf("a client-chosen srv_ id was stored: %q", e.MessageID)
		}
	}
	if len(victim) != 0 {
		t.Errorf("%d of the victim's acknowledged events are not in the export: %v", len(victim), victim)
	}
}
