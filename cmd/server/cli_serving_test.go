package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// TestEveryCommandWhileServing runs each command of DESIGN.md section 5
// against the data directory of a server that is taking events at the
// same time, and each command's --help.
func TestEveryCommandWhileServing(t *testing.T) {
	data := newDataDir(t)
	secret := rotateCLI(t, "--data", data)
	key := listProjects(t, nil, data)[0].PublicKey
	// What the CLI changes below reaches the server within a second; none
	// of it touches the default project the load signs for.
	s := startServer(t, nil, "--data", data, "--secret-cache-ttl", "1h")
	load := startLoad(t, s.url, key, secret, 2)
	load.wait(t, 400)

	run := func(vars map[string]string, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, vars, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("%s while serving: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	pk := strings.TrimSpace(run(nil, "project", "create", "shop"))
	if !strings.HasPrefix(pk, "pk_live_") || strings.Contains(pk, "\n") {
		t.Errorf("project create printed %q, want the public key alone", pk)
	}
	table := run(nil, "project", "list")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "default ") || !strings.HasPrefix(lines[2], "shop ") || !strings.Contains(lines[2], pk) {
		t.Errorf("project list =\n%s", table)
	}
	var rows []projectRow
	if err := json.Unmarshal([]byte(run(nil, "project", "list", "--json")), &rows); err != nil || len(rows) != 2 || rows[1].PublicKey != pk {
		t.Errorf("project list --json = %+v, %v", rows, err)
	}

	shopSecret := rotateCLI(t, "--project", "shop", "--overlap", "1h", "--data", data)
	run(nil, "identity", "strict", "on", "--project", "shop")
	run(nil, "identity", "strict", "off", "--project", "shop")
	st, _, _ := identityState(t, data, "shop")
	if cur, _ := st.Current(); cur.Fingerprint != shopSecret.Fingerprint() || st.Strict {
		t.Errorf("shop after rotate, strict on, off: current %s strict %v", cur.Fingerprint, st.Strict)
	}

	// sign needs no data directory: the secret comes from the environment.
	tok, errOut, code := runCLI(t, map[string]string{"SENDORA_IDENTITY_SECRET": shopSecret.Reveal()}, "sign", "--user", "u 1")
	if code != 0 || tok != identity.Sign(shopSecret, "u 1")+"\n" {
		t.Errorf("sign = %d %q %q", code, tok, errOut)
	}

	export := run(nil, "events", "export")
	n := 0
	for line := range strings.Lines(export) {
		var e struct {
			MessageID, Type, UserID, Verification string
			ReceivedAt                            time.Time
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.MessageID == "" || e.Type != "track" || e.UserID == "" ||
			e.Verification != "verified" || e.ReceivedAt.IsZero() {
			t.Fatalf("export line %q: %v", line, err)
		}
		n++
	}
	if n < 400 {
		t.Errorf("exported %d events while serving, want at least the 400 acknowledged before", n)
	}
	if out := run(nil, "events", "export", "--project", "shop"); out != "" {
		t.Errorf("export of the empty project = %q", out)
	}
	run(nil, "backup", filepath.Join(t.TempDir(), "b.db"))
	if out, _, code := runCLI(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "sendora ") {
		t.Errorf("version = %d %q", code, out)
	}

	load.halt()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if got := len(exportIDs(t, data, nil)); got != len(load.snapshot()) {
		t.Errorf("%d events stored, %d acknowledged", got, len(load.snapshot()))
	}
}

// TestEveryCommandHasHelp: every command answers --help with its usage on
// stdout and exit status 0, and `sendora --help` lists it.
func TestEveryCommandHasHelp(t *testing.T) {
	top, _, code := runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(top, "  "+c.name+c.args) {
			t.Errorf("sendora --help does not list %q", c.name+c.args)
		}
		if c.name == "version" {
			continue
		}
		for _, h := range []string{"--help", "-h"} {
			out, errOut, code := runCLI(t, nil, append(strings.Fields(c.name), h)...)
			if code != 0 || !strings.HasPrefix(out, "Usage: sendora "+c.name) || errOut != "" {
				t.Errorf("%s %s: exit %d, stdout %.60q, stderr %q", c.name, h, code, out, errOut)
			}
		}
	}
}
