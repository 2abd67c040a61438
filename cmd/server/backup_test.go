package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// loadGen posts signed batches to a server from a few goroutines and keeps
// the messageIds the server acknowledged, in order.
type loadGen struct {
	mu      sync.Mutex
	acked   []string
	reached map[int]chan struct{} // closed once len(acked) >= key
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	done    chan struct{} // closed when every worker has returned
}

func startLoad(t *testing.T, url, key string, secret identity.Secret, workers int) *loadGen {
	t.Helper()
	g := &loadGen{reached: map[int]chan struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(g.halt)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-g.stop:
					return
				default:
				}
				var ids []string
				var evs []map[string]any
				for j := range 20 {
					id := fmt.Sprintf("load-%d-%06d-%02d", w, i, j)
					u := fmt.Sprintf("load-user-%d", j)
					ids = append(ids, id)
					evs = append(evs, map[string]any{"type": "track", "event": "Tick", "userId": u, "messageId": id,
						"identityToken": identity.Sign(secret, u), "properties": map[string]any{"i": i}})
				}
				body, _ := json.Marshal(map[string]any{"publicKey": key, "events": evs})
				resp, err := client.Post(url+"/events/batch", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Errorf("load: %v", err)
					return
				}
				var out struct {
					Accepted int `json:"accepted"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 200 || out.Accepted != len(ids) {
					t.Errorf("load: status %d, accepted %d of %d", resp.StatusCode, out.Accepted, len(ids))
					return
				}
				g.add(ids)
			}
		}()
	}
	go func() { g.wg.Wait(); close(g.done) }()
	return g
}

// wait returns once n events have been acknowledged; it fails the test if
// the load stopped first (its workers report why).
func (g *loadGen) wait(t *testing.T, n int) {
	t.Helper()
	select {
	case <-g.until(n):
	case <-g.done:
		t.Fatalf("the load stopped after %d of %d events", len(g.snapshot()), n)
	}
}

func (g *loadGen) add(ids []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.acked = append(g.acked, ids...)
	for n, ch := range g.reached {
		if len(g.acked) >= n {
			close(ch)
			delete(g.reached, n)
		}
	}
}

// until returns a channel closed once n events have been acknowledged.
func (g *loadGen) until(n int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := make(chan struct{})
	if len(g.acked) >= n {
		close(ch)
	} else {
		g.reached[n] = ch
	}
	return ch
}

func (g *loadGen) snapshot() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.acked...)
}

// halt stops the load and waits for requests in flight; a test that ends
// early has it called by its cleanup, before the server stops.
func (g *loadGen) halt() {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
}

// exportIDs returns the messageIds and verification results that
// `sendora events export` prints for a data directory.
func exportIDs(t *testing.T, data string, vars map[string]string) map[string]string {
	t.Helper()
	out, errOut, code := runCLI(t, vars, "events", "export", "--data", data)
	if code != 0 {
		t.Fatalf("events export: %s", errOut)
	}
	ids := map[string]string{}
	for line := range strings.Lines(out) {
		var e struct{ MessageID, Verification string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		ids[e.MessageID] = e.Verification
	}
	return ids
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestBackupUnderLoadAndRestore backs up the real binary's database while
// signed events stream in, then restores the copy with the master key into
// a new data directory, as docs/backup.md says, and checks the restored
// server has the same projects, secrets and events.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := newDataDir(t)
	secret := rotateCLI(t, "--data", data)
	for _, args := range [][]string{{"identity", "strict", "on"}, {"project", "create", "shop"}} {
		if _, errOut, code := runCLI(t, nil, append(args, "--data", data)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	projects := listProjects(t, nil, data)
	p := startProc(t, bin, data)

	load := startLoad(t, p.url, projects[0].PublicKey, secret, 4)
	load.wait(t, 2000)
	before := load.snapshot() // committed before the backup began: must be in it

	backup := filepath.Join(t.TempDir(), "sendora-backup.db")
	cmd := exec.Command(bin, "backup", backup, "--data", data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("backup while loaded: %v: %s", err, stderr.String())
	}
	during := len(load.snapshot())
	load.wait(t, during+1000) // the server kept taking events after it
	load.halt()
	after := load.snapshot()
	t.Logf("acknowledged %d events before the backup, %d when it ended, %d in all", len(before), during, len(after))

	if stdout.Len() != 0 {
		t.Errorf("backup wrote to stdout: %q", stdout.String())
	}
	if msg := stderr.String(); !strings.HasPrefix(msg, "backup: wrote "+backup) || !strings.Contains(msg, "integrity ok") ||
		!strings.Contains(msg, "master key") || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "\r") {
		t.Errorf("backup stderr = %q, want one line naming the file, the check and the key, and no progress (not a terminal)", msg)
	}
	p.kill()

	ctx := context.Background()
	cp, err := store.Open(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cp.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Errorf("integrity_check of the backup = %q, %v", v, err)
	}
	cp.Close()
	removeJournals(backup) // store.Open put the copy in WAL mode; restore it as it was written

	// Restore: the copy and the master key into a new data directory.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, backup, filepath.Join(restored, store.FileName), 0o600)

	// Without the key the restored server refuses to start, never silently
	// making a new one.
	if _, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", restored); code != 1 || !strings.Contains(errOut, "master key missing") {
		t.Fatalf("restore without the key: exit %d, %q", code, errOut)
	}
	copyFile(t, filepath.Join(data, datadir.MasterKeyFile), filepath.Join(restored, datadir.MasterKeyFile), 0o600)

	s := startServer(t, nil, "--data", restored)
	if got := listProjects(t, nil, restored); fmt.Sprint(got) != fmt.Sprint(projects) {
		t.Errorf("restored projects = %v, want %v", got, projects)
	}
	// The secret from before the backup still verifies, and strict mode
	// still refuses a forgery.
	signed := fmt.Sprintf(`{"publicKey":%q,"type":"identify","userId":"after-restore","messageId":"after-restore","identityToken":%q}`,
		projects[0].PublicKey, identity.Sign(secret, "after-restore"))
	if code, body := postJSON(t, s.url+"/events", signed); code != 200 {
		t.Errorf("event signed with the old secret on the restored server: %d %s", code, body)
	}
	forged := fmt.Sprintf(`{"publicKey":%q,"type":"identify","userId":"victim","identityToken":%q}`,
		projects[0].PublicKey, identity.Sign(secret, "after-restore"))
	if code, body := postJSON(t, s.url+"/events", forged); code != 401 || !strings.Contains(body, "signature_mismatch") {
		t.Errorf("forged event on the restored server: %d %s", code, body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	got := exportIDs(t, restored, nil)
	for _, id := range before {
		if got[id] != "verified" {
			t.Fatalf("event %s, acknowledged before the backup, is %q in the restored data", id, got[id])
		}
	}
	if got["after-restore"] != "verified" {
		t.Errorf("the event posted after the restore is %q", got["after-restore"])
	}
	// The copy is one moment: an acknowledged-order prefix may be cut only
	// where events were in flight, and holds nothing never acknowledged.
	acked := map[string]bool{}
	for _, id := range after {
		acked[id] = true
	}
	for id := range got {
		if id != "after-restore" && !acked[id] {
			t.Errorf("restored data holds %s, which was never acknowledged", id)
		}
	}
	if len(got)-1 < len(before) || len(got)-1 > len(after) {
		t.Errorf("restored %d events; acknowledged %d before the backup and %d in all", len(got)-1, len(before), len(after))
	}
}

func removeJournals(path string) {
	for _, s := range []string{"-wal", "-shm"} {
		os.Remove(path + s)
	}
}

func TestBackupCLI(t *testing.T) {
	data := newDataDir(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	os.WriteFile(existing, []byte("keep me"), 0o600)

	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"backup", "--help"}, 0, "Usage: sendora backup FILE", ""},
		{[]string{"backup", "--data", data}, 2, "", "want one FILE"},
		{[]string{"backup", "a.db", "b.db", "--data", data}, 2, "", "want one FILE"},
		{[]string{"backup", dir, "--data", data}, 2, "", "is a directory"},
		{[]string{"backup", existing, "--data", data}, 1, "", "exists; pass --force to replace it"},
		{[]string{"backup", filepath.Join(dir, "x.db"), "--data", filepath.Join(dir, "nodata")}, 1, "", "no database in"},
		{[]string{"backup", filepath.Join(dir, "missing", "x.db"), "--data", data}, 1, "", "missing does not exist"},
		{[]string{"backup", filepath.Join(dir, "new.db"), "--data", data}, 0, "", "backup: wrote"},
		{[]string{"backup", existing, "--force", "--data", data}, 0, "", "backup: wrote"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tt.code, tt.inStdout, tt.inStderr)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) == "keep me" {
		t.Error("--force did not replace the file")
	}
	// The environment twin of --data works too.
	if _, errOut, code := runCLI(t, map[string]string{"SENDORA_DATA": data}, "backup", filepath.Join(dir, "env.db")); code != 0 {
		t.Errorf("backup with SENDORA_DATA: %s", errOut)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[env.db existing.db new.db]" {
		t.Errorf("directory holds %v; want the backups and no temporary files", names)
	}
}
