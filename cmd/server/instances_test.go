package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store/storetest"
)

// instance is the built sendora binary serving in a child process on a
// PostgreSQL database, with its log kept for failure messages.
type instance struct {
	name string
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
}

// startInstances starts n instances of bin at once on the database at
// dbURL, each with its own --data (so only the master key, given in the
// environment, is shared), and waits until each listens.
func startInstances(t *testing.T, bin, dbURL, masterKey string, n int, extra ...string) []*instance {
	t.Helper()
	out := make([]*instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out[i], errs[i] = startInstance(t, bin, dbURL, masterKey, fmt.Sprintf("instance %c", 'A'+i), extra...)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %c: %v", 'A'+i, err)
		}
	}
	return out
}

func startInstance(t *testing.T, bin, dbURL, masterKey, name string, extra ...string) (*instance, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--data", t.TempDir(), "--database-url", dbURL}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SENDORA_MASTER_KEY="+masterKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in := &instance{name: name, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			in.logs.Write(append(sc.Bytes(), '\n'))
			if a := listenAddr(sc.Text()); a != "" {
				select {
				case addr <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, in.logs)
		}
	})
	select {
	case a := <-addr:
		in.url = "http://" + a
		return in, nil
	case <-in.done:
		return nil, fmt.Errorf("exited before listening:\n%s", in.logs)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("did not start:\n%s", in.logs)
	}
}

func (in *instance) kill() {
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
}

// sendOne posts one event and returns the status and error code.
func sendOne(t *testing.T, base, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s/events: %v", base, err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code, Reason string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error.Reason
}

