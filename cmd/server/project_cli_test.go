package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// keyAnswer posts one unsigned track event with key and returns the status
// and the error code ("" when accepted).
func keyAnswer(t *testing.T, base, key string) (int, string) {
	t.Helper()
	body := `{"publicKey":"` + key + `","type":"track","event":"Ping","userId":"u1"}`
	resp, err := http.Post(base+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s/events: %v", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Error struct{ Code string } }
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Error.Code
}

// within polls check until it holds and fails the test when that took more
// than limit: the contract's "every instance within 1 second".
func within(t *testing.T, limit time.Duration, what string, check func() bool) {
	t.Helper()
	since := time.Now()
	if took := enforcedWithin(t, since, what, check); took > limit {
		t.Errorf("%s: took %s, want at most %s", what, took.Round(time.Millisecond), limit)
	}
}

type projectJSON struct {
	Name              string     `json:"name"`
	PublicKey         string     `json:"publicKey"`
	PreviousPublicKey string     `json:"previousPublicKey"`
	PreviousKeyUntil  *time.Time `json:"previousKeyUntil"`
}

// TestProjectCommands: project rename, delete, key rotate and key revoke,
// with their refusals: a taken or invalid name, delete without --yes or of
// the last project, revoking the current key.
func TestProjectCommands(t *testing.T) {
	data := newDataDir(t)
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, nil, append(args, "--data", data)...)
	}
	must := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, code := cli(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out, errOut
	}
	list := func() map[string]projectJSON {
		t.Helper()
		out, _ := must("project", "list", "--json")
		var rows []projectJSON
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		m := map[string]projectJSON{}
		for _, r := range rows {
			m[r.Name] = r
		}
		return m
	}

	shopKey, _ := must("project", "create", "shop")
	shopKey = strings.TrimSpace(shopKey)
	if _, errOut, code := cli("project", "create", "shop"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("create a taken name: exit %d %q", code, errOut)
	}

	// rename
	if _, errOut := must("project", "rename", "shop", "store"); !strings.Contains(errOut, "store") {
		t.Errorf("rename said %q", errOut)
	}
	if p := list()["store"]; p.PublicKey != shopKey {
		t.Errorf("renamed project = %+v, want the key %s kept", p, shopKey)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"project", "rename", "store", "default"}, 1, "already exists"},
		{[]string{"project", "rename", "store", ""}, 2, "1 to 64"},
		{[]string{"project", "rename", "store", strings.Repeat("x", 65)}, 2, "1 to 64"},
		{[]string{"project", "rename", "store", "shöp"}, 2, "may only hold"},
		{[]string{"project", "rename", "nope", "x"}, 1, "no project named"},
		{[]string{"project", "rename", "store"}, 2, "OLD and the NEW"},
		{[]string{"project", "delete", "store"}, 2, "--yes"},
		{[]string{"project", "delete"}, 2, "NAME"},
		{[]string{"project", "key", "rotate", "--project", "store", "--keep", "-1h"}, 2, "--keep"},
		{[]string{"project", "key", "rotate", "--project", "store", "--keep", "721h"}, 2, "--keep"},
		{[]string{"project", "key", "revoke", "--project", "store", shopKey}, 1, "current key"},
	} {
		_, errOut, code := cli(c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%s: exit %d %q, want exit %d and one line saying %q", strings.Join(c.args, " "), code, errOut, c.code, c.says)
		}
	}
	if _, ok := list()["store"]; !ok {
		t.Fatal("a refused delete deleted the project")
	}

	// key rotate: the new key alone on stdout; the old one kept 24 h.
	before := time.Now()
	out, errOut := must("project", "key", "rotate", "--project", "store")
	newKey := strings.TrimSpace(out)
	if !strings.HasPrefix(newKey, "pk_live_") || strings.Count(out, "\n") != 1 || newKey == shopKey || !strings.Contains(errOut, shopKey) {
		t.Fatalf("key rotate: stdout %q stderr %q", out, errOut)
	}
	p := list()["store"]
	if p.PublicKey != newKey || p.PreviousPublicKey != shopKey || p.PreviousKeyUntil == nil ||
		p.PreviousKeyUntil.Before(before.Add(24*time.Hour-time.Minute)) || p.PreviousKeyUntil.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("after rotate: %+v, want the old key kept for 24h", p)
	}
	// revoke with the wrong key changes nothing; without a key revokes the old one.
	if _, errOut := must("project", "key", "revoke", "--project", "store", "pk_live_notthisone"); !strings.Contains(errOut, "Nothing changed") {
		t.Errorf("revoke another key: %q", errOut)
	}
	if p := list()["store"]; p.PreviousPublicKey != shopKey {
		t.Errorf("revoking another key revoked %s", shopKey)
	}
	if _, errOut := must("project", "key", "revoke", "--project", "store"); !strings.Contains(errOut, shopKey) {
		t.Errorf("revoke said %q", errOut)
	}
	if p := list()["store"]; p.PreviousPublicKey != "" {
		t.Errorf("after revoke: %+v", p)
	}
	if _, errOut := must("project", "key", "revoke", "--project", "store"); !strings.Contains(errOut, "Nothing changed") {
		t.Errorf("revoke with no old key: %q", errOut)
	}
	// --keep until-revoked: no end time.
	out, _ = must("project", "key", "rotate", "--project", "store", "--keep", "until-revoked")
	if p := list()["store"]; p.PublicKey != strings.TrimSpace(out) || p.PreviousPublicKey == "" || p.PreviousKeyUntil != nil {
		t.Errorf("rotate --keep until-revoked: %+v", p)
	}
	if _, errOut, code := cli("project", "key", "rotate", "--project", "store", "--keep", "forever"); code != 2 || !strings.Contains(errOut, "until-revoked") {
		t.Errorf("--keep forever: exit %d %q", code, errOut)
	}
	// --keep 0: the old key stops at once.
	out, _ = must("project", "key", "rotate", "--project", "store", "--keep", "0")
	if p := list()["store"]; p.PublicKey != strings.TrimSpace(out) || p.PreviousPublicKey != "" {
		t.Errorf("rotate --keep 0: %+v", p)
	}

	// delete, then the last project is refused.
	if _, errOut := must("project", "delete", "store", "--yes"); !strings.Contains(errOut, "deleted") {
		t.Errorf("delete said %q", errOut)
	}
	if _, ok := list()["store"]; ok {
		t.Error("store is still listed after its delete")
	}
	if _, errOut, code := cli("project", "delete", "default", "--yes"); code != 1 || !strings.Contains(errOut, "only project") {
		t.Errorf("delete the last project: exit %d %q", code, errOut)
	}
	// The audit log has each change, by the CLI.
	_, _, audit := identityState(t, data, "default")
	got := map[string]int{}
	for _, a := range audit {
		if a.Actor == "cli" {
			got[a.Action]++
		}
	}
	for action, n := range map[string]int{"project.create": 1, "project.rename": 1, "project.key_rotate": 3, "project.key_revoke": 1, "project.delete": 1} {
		if got[action] != n {
			t.Errorf("audit %s by cli: %d entries, want %d (all: %v)", action, got[action], n, got)
		}
	}
}

