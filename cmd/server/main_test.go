package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv returns a getenv that sees only vars.
func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// runCLI runs one command in-process and returns stdout, stderr and the
// exit status main would use.
func runCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errw bytes.Buffer
	err := run(context.Background(), args, testEnv(vars), strings.NewReader(""), &out, &errw)
	code = exitCode(err, &errw)
	return out.String(), errw.String(), code
}

// testServer is a running `sendora serve` in this process.
type testServer struct {
	url  string
	logs *syncBuffer
	stop func() error
}

// startServer runs the real run(...) with serve on 127.0.0.1:0 and waits
// for its "listening" log line.
func startServer(t *testing.T, vars map[string]string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { done <- run(ctx, args, testEnv(vars), strings.NewReader(""), io.Discard, logs) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		if addr := listenAddr(logs.String()); addr != "" {
			var once sync.Once
			var stopErr error
			s := &testServer{url: "http://" + addr, logs: logs, stop: func() error {
				once.Do(func() { cancel(); stopErr = <-done })
				return stopErr
			}}
			t.Cleanup(func() { s.stop() })
			return s
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("server exited before listening: %v\nlogs:\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start; logs:\n%s", logs)
		}
	}
}

func listenAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			return line.Addr
		}
	}
	return ""
}

type projectRow struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	PublicKey string `json:"publicKey"`
}

func listProjects(t *testing.T, vars map[string]string, data string) []projectRow {
	t.Helper()
	out, errOut, code := runCLI(t, vars, "project", "list", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("project list: exit %d: %s", code, errOut)
	}
	var rows []projectRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("project list --json: %v\n%s", err, out)
	}
	return rows
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeFirstStartAndRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	vars := map[string]string{}

	s := startServer(t, vars, "--data", data)
	if code, body := get(t, s.url+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := get(t, s.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d, want 200", code)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in logs:\n%s", s.logs)
	}

	fi, err := os.Stat(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatalf("master.key: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("master.key mode = %o, want 600", perm)
	}
	key1, _ := os.ReadFile(filepath.Join(data, "master.key"))
	first := listProjects(t, vars, data)
	if len(first) != 1 || first[0].Name != "default" || !strings.HasPrefix(first[0].PublicKey, "pk_live_") || len(first[0].PublicKey) < len("pk_live_")+24 {
		t.Fatalf("projects after first start = %+v, want one named default with a pk_live_ key", first)
	}

	s2 := startServer(t, vars, "--data", data)
	if code, _ := get(t, s2.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz after restart = %d", code)
	}
	if err := s2.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if strings.Contains(s2.logs.String(), "first start") {
		t.Errorf("second start created something:\n%s", s2.logs)
	}
	key2, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if !bytes.Equal(key1, key2) {
		t.Errorf("master.key changed across restarts")
	}
	second := listProjects(t, vars, data)
	if len(second) != 1 || second[0] != first[0] {
		t.Errorf("projects after restart = %+v, want %+v", second, first)
	}
}

func TestServeWrongMasterKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, map[string]string{}, "--data", data)
	s.stop()

	wrong := strings.Repeat("ab", 32)
	var errw bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data},
		testEnv(map[string]string{"SENDORA_MASTER_KEY": wrong}), strings.NewReader(""), io.Discard, &errw)
	if err == nil || !strings.Contains(err.Error(), "wrong master key") {
		t.Fatalf("start with wrong key: err = %v, want a wrong master key error", err)
	}
	if code := exitCode(err, &errw); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error shows the key: %v", err)
	}
	if n := strings.Count(strings.TrimSpace(errw.String()), "\n"); n != 0 {
		t.Errorf("error is %d lines, want one:\n%s", n+1, errw.String())
	}

	// A missing master.key for an existing database is refused, not recreated.
	if err := os.Rename(filepath.Join(data, "master.key"), filepath.Join(data, "master.key.bak")); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data},
		testEnv(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "master key missing") {
		t.Fatalf("start without key: err = %v, want master key missing", err)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a new master.key was created over an existing database")
	}
}

func TestServeUnreadableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, []byte("x"), 0o600)
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", file},
		testEnv(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve on a file as data dir succeeded")
	}
	if code := exitCode(err, io.Discard); code == 0 {
		t.Errorf("exit code 0 for %v", err)
	}
}

func TestCLIUsage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	s.stop()

	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"--help"}, 0, "project create NAME", ""},
		{[]string{"project", "list", "--help"}, 0, "--json", ""},
		{[]string{"serve", "--help"}, 0, "--secret-cache-ttl", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"project"}, 2, "", "missing subcommand"},
		{[]string{"project", "frob"}, 2, "", `unknown subcommand "frob"`},
		{[]string{"project", "key"}, 2, "", "project key: missing subcommand (one of: rotate, revoke)"},
		{[]string{"project", "key", "frob"}, 2, "", `project key: unknown subcommand "frob"`},
		{[]string{"project", "list", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"project", "create"}, 2, "", "want one project NAME"},
		{[]string{"project", "create", "bad name!", "--data", data}, 1, "", "may only hold"},
		{[]string{"project", "list", "--data", filepath.Join(data, "missing")}, 1, "", "does not exist"},
		{[]string{"serve", "--secret-cache-ttl", "soon"}, 2, "", "invalid value"},
		{[]string{"identity", "strict", "maybe"}, 2, "", "want on or off"},
		{[]string{"identity", "strict", "on", "--data", data}, 1, "", "rotate one first"},
		{[]string{"identity", "rotate", "--overlap", "48h", "--data", data}, 2, "", "between 0 and 24h"},
		{[]string{"sign"}, 2, "", "--user is required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.inStdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.inStdout)
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.inStderr)
			}
			if tt.code != 0 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}

func TestProjectCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	startServer(t, nil, "--data", data).stop()
	out, errOut, code := runCLI(t, nil, "project", "create", "shop", "--data", data)
	if code != 0 {
		t.Fatalf("project create: exit %d: %s", code, errOut)
	}
	key := strings.TrimSpace(out)
	rows := listProjects(t, nil, data)
	if len(rows) != 2 || rows[1].Name != "shop" || rows[1].PublicKey != key {
		t.Errorf("projects = %+v, want default and shop with key %s", rows, key)
	}
	if _, errOut, code := runCLI(t, nil, "project", "create", "shop", "--data", data); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate create: exit %d, stderr %q", code, errOut)
	}
}
