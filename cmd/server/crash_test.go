package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// buildBinary builds the real sendora binary once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sendora-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sendora")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is the sendora binary serving in a child process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startProc(t *testing.T, bin, data string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json"}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if a := listenAddr(sc.Text()); a != "" {
				select {
				case addr <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatal("server exited before listening")
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// strictDefault rotates the default project's secret and turns strict
// identity on through the CLI, as an admin would while the server runs, and
// returns the secret and the project's public key.
func strictDefault(t *testing.T, data string) (identity.Secret, string) {
	t.Helper()
	out, errOut, code := runCLI(t, nil, "identity", "rotate", "--data", data)
	if code != 0 {
		t.Fatalf("rotate: %s", errOut)
	}
	secret, err := identity.ParseSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data); code != 0 {
		t.Fatalf("strict on: %s", errOut)
	}
	return secret, listProjects(t, nil, data)[0].PublicKey
}

// ackedRequest is a request the server answered 200.
type ackedRequest struct {
	path   string
	body   []byte
	events int
}

// uuid4 returns a random RFC 9562 version-4 UUID.
func uuid4() string {
	var b [16]byte
	crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// crashCycles is how many SIGKILLs TestCrashSafety deals; `make crashtest`
// raises it.
func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("SENDORA_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 2
}

// TestCrashSafety drives concurrent signed load at the real binary, SIGKILLs
// it at random moments, restarts it on the same data directory, and checks
// that every acknowledged event is stored exactly once and the database is
// sound.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	// A small dedup memtable, so that the kills land while keys are being
	// written as runs and merged, not only while they sit in memory.
	serveArgs := []string{"--dedup-memtable-keys", "100"}
	p := startProc(t, bin, data, serveArgs...)

	secret, key := strictDefault(t, data)

	var (
		mu       sync.Mutex
		acked    = map[string]int{} // messageId → acknowledgements
		requests []ackedRequest     // every acknowledged request, to replay after restarts
		seq      atomic.Int64
	)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	event := func() (string, map[string]any) {
		n := seq.Add(1)
		// Random UUIDv4 ids, as Segment's and RudderStack's SDKs send: the
		// dedup index's worst case.
		id := uuid4()
		u := "u" + strconv.FormatInt(n%50, 10)
		return id, map[string]any{"type": "track", "event": "Tick", "userId": u, "messageId": id,
			"identityToken": identity.Sign(secret, u), "properties": map[string]any{"n": n}}
	}
	load := func(url string, stop <-chan struct{}, wg *sync.WaitGroup) {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lastIDs []string
				var lastBody []byte
				var lastPath string
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var ids []string
					var body []byte
					path := "/events"
					if w%2 == 0 { // half the clients batch
						path = "/events/batch"
						var evs []map[string]any
						for range 1 + rand.IntN(20) {
							id, e := event()
							ids, evs = append(ids, id), append(evs, e)
						}
						body, _ = json.Marshal(map[string]any{"publicKey": key, "events": evs})
					} else {
						id, e := event()
						e["publicKey"] = key
						ids = []string{id}
						body, _ = json.Marshal(e)
					}
					// Now and then, retry the last acknowledged request, as an
					// SDK does when it missed the answer: it must be answered
					// 200 and not stored twice.
					if lastBody != nil && i%7 == 6 {
						ids, body, path = lastIDs, lastBody, lastPath
					}
					resp, err := client.Post(url+path, "application/json", bytes.NewReader(body))
					if err != nil {
						continue // the server died mid-request: not acknowledged
					}
					var out struct {
						Accepted int               `json:"accepted"`
						Rejected []json.RawMessage `json:"rejected"`
					}
					json.NewDecoder(resp.Body).Decode(&out)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						continue
					}
					if out.Accepted != len(ids) || len(out.Rejected) != 0 {
						t.Errorf("%s: accepted %d of %d: %v", path, out.Accepted, len(ids), out.Rejected)
						return
					}
					mu.Lock()
					for _, id := range ids {
						acked[id]++
					}
					requests = append(requests, ackedRequest{path, body, len(ids)})
					mu.Unlock()
					lastIDs, lastBody, lastPath = ids, body, path
				}
			}()
		}
	}

	for cycle := range crashCycles() {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		load(p.url, stop, &wg)
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		p.kill() // SIGKILL in the middle of the load
		close(stop)
		wg.Wait()
		mu.Lock()
		t.Logf("cycle %d: %d events acknowledged so far", cycle+1, len(acked))
		mu.Unlock()
		p = startProc(t, bin, data, serveArgs...)
		// Replay every request acknowledged so far, across all the kills:
		// each is answered 200 with all its events accepted, and none is
		// stored again (checked at the end).
		mu.Lock()
		replay := slices.Clone(requests)
		mu.Unlock()
		for _, r := range replay {
			resp, err := client.Post(p.url+r.path, "application/json", bytes.NewReader(r.body))
			if err != nil {
				t.Fatalf("replay after restart: %v", err)
			}
			var out struct {
				Accepted int `json:"accepted"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != 200 || out.Accepted != r.events {
				t.Fatalf("replay of an acknowledged %s after restart: status %d, accepted %d of %d", r.path, resp.StatusCode, out.Accepted, r.events)
			}
		}
		t.Logf("cycle %d: replayed %d acknowledged requests after the restart", cycle+1, len(replay))
	}
	if code, _ := get(t, p.url+"/healthz"); code != 200 {
		t.Fatalf("healthz after restarts = %d", code)
	}
	p.kill()

	st, err := store.Open(context.Background(), filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ok, err := st.IntegrityCheck(context.Background()); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
	if info, err := st.StartIngest(context.Background(), store.IngestOptions{DedupMemtable: 100}); err != nil {
		t.Fatal(err)
	} else if info.Runs == 0 && len(acked) >= 300 {
		t.Errorf("dedup index after the test: %+v, want keys written as runs (the test did not cover them)", info)
	} else {
		t.Logf("dedup index after the test: %+v", info)
	}
	stored := map[string]int{}
	pr, err := st.ProjectByKey(context.Background(), key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = st.ExportEvents(context.Background(), pr.ID, time.Time{}, func(e *store.StoredEvent) error {
		stored[e.MessageID]++
		if e.Verification != "verified" {
			t.Errorf("%s stored with verification %q", e.MessageID, e.Verification)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged")
	}
	missing := 0
	for id := range acked {
		switch stored[id] {
		case 1:
		case 0:
			missing++
			if missing < 10 {
				t.Errorf("acknowledged event %s is missing", id)
			}
		default:
			t.Errorf("event %s stored %d times", id, stored[id])
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events missing", missing, len(acked))
	}
	t.Logf("%d acknowledged, %d stored (the rest were in flight at a kill)", len(acked), len(stored))
	if strings.Contains(fmt.Sprint(stored), secret.Reveal()) {
		t.Error("secret in stored events")
	}
}