// TestProjectKeyCommandsReachTheServer: on a running server (SQLite, and
// PostgreSQL when configured), a key rotation, a revocation, a rename and
// a delete made with the CLI apply within a second: both keys ingest
// during the switch, the revoked one is then INVALID_PUBLIC_KEY, a rename
// changes no key, and a deleted project's key is refused.
func TestProjectKeyCommandsReachTheServer(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			var vars map[string]string
			extra := []string{"--data", data}
			if b == storetest.Postgres {
				if storetest.PostgresURL() == "" {
					t.Skip(storetest.SkipReason)
				}
				vars = map[string]string{"SENDORA_MASTER_KEY": identity.NewMasterKey().Encode()}
				extra = append(extra, "--database-url", storetest.NewPostgresDatabase(t))
			}
			// A long cache TTL: only the change counter (or NOTIFY) can
			// make the changes apply within a second.
			s := startServer(t, vars, append([]string{"--secret-cache-ttl", "1h"}, extra...)...)
			defer s.stop()
			cli := func(args ...string) string {
				t.Helper()
				out, errOut, code := runCLI(t, vars, append(args, extra...)...)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
				}
				return strings.TrimSpace(out)
			}
			old := cli("project", "create", "shop")
			// A brand-new key is never cached as unknown: the creation
			// bumped the change counter too.
			within(t, 1500*time.Millisecond, "a new project's key", func() bool { code, _ := keyAnswer(t, s.url, old); return code == 200 })

			newKey := cli("project", "key", "rotate", "--project", "shop", "--keep", "1h")
			within(t, 1500*time.Millisecond, "the new key after a CLI rotation", func() bool {
				code, _ := keyAnswer(t, s.url, newKey)
				return code == 200
			})
			if code, c := keyAnswer(t, s.url, old); code != 200 {
				t.Errorf("old key during the switch: %d %s, want 200", code, c)
			}

			cli("project", "rename", "shop", "store")
			for _, k := range []string{old, newKey} {
				if code, c := keyAnswer(t, s.url, k); code != 200 {
					t.Errorf("key %s after a rename: %d %s", k, code, c)
				}
			}

			cli("project", "key", "revoke", "--project", "store")
			within(t, 1500*time.Millisecond, "the revoked key refused", func() bool {
				code, c := keyAnswer(t, s.url, old)
				return code == 401 && c == "INVALID_PUBLIC_KEY"
			})
			if code, c := keyAnswer(t, s.url, newKey); code != 200 {
				t.Errorf("new key after the revoke: %d %s", code, c)
			}

			cli("project", "delete", "store", "--yes")
			within(t, 1500*time.Millisecond, "a deleted project's key refused", func() bool {
				code, c := keyAnswer(t, s.url, newKey)
				return code == 401 && c == "INVALID_PUBLIC_KEY"
			})
		})
	}
}