// enforcedWithin polls check every few milliseconds until it holds, and
// returns how long that took after since; it fails the test after 10 s.
func enforcedWithin(t *testing.T, since time.Time, what string, check func() bool) time.Duration {
	t.Helper()
	for !check() {
		if time.Since(since) > 10*time.Second {
			t.Fatalf("%s: not enforced after 10 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(since)
}

// dashboardClient signs in to an instance's dashboard as a browser would.
func dashboardClient(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/identity" {
		t.Fatalf("sign in on %s: %d %s", base, resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

func dashboardPost(t *testing.T, c *http.Client, base, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var shownSecret = regexp.MustCompile(`sis_[A-Za-z0-9_-]{32,}`)

// TestThreeInstancesOnOnePostgres runs three built binaries on one
// PostgreSQL database, started at the same moment on an empty database,
// with an hour-long --secret-cache-ttl so that only change propagation can
// explain what they enforce:
//   - they migrate once and create one default project;
//   - strict mode turned on, and a rotation made, in the first one's
//     dashboard are enforced by the other two within a second;
//   - one messageId posted to two (and three) instances at once is stored
//     once;
//   - one instance SIGKILLed under load loses no event any instance
//     acknowledged.
func TestThreeInstancesOnOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dbURL := storetest.NewPostgresDatabase(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	masterKey := identity.NewMasterKey().Encode()
	ins := startInstances(t, bin, dbURL, masterKey, 3, "--secret-cache-ttl", "1h")
	a, b, c := ins[0], ins[1], ins[2]

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var projects, migrations, distinct int
	db.QueryRow(`SELECT count(*) FROM projects`).Scan(&projects)
	db.QueryRow(`SELECT count(*), count(DISTINCT version_id) FROM goose_db_version`).Scan(&migrations, &distinct)
	if projects != 1 || migrations != distinct {
		t.Errorf("three instances starting together: %d projects, %d migration rows for %d versions; want 1 project, each migration once", projects, migrations, distinct)
	}

	cliVars := map[string]string{"SENDORA_MASTER_KEY": masterKey, "SENDORA_ADMIN_PASSWORD": "correct horse battery staple"}
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, cliVars, append(args, "--database-url", dbURL, "--data", t.TempDir())...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	var ps []projectRow
	json.Unmarshal([]byte(cli("project", "list", "--json")), &ps)
	key := ps[0].PublicKey
	cli("admin", "create", "--email", "ops@example.com")
	s1, err := identity.ParseSecret(cli("identity", "rotate"))
	if err != nil {
		t.Fatal(err)
	}
	event := func(id string, s *identity.Secret) string {
		e := map[string]any{"publicKey": key, "type": "identify", "userId": "u1", "messageId": id, "traits": map[string]any{"n": id}}
		if s != nil {
			e["identityToken"] = identity.Sign(*s, "u1")
		}
		bs, _ := json.Marshal(e)
		return string(bs)
	}
	n := 0
	next := func() string { n++; return "m" + strconv.Itoa(n) }
	for _, in := range ins { // the CLI's first secret reached everyone
		enforcedWithin(t, time.Now(), in.name+" accepts the CLI's secret", func() bool {
			code, _ := sendOne(t, in.url, event(next(), &s1))
			return code == 200
		})
	}

	// Strict mode on, in the first instance's dashboard.
	admin := dashboardClient(t, a.url, "ops@example.com", "correct horse battery staple")
	if code, body := dashboardPost(t, admin, a.url, "/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}}); code != http.StatusSeeOther {
		t.Fatalf("strict on in A's dashboard: %d\n%.300s", code, body)
	}
	changed := time.Now()
	if code, reason := sendOne(t, a.url, event(next(), nil)); code != 401 || reason != "missing_token" {
		t.Errorf("A right after its own change: %d %s, want 401 missing_token", code, reason)
	}
	for _, in := range []*instance{b, c} {
		d := enforcedWithin(t, changed, in.name+" refuses unsigned events", func() bool {
			code, _ := sendOne(t, in.url, event(next(), nil))
			return code == 401
		})
		t.Logf("strict on in A's dashboard: %s enforced it after %s", in.name, d.Round(time.Millisecond))
		if d > time.Second {
			t.Errorf("%s enforced strict mode after %s, want within 1 s", in.name, d)
		}
	}

	// A rotation without overlap, in the first instance's dashboard.
	code, body := dashboardPost(t, admin, a.url, "/settings/identity/rotate", url.Values{"project": {"default"}, "overlap": {"0"}, "version": {"1"}})
	changed = time.Now()
	s2, err := identity.ParseSecret(shownSecret.FindString(body))
	if code != 200 || err != nil {
		t.Fatalf("rotate in A's dashboard: %d, %v", code, err)
	}
	for _, in := range []*instance{b, c} {
		d := enforcedWithin(t, changed, in.name+" uses the rotated secret", func() bool {
			c1, reason := sendOne(t, in.url, event(next(), &s1))
			c2, _ := sendOne(t, in.url, event(next(), &s2))
			return c1 == 401 && reason == "rotated_secret" && c2 == 200
		})
		t.Logf("rotation in A's dashboard: %s enforced it after %s", in.name, d.Round(time.Millisecond))
		if d > time.Second {
			t.Errorf("%s enforced the rotation after %s, want within 1 s", in.name, d)
		}
	}

	// The session started on A is valid on C (sessions are in the
	// database), whose dashboard shows what A's admin and the other
	// instances did: the audit entries, the rejections B and C recorded.
	for path, want := range map[string][]string{
		"/settings/identity?project=default": {"missing_token", "rotated_secret"},
		"/audit":                             {"strict.on", "secret.rotate", "ops@example.com"},
	} {
		resp, err := admin.Get(c.url + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s on C with A's session = %d, want 200", path, resp.StatusCode)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(page), w) {
				t.Errorf("GET %s on C does not show %q", path, w)
			}
		}
	}

	// One messageId sent to every instance at once, many times: stored once.
	for round := range 20 {
		id := "dup-" + strconv.Itoa(round)
		var wg sync.WaitGroup
		for _, in := range ins {
			for range 2 {
				wg.Go(func() {
					if code, _ := sendOne(t, in.url, event(id, &s2)); code != 200 {
						t.Errorf("%s: %s answered %d", id, in.name, code)
					}
				})
			}
		}
		wg.Wait()
	}
	rows, err := db.Query(`SELECT message_id, count(*) FROM events WHERE message_id LIKE 'dup-%' GROUP BY message_id`)
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for rows.Next() {
		var id string
		var cnt int
		rows.Scan(&id, &cnt)
		dups++
		if cnt != 1 {
			t.Errorf("%s stored %d times across instances", id, cnt)
		}
	}
	rows.Close()
	if dups != 20 {
		t.Errorf("%d of 20 retried messageIds stored", dups)
	}

	// Load on all three; SIGKILL B in the middle; every event any instance
	// acknowledged is stored exactly once.
	acked := loadInstances(t, ins, key, s2, func() {
		time.Sleep(time.Duration(300+rand.IntN(400)) * time.Millisecond)
		b.kill()
		time.Sleep(300 * time.Millisecond) // A and C keep taking events
	})
	checkStored(t, db, acked)
}

// loadInstances sends signed batches and single events to every instance
// from several clients, calls during() while they run, then stops them and
// returns the messageIds acknowledged with a 200 (the load goes on against
// the instances that still answer).
func loadInstances(t *testing.T, ins []*instance, key string, secret identity.Secret, during func()) map[string]bool {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		seq   atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := ins[(w+i)%len(ins)]
				var ids []string
				var evs []map[string]any
				for range 1 + rand.IntN(30) {
					id := "load-" + strconv.FormatInt(seq.Add(1), 10)
					u := "u" + strconv.Itoa(rand.IntN(40))
					ids = append(ids, id)
					evs = append(evs, map[string]any{"type": "identify", "userId": u, "messageId": id,
						"identityToken": identity.Sign(secret, u), "traits": map[string]any{"last": id}})
				}
				body, _ := json.Marshal(map[string]any{"publicKey": key, "events": evs})
				resp, err := client.Post(in.url+"/events/batch", "application/json", bytes.NewReader(body))
				if err != nil {
					continue // the instance died mid-request: not acknowledged
				}
				var out struct {
					Accepted int `json:"accepted"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					continue
				}
				if out.Accepted != len(ids) {
					t.Errorf("%s accepted %d of %d", in.name, out.Accepted, len(ids))
				}
				mu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				mu.Unlock()
			}
		})
	}
	during()
	close(stop)
	wg.Wait()
	return acked
}

// checkStored fails unless every acknowledged messageId is stored exactly once.
func checkStored(t *testing.T, db *sql.DB, acked map[string]bool) {
	t.Helper()
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged")
	}
	stored := map[string]int{}
	rows, err := db.Query(`SELECT message_id, count(*) FROM events WHERE message_id LIKE 'load-%' GROUP BY message_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var cnt int
		if err := rows.Scan(&id, &cnt); err != nil {
			t.Fatal(err)
		}
		stored[id] = cnt
	}
	missing := 0
	for id := range acked {
		switch stored[id] {
		case 1:
		case 0:
			missing++
		default:
			t.Errorf("%s stored %d times", id, stored[id])
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events are missing", missing, len(acked))
	}
	t.Logf("%d events acknowledged, all stored once (%d stored in all)", len(acked), len(stored))
}

// privateCluster creates a PostgreSQL cluster of its own for a test that
// restarts it (never the shared one other tests use), with pg_createcluster
// on a free port and trust authentication, and drops it at the end. It
// skips the test where the cluster tools or the rights to use them are
// missing.
func privateCluster(t *testing.T) (version, name, url string) {
	t.Helper()
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	if _, err := exec.LookPath("pg_createcluster"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs pg_createcluster and root to create a PostgreSQL cluster to restart")
	}
	versions, _ := os.ReadDir("/etc/postgresql")
	if len(versions) == 0 {
		t.Skip("no PostgreSQL installed in /etc/postgresql")
	}
	version = versions[len(versions)-1].Name()
	port := 20000 + rand.IntN(20000)
	name = fmt.Sprintf("sendora_test_%d_%d", os.Getpid(), port)
	out, err := exec.Command("pg_createcluster", version, name, "-p", strconv.Itoa(port), "--start-conf=manual", "--start",
		"--", "--auth=trust").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_createcluster: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("pg_dropcluster", "--stop", version, name).CombinedOutput(); err != nil {
			t.Errorf("pg_dropcluster %s: %v\n%s", name, err, out)
		}
	})
	return version, name, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

func pgctl(t *testing.T, version, name, action string) {
	t.Helper()
	if out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, name, action).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
	}
}

// TestInstancesSurvivePostgresRestart runs two built binaries on a
// PostgreSQL cluster of the test's own and restarts it under load, then
// stops it for a while and starts it again: while it is down the
// instances answer 503 OVERLOADED with Retry-After (and /readyz fails),
// nothing they acknowledged is lost, and they recover by themselves.
func TestInstancesSurvivePostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	version, cluster, dbURL := privateCluster(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	masterKey := identity.NewMasterKey().Encode()
	ins := startInstances(t, bin, dbURL, masterKey, 2)
	vars := map[string]string{"SENDORA_MASTER_KEY": masterKey}
	out, errOut, code := runCLI(t, vars, "identity", "rotate", "--database-url", dbURL, "--data", t.TempDir())
	if code != 0 {
		t.Fatal(errOut)
	}
	secret, _ := identity.ParseSecret(out)
	if _, errOut, code := runCLI(t, vars, "identity", "strict", "on", "--database-url", dbURL, "--data", t.TempDir()); code != 0 {
		t.Fatal(errOut)
	}
	out, _, _ = runCLI(t, vars, "project", "list", "--json", "--database-url", dbURL, "--data", t.TempDir())
	var ps []projectRow
	json.Unmarshal([]byte(out), &ps)
	for _, in := range ins {
		enforcedWithin(t, time.Now(), in.name+" accepts the secret", func() bool {
			code, _ := sendOne(t, in.url, `{"publicKey":"`+ps[0].PublicKey+`","type":"track","event":"x","userId":"u1","identityToken":"`+identity.Sign(secret, "u1")+`"}`)
			return code == 200
		})
	}

	// What the clients see while the database goes away and comes back.
	var statuses sync.Map // status → count
	var badRetry atomic.Int64
	observe := func(in *instance) {
		resp, err := http.Post(in.url+"/events", "application/json", strings.NewReader(
			`{"publicKey":"`+ps[0].PublicKey+`","type":"track","event":"probe","userId":"u1","identityToken":"`+identity.Sign(secret, "u1")+`"}`))
		if err != nil {
			t.Errorf("%s: %v (the instance must answer while the database is down)", in.name, err)
			return
		}
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		v, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		if resp.StatusCode == 503 && (e.Error.Code != "OVERLOADED" || resp.Header.Get("Retry-After") == "") {
			badRetry.Add(1)
		}
	}

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acked := loadInstances(t, ins, ps[0].PublicKey, secret, func() {
		time.Sleep(300 * time.Millisecond)
		pgctl(t, version, cluster, "restart") // under load
		time.Sleep(300 * time.Millisecond)
		pgctl(t, version, cluster, "stop")
		// Down: every request gets 503 OVERLOADED with Retry-After, and
		// readiness fails so a load balancer stops sending.
		for range 10 {
			for _, in := range ins {
				observe(in)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, in := range ins {
			if code, _ := get(t, in.url+"/readyz"); code != 503 {
				t.Errorf("%s /readyz with the database down = %d, want 503", in.name, code)
			}
		}
		pgctl(t, version, cluster, "start")
		// Back: each instance recovers by itself.
		for _, in := range ins {
			d := enforcedWithin(t, time.Now(), in.name+" takes events again", func() bool {
				code, _ := sendOne(t, in.url, `{"publicKey":"`+ps[0].PublicKey+`","type":"track","event":"x","userId":"u1","identityToken":"`+identity.Sign(secret, "u1")+`"}`)
				return code == 200
			})
			t.Logf("%s took events again %s after the database started", in.name, d.Round(time.Millisecond))
			if code, _ := get(t, in.url+"/readyz"); code != 200 {
				t.Errorf("%s /readyz after recovery = %d", in.name, code)
			}
		}
		time.Sleep(300 * time.Millisecond)
	})
	got := map[int]int64{}
	statuses.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("answers while the database was stopped: %v", got)
	if got[503] == 0 || len(got) != 1 {
		t.Errorf("answers while the database was stopped = %v, want only 503", got)
	}
	if badRetry.Load() > 0 {
		t.Errorf("%d 503 answers without OVERLOADED and Retry-After", badRetry.Load())
	}
	checkStored(t, db, acked)
	// The change listener reconnected too: a CLI rotation reaches both
	// within a second.
	if _, errOut, code := runCLI(t, vars, "identity", "rotate", "--overlap", "0", "--database-url", dbURL, "--data", t.TempDir()); code != 0 {
		t.Fatal(errOut)
	}
	rotated := time.Now()
	for _, in := range ins {
		d := enforcedWithin(t, rotated, in.name+" refuses the rotated-out secret", func() bool {
			code, reason := sendOne(t, in.url, `{"publicKey":"`+ps[0].PublicKey+`","type":"track","event":"x","userId":"u1","identityToken":"`+identity.Sign(secret, "u1")+`"}`)
			return code == 401 && reason == "rotated_secret"
		})
		if d > time.Second {
			t.Errorf("%s enforced a rotation after the database restart in %s, want within 1 s", in.name, d)
		}
	}
}
