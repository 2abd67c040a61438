package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
)

// dashClient is a browser stand-in for the dashboard: a cookie jar, and no
// redirects followed so each response can be checked.
type dashClient struct {
	t    *testing.T
	base string
	c    *http.Client
	// cookies holds every cookie value the server set, to look for in logs.
	cookies []string
}

func newDashClient(t *testing.T, base string) *dashClient {
	jar, _ := cookiejar.New(nil)
	return &dashClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (d *dashClient) do(method, path string, form url.Values) (int, string) {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What a browser sends with a form post from the dashboard itself.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", d.base)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			d.cookies = append(d.cookies, c.Value)
		}
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var secretInPage = regexp.MustCompile(`sis_[A-Za-z0-9_-]{43}`)

// TestLogsHoldNoSecrets captures every log line of a full scenario (first
// start, admin created, secret rotated by the CLI and the dashboard, strict
// on, signed, forged and malformed events on both endpoints, sign-in with a
// wrong and a right password, the token checker, a backup and an export
// while serving, metrics scraped) at debug level, and checks that no
// secret, token, password, cookie, master key or request body appears in
// it, nor in the CLI's stderr or the metrics; nor, but for event bodies and
// the master key in its own file, in the raw bytes of the data directory's
// files (WAL included, while serving and after) or of a backup. It also
// checks the access log line each request gets.
func TestLogsHoldNoSecrets(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var logs []string     // everything the server and the CLI wrote to stderr
	var needles []string  // what must never appear there
	var requests []string // paths requested, to match with access log lines

	s0 := startServer(t, nil, "--data", data, "--log-level", "debug")
	if err := s0.stop(); err != nil {
		t.Fatal(err)
	}
	logs = append(logs, s0.logs.String())
	keyFile, err := os.ReadFile(filepath.Join(data, datadir.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keyHex := strings.TrimSpace(string(keyFile))
	keyRaw, _ := hex.DecodeString(keyHex)
	needles = append(needles, keyHex, strings.ToUpper(keyHex), base64.StdEncoding.EncodeToString(keyRaw), base64.RawURLEncoding.EncodeToString(keyRaw))

	cli := func(vars map[string]string, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, vars, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		logs = append(logs, errOut)
		return out
	}
	var rb [12]byte
	rand.Read(rb[:])
	password := "pw-" + hex.EncodeToString(rb[:])
	wrongPassword := "wrong-" + hex.EncodeToString(rb[:])
	needles = append(needles, password, wrongPassword)
	cli(map[string]string{"SENDORA_ADMIN_PASSWORD": password}, "admin", "create", "--email", "ops@example.com")
	secret1 := mustParse(t, cli(nil, "identity", "rotate"))
	cli(nil, "identity", "strict", "on")

	s := startServer(t, nil, "--data", data, "--log-level", "debug", "--metrics-addr", "127.0.0.1:0", "--retention", "720h")
	key := listProjects(t, nil, data)[0].PublicKey

	// Ingestion: signed, forged, malformed and unsigned events with a body
	// canary, on both endpoints, the key in the body and in the header.
	canary := "body-canary-" + hex.EncodeToString(rb[:4])
	needles = append(needles, canary)
	token := func(sec identity.Secret, user string) string {
		tok := identity.Sign(sec, user)
		needles = append(needles, tok, strings.TrimPrefix(tok, "hmac_v1:"))
		return tok
	}
	ev := func(user, tok string) map[string]any {
		return map[string]any{"type": "identify", "userId": user, "identityToken": tok, "traits": map[string]any{"email": canary + "@example.com", "plan": canary}}
	}
	post := func(path string, body any, header ...string) int {
		b, _ := json.Marshal(body)
		code, _ := postJSON(t, s.url+path, string(b), header...)
		requests = append(requests, "POST "+path)
		return code
	}
	one := ev("u_ok", token(secret1, "u_ok"))
	one["publicKey"] = key
	if code := post("/events", one); code != 200 {
		t.Fatalf("signed event: %d", code)
	}
	if code := post("/events", ev("u_victim", token(secret1, "u_attacker")), "Authorization", "Bearer "+key); code != 401 {
		t.Fatalf("forged event: %d", code)
	}
	if code := post("/events/batch", map[string]any{"publicKey": key, "events": []any{
		ev("u_b1", token(secret1, "u_b1")), ev("u_b2", "hmac_v1:"+strings.Repeat("ab", 31)), ev("u_b3", "hmac_v2:"+hex.EncodeToString(rb[:])),
		ev("u_b4", token(secret1, "someone-else")), ev("u_b5", ""),
	}}); code != 200 {
		t.Fatalf("batch: %d", code)
	}
	needles = append(needles, hex.EncodeToString(rb[:]))

	// The dashboard: a failed and a good sign-in, the page, a rotation
	// (the one response that shows the secret) and the token checker.
	dash := newDashClient(t, s.url)
	if code, _ := dash.do("POST", "/login", url.Values{"email": {"ops@example.com"}, "password": {wrongPassword}}); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _ := dash.do("POST", "/login", url.Values{"email": {"ops@example.com"}, "password": {password}}); code != 303 {
		t.Fatalf("sign in: %d", code)
	}
	if code, _ := dash.do("GET", "/settings/identity", nil); code != 200 {
		t.Fatalf("settings page: %d", code)
	}
	code, page := dash.do("POST", "/settings/identity/rotate", url.Values{"project": {"default"}, "overlap": {"1h"}, "version": {"1"}})
	secret2Text := secretInPage.FindString(page)
	if code != 200 || secret2Text == "" {
		t.Fatalf("rotate in the dashboard: %d, no secret in the page", code)
	}
	secret2 := mustParse(t, secret2Text)
	if code, _ := dash.do("POST", "/settings/identity/check", url.Values{"project": {"default"}, "userId": {"u_check"}, "token": {token(secret2, "u_check")}}); code != 200 {
		t.Fatalf("token checker: %d", code)
	}
	if code := post("/events", map[string]any{"publicKey": key, "type": "track", "event": "E", "userId": "u_new", "identityToken": token(secret2, "u_new")}); code != 200 {
		t.Fatalf("event signed with the dashboard's secret: %d", code)
	}
	if code, _ := dash.do("POST", "/logout", url.Values{}); code != 303 {
		t.Fatalf("logout: %d", code)
	}
	requests = append(requests, "POST /login", "GET /settings/identity", "POST /settings/identity/rotate", "POST /settings/identity/check", "POST /logout")

	// The CLI while serving: rotate, sign, export, backup.
	secret3 := mustParse(t, cli(nil, "identity", "rotate", "--overlap", "1h"))
	signed, errOut, code := runCLI(t, map[string]string{"SENDORA_IDENTITY_SECRET": secret3.Reveal()}, "sign", "--user", "u_cli")
	if code != 0 {
		t.Fatalf("sign: %s", errOut)
	}
	logs = append(logs, errOut)
	needles = append(needles, strings.TrimSpace(signed))
	export := cli(nil, "events", "export")
	backupFile := filepath.Join(t.TempDir(), "b.db")
	cli(nil, "backup", backupFile)

	for _, sec := range []identity.Secret{secret1, secret2, secret3} {
		v := sec.Reveal()
		needles = append(needles, v, v[len(identity.SecretPrefix):], v[len(identity.SecretPrefix):len(identity.SecretPrefix)+16])
	}
	if len(dash.cookies) < 2 {
		t.Fatalf("the dashboard set %d cookies; the scenario did not sign in", len(dash.cookies))
	}
	needles = append(needles, dash.cookies...)
	// The data directory (with the WAL, while serving) and the backup hold
	// none of it either, but the master key in its own file and the event
	// bodies (the canary) where events are kept.
	masterKey := needles[:4]
	stored := map[string]bool{canary: true}
	scanDataFiles(t, data, backupFile, needles, masterKey, stored)

	metrics := scrape(t, "http://"+logAddr(s.logs.String(), "metrics listening"))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	logs = append(logs, s.logs.String())
	scanDataFiles(t, data, backupFile, needles, masterKey, stored)

	all := strings.Join(logs, "\n")
	for _, n := range needles {
		if n == "" {
			continue
		}
		if strings.Contains(all, n) {
			t.Errorf("the logs hold %.24q…", n)
		}
		if strings.Contains(metrics, n) {
			t.Errorf("the metrics hold %.24q…", n)
		}
	}
	for _, n := range []string{"u_ok", "u_victim", "u_attacker", "u_b1", key} {
		if strings.Contains(metrics, n) {
			t.Errorf("the metrics hold %q (a userId or key as a label)", n)
		}
	}
	// The export is the one place events come back; tokens never do.
	for _, n := range needles {
		if n != "" && n != canary && !strings.Contains(n, canary) && strings.Contains(export, n) {
			t.Errorf("the export holds %.24q…", n)
		}
	}

	checkAccessLog(t, s.logs.String(), requests)
}

func mustParse(t *testing.T, s string) identity.Secret {
	t.Helper()
	sec, err := identity.ParseSecret(s)
	if err != nil {
		t.Fatalf("not a secret: %v", err)
	}
	return sec
}

// checkAccessLog checks that the server's log is JSON, one object a line,
// and that each request got one info line with its method, route pattern,
// status and duration, and the project and event count for ingestion.
func checkAccessLog(t *testing.T, logs string, requests []string) {
	t.Helper()
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
			continue
		}
		if line["msg"] != "request" {
			continue
		}
		if line["level"] != "INFO" {
			t.Errorf("request logged at %v", line["level"])
		}
		method, _ := line["method"].(string)
		route, _ := line["route"].(string)
		if _, ok := line["status"].(float64); !ok {
			t.Errorf("request line without a status: %v", line)
		}
		if _, ok := line["duration"].(float64); !ok {
			t.Errorf("request line without a duration: %v", line)
		}
		if strings.HasPrefix(route, "POST /events") {
			if line["project"] != "default" {
				t.Errorf("ingestion line without the project: %v", line)
			}
			if n, _ := line["events"].(float64); n < 1 {
				t.Errorf("ingestion line without the event count: %v", line)
			}
		}
		if !strings.HasPrefix(route, method+" ") {
			t.Errorf("route %q is not the matched pattern of a %s request", route, method)
		}
		seen[route]++
		for k := range line {
			switch k {
			case "time", "level", "msg", "method", "route", "status", "duration", "project", "events":
			default:
				t.Errorf("request line has a field %q: %v", k, line)
			}
		}
	}
	want := map[string]int{}
	for _, r := range requests {
		want[r]++
	}
	for r, n := range want {
		if seen[r] < n {
			t.Errorf("%d access log lines for %s, want %d", seen[r], r, n)
		}
	}
	if t.Failed() {
		t.Logf("access log routes: %v", fmt.Sprint(seen))
	}
}
