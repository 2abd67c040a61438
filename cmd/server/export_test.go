package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// needTool finds a program the test runs, failing under
// SENDORA_NODE_TESTS=required (make test) and skipping otherwise.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SENDORA_NODE_TESTS") == "required" {
			t.Fatalf("%s is not installed (SENDORA_NODE_TESTS=required)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// Readers of NDJSON as people run them: each line split at \n only,
// decoded as strict UTF-8 and parsed; they print the number of lines.
const (
	pythonReader = `import sys, json
n = 0
for line in sys.stdin.buffer:
    json.loads(line.decode("utf-8", errors="strict"))
    n += 1
print(n)`
	nodeReader = `const chunks = [];
process.stdin.on("data", c => chunks.push(c));
process.stdin.on("end", () => {
  const buf = Buffer.concat(chunks);
  const dec = new TextDecoder("utf-8", { fatal: true });
  let n = 0, start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    JSON.parse(dec.decode(buf.subarray(start, i)));
    n++; start = i + 1;
  }
  if (start !== buf.length) throw new Error("last line has no newline");
  console.log(n);
});`
)

// TestExportAnyStoredData: whatever is stored, by this version through the
// API or by an older one straight into the table (times past year 9999 or
// before year 0, text that is not UTF-8, lone surrogates, pretty-printed
// or broken JSON), `events export` exits 0 and every line parses in
// Python's json.loads and Node's JSON.parse.
func TestExportAnyStoredData(t *testing.T) {
	python, node := needTool(t, "python3"), needTool(t, "node")
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	p := listProjects(t, nil, data)[0]
	for _, body := range []string{
		// The event: 9999-12-31 sent "in 2000" would be stored in year 10025.
		`{"type":"track","event":"E","userId":"u1","timestamp":"9999-12-31T23:59:59Z","sentAt":"2000-01-01T00:00:00Z","messageId":"future"}`,
		"{\"type\":\"identify\",\"userId\":\"u2\",\"messageId\":\"pretty\",\"traits\":{\n  \"name\": \"Zoë \u2028 🙂\",\n  \"n\": [1,\n 2]\n}}",
		`{"type":"page","userId":"<script>&amp;","messageId":"html","properties":{"path":"/\u0001\u001f"}}`,
	} {
		b := strings.Replace(body, "{", `{"publicKey":"`+p.PublicKey+`",`, 1) // the body as written, whitespace kept
		resp, err := http.Post(s.url+"/events", "application/json", strings.NewReader(b))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s: %v %v", body, err, resp)
		}
		resp.Body.Close()
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// Rows as older versions could store them.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, store.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	old := []struct {
		id, user string
		ts       int64
		traits   any
	}{
		{"year-10025", "u3", time.Date(10025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), nil},
		{"year-minus-5", "u4", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), nil},
		{"max-int", "u5", 1<<63 - 1, nil},
		{"bad-utf8", "u6\xff", now, "{\"name\":\"caf\xe9\",\"k\xff\":1}"},
		{"lone-surrogate", "u7", now, `{"a":"\ud800","b":"\udc00x\ud83d"}`},
		{"encoded-surrogate", "u8", now, "{\"a\":\"\xed\xa0\x80\"}"},
		{"not-json", "u9", now, `{"plan":`},
		{"raw-newline-in-string", "u10", now, "{\"a\":\"line1\nline2\"}"},
		{"line-separator", "u11", now, "{\"a\":\"x\u2028y\u2029z\"}"},
		// U+0000, which ingestion now refuses but older versions stored.
		{"nul", "u12\x00", now, `{"a":"\u0000"}`},
	}
	for _, o := range old {
		if _, err := db.Exec(`INSERT INTO events (project_id, message_id, type, user_id, timestamp, received_at, verification, traits)
			VALUES ($1, $2, 'identify', $3, $4, $5, 'verified', $6)`, p.ID, o.id, o.user, o.ts, now, o.traits); err != nil {
			t.Fatalf("insert %s: %v", o.id, err)
		}
	}
	db.Close()

	out, errOut, code := runCLI(t, nil, "events", "export", "--data", data)
	if code != 0 || errOut != "" {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	want := 3 + len(old)
	if n := strings.Count(out, "\n"); n != want {
		t.Fatalf("export wrote %d lines, want %d:\n%s", n, want, out)
	}
	for _, reader := range []struct{ name, bin, flag, src string }{{"python", python, "-c", pythonReader}, {"node", node, "-e", nodeReader}} {
		cmd := exec.Command(reader.bin, reader.flag, reader.src)
		cmd.Stdin = strings.NewReader(out)
		got, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != strconv.Itoa(want) {
			t.Errorf("%s could not read the export: %v\n%s", reader.name, err, got)
		}
	}

	byID := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		byID[m["messageId"].(string)] = m
	}
	recv, _ := time.Parse(time.RFC3339Nano, byID["future"]["receivedAt"].(string))
	if ts, _ := time.Parse(time.RFC3339Nano, byID["future"]["timestamp"].(string)); !ts.Equal(recv.Add(24 * time.Hour)) {
		t.Errorf("the year-9999 event stored %v, want receivedAt + 24 h (%v)", ts, recv.Add(24*time.Hour))
	}
	for id, want := range map[string]string{"year-10025": "9999-12-31T23:59:59.999Z", "max-int": "9999-12-31T23:59:59.999Z", "year-minus-5": "0000-01-01T00:00:00Z"} {
		if got := byID[id]["timestamp"]; got != want {
			t.Errorf("%s: timestamp %v, want %s", id, got, want)
		}
	}
	if tr, _ := byID["pretty"]["traits"].(map[string]any); tr["name"] != "Zoë \u2028 🙂" {
		t.Errorf("pretty-printed traits: %v", byID["pretty"]["traits"])
	}
	if tr, _ := byID["bad-utf8"]["traits"].(map[string]any); tr["name"] != "caf\uFFFD" || byID["bad-utf8"]["userId"] != "u6\uFFFD" {
		t.Errorf("invalid UTF-8: %v %v", byID["bad-utf8"]["userId"], byID["bad-utf8"]["traits"])
	}
	if byID["not-json"]["traits"] != `{"plan":` {
		t.Errorf("traits that are not JSON: %v, want them kept as a string", byID["not-json"]["traits"])
	}
	if strings.Contains(out, "\u2028") || strings.Contains(out, "\u2029") {
		t.Errorf("export holds a raw line or paragraph separator")
	}
}