// openData opens a data directory as another process (the CLI) would.
func openData(t *testing.T, data string) *datadir.DataDir {
	t.Helper()
	d, err := datadir.Open(context.Background(), datadir.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// purgedWithin waits until no deleted project is left and the project's
// events are gone, and fails after limit.
func purgedWithin(t *testing.T, data string, id int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		d := openData(t, data)
		pending, err := d.Store.DeletedProjects(context.Background())
		n, err2 := d.Store.CountEvents(context.Background(), id)
		d.Close()
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		if pending == 0 && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d deleted projects left, %d events of project %d", limit, pending, n, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postMany posts n events with key in one batch.
func postMany(t *testing.T, base, key string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"publicKey":"` + key + `","events":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"type":"identify","userId":"u` + strconv.Itoa(i) + `","traits":{"plan":"pro"}}`)
	}
	b.WriteString("]}")
	resp, err := http.Post(base+"/events/batch", "application/json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":`+strconv.Itoa(n)) {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
}

// TestDashboardDeletePurgedByTheServer: a project deleted in the dashboard
// is refused at once by that server, and its data is removed in the
// background by it, with nothing left behind.
func TestDashboardDeletePurgedByTheServer(t *testing.T) {
	srv, data := projectsServer(t)
	out, _, _ := runCLI(t, nil, "project", "create", "shop", "--data", data)
	key := strings.TrimSpace(out)
	within(t, 1500*time.Millisecond, "the new key", func() bool { c, _ := keyAnswer(t, srv.url, key); return c == 200 })
	postMany(t, srv.url, key, 300)
	var id int64
	for _, p := range listProjects(t, nil, data) {
		if p.Name == "shop" {
			id = p.ID
		}
	}
	c := dashboardClient(t, srv.url, "ada@example.com", "correct horse battery staple")
	code, body := dashboardPost(t, c, srv.url, "/projects/delete", url.Values{"project": {"shop"}, "ref": {formRef(t, c, srv.url, "shop")}, "confirm": {"shop"}})
	if code != http.StatusSeeOther {
		t.Fatalf("delete in the dashboard: %d %s", code, body)
	}
	if code, c := keyAnswer(t, srv.url, key); code != 401 || c != "INVALID_PUBLIC_KEY" {
		t.Errorf("right after the delete: %d %s, want 401 INVALID_PUBLIC_KEY at once", code, c)
	}
	purgedWithin(t, data, id, 10*time.Second)
	// The log line follows the purge's last step.
	enforcedWithin(t, time.Now(), "the purge's log line", func() bool {
		return strings.Contains(srv.logs.String(), "deleted projects: their data is removed")
	})
}

// TestServerFinishesAnInterruptedPurge: a delete whose purge never ran (the
// CLI killed right after the delete) is finished by the next server start.
func TestServerFinishesAnInterruptedPurge(t *testing.T) {
	srv, data := projectsServer(t)
	out, _, _ := runCLI(t, nil, "project", "create", "shop", "--data", data)
	key := strings.TrimSpace(out)
	within(t, 1500*time.Millisecond, "the new key", func() bool { c, _ := keyAnswer(t, srv.url, key); return c == 200 })
	postMany(t, srv.url, key, 200)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	d := openData(t, data)
	p, err := d.Project(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store.DeleteProject(context.Background(), p.ID, "shop", store.Audit{At: time.Now(), Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	s2 := startServer(t, nil, "--data", data)
	defer s2.stop()
	purgedWithin(t, data, p.ID, 10*time.Second)
}

// TestDashboardKeyChangesReachAnotherInstance: two servers share one
// PostgreSQL database; a key rotation, a revocation and a delete made in
// the first one's dashboard are enforced by the second within a second
// (its cache TTL is an hour: only the notification can explain it).
func TestDashboardKeyChangesReachAnotherInstance(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	dbURL := storetest.NewPostgresDatabase(t)
	vars := map[string]string{"SENDORA_MASTER_KEY": identity.NewMasterKey().Encode(), "SENDORA_ADMIN_PASSWORD": "correct horse battery staple"}
	start := func() *testServer {
		return startServer(t, vars, "--database-url", dbURL, "--data", t.TempDir(), "--secret-cache-ttl", "1h")
	}
	a, b := start(), start()
	defer a.stop()
	defer b.stop()
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, vars, append(args, "--database-url", dbURL, "--data", t.TempDir())...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	cli("admin", "create", "--email", "ada@example.com")
	var c *http.Client
	c0 := func() *http.Client {
		if c == nil {
			c = dashboardClient(t, a.url, "ada@example.com", "correct horse battery staple")
		}
		return c
	}
	old := cli("project", "create", "shop")
	within(t, 1500*time.Millisecond, "the new project on b", func() bool { c, _ := keyAnswer(t, b.url, old); return c == 200 })
	shop := func() projectRow {
		t.Helper()
		var rows []projectRow
		if err := json.Unmarshal([]byte(cli("project", "list", "--json")), &rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Name == "shop" {
				return r
			}
		}
		t.Fatal("no project shop")
		return projectRow{}
	}
	ref := formRef(t, c0(), a.url, "shop")
	post := func(path string, form url.Values) {
		t.Helper()
		form.Set("project", "shop")
		form.Set("ref", ref)
		if code, body := dashboardPost(t, c, a.url, path, form); code != http.StatusSeeOther {
			t.Fatalf("POST %s on a: %d %s", path, code, body)
		}
	}

	post("/projects/key/rotate", url.Values{"key": {old}, "keep": {"revoke"}})
	newKey := shop().PublicKey
	within(t, 1500*time.Millisecond, "b takes the new key", func() bool { c, _ := keyAnswer(t, b.url, newKey); return c == 200 })
	if code, c := keyAnswer(t, b.url, old); code != 200 {
		t.Errorf("b refuses the kept key during the switch: %d %s", code, c)
	}
	post("/projects/key/revoke", url.Values{"key": {old}})
	within(t, 1500*time.Millisecond, "b refuses the revoked key", func() bool {
		code, c := keyAnswer(t, b.url, old)
		return code == 401 && c == "INVALID_PUBLIC_KEY"
	})
	post("/projects/delete", url.Values{"confirm": {"shop"}})
	within(t, 1500*time.Millisecond, "b refuses the deleted project's key", func() bool {
		code, c := keyAnswer(t, b.url, newKey)
		return code == 401 && c == "INVALID_PUBLIC_KEY"
	})
}

var refInput = regexp.MustCompile(`name="ref" value="([0-9]+-[0-9]+)"`)

// formRef reads the reference a project's forms carry from its page.
func formRef(t *testing.T, c *http.Client, base, name string) string {
	t.Helper()
	resp, err := c.Get(base + "/projects/view?project=" + url.QueryEscape(name))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := refInput.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no ref on the page of %s (%d)", name, resp.StatusCode)
	}
	return string(m[1])
}
