package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestSecondServeOnSQLiteDataDirRefused: the group-commit writer must be
// the data directory's only server, so a second `serve` on it stops at
// once with a one-line error, while CLI commands keep working beside the
// first; after the first stops, a server starts there again.
func TestSecondServeOnSQLiteDataDirRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := startServer(t, nil, "--data", data)
	_, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	if code != 1 || !strings.Contains(errOut, "in use by another sendora serve") || !strings.Contains(errOut, data) ||
		strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("second serve: exit %d, stderr %q; want 1 and one line saying the directory is in use", code, errOut)
	}
	if out, errOut, code := runCLI(t, nil, "project", "create", "beside", "--data", data); code != 0 || !strings.HasPrefix(out, "pk_live_") {
		t.Errorf("CLI beside the server: exit %d, %q %q", code, out, errOut)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	startServer(t, nil, "--data", data).stop()
}

// TestServeUnreachableDatabase: a database that does not answer stops the
// start with one line naming the URL without its password.
func TestServeUnreachableDatabase(t *testing.T) {
	for _, url := range []string{
		"postgres://sendora:s3cret-pw@127.0.0.1:1/sendora",
		"postgres://sendora:s3cret-pw@localhost:1/sendora?sslmode=disable&password=s3cret-pw",
	} {
		_, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database-url", url)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want 1 and one line", url, code, errOut)
		}
		if strings.Contains(errOut, "s3cret-pw") {
			t.Errorf("the error shows the password: %q", errOut)
		}
		if !strings.Contains(errOut, "sendora@") || !strings.Contains(errOut, ":1/sendora") || !strings.Contains(errOut, "connect") {
			t.Errorf("the error does not name the database or say what failed: %q", errOut)
		}
	}
	if url := storetest.PostgresURL(); url != "" {
		// A reachable database sendora never set up: the CLI refuses it
		// rather than creating tables there.
		empty := storetest.NewPostgresDatabase(t)
		_, errOut, code := runCLI(t, nil, "project", "list", "--database-url", empty)
		if code != 1 || !strings.Contains(errOut, "has not set up this database") {
			t.Errorf("CLI on an empty database: exit %d, %q", code, errOut)
		}
		db, err := sql.Open("pgx", empty)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables int
		if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
			t.Errorf("the CLI created %d tables in a database it refused (%v)", tables, err)
		}
	}
	_, errOut, code := runCLI(t, nil, "project", "list", "--database-url", "mysql://x:s3cret-pw@h/db")
	if code != 1 || strings.Contains(errOut, "s3cret-pw") || !strings.Contains(errOut, "postgres://") {
		t.Errorf("not a PostgreSQL URL: exit %d, %q", code, errOut)
	}
}

// TestCLIOnPostgres runs every command against a server on PostgreSQL:
// they behave as on SQLite, and backup points to pg_dump.
func TestCLIOnPostgres(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	data := filepath.Join(t.TempDir(), "data")
	db := []string{"--data", data, "--database-url", url}
	srv := startServer(t, nil, db...)
	if _, err := os.Stat(filepath.Join(data, "master.key")); err != nil {
		t.Fatalf("first start on PostgreSQL: no master.key in --data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "sendora.db")); err == nil {
		t.Error("a SQLite database was created beside PostgreSQL")
	}
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, nil, append(args, db...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	out := cli("project", "list", "--json")
	var ps []projectRow
	if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) != 1 || ps[0].Name != "default" {
		t.Fatalf("project list = %q, %v", out, err)
	}
	if key := strings.TrimSpace(cli("project", "create", "shop")); !strings.HasPrefix(key, "pk_live_") {
		t.Errorf("project create printed %q", key)
	}
	if got := cli("project", "origins", "shop", "https://shop.example.com"); got != "https://shop.example.com\n" {
		t.Errorf("project origins = %q", got)
	}
	secret := strings.TrimSpace(cli("identity", "rotate", "--project", "shop"))
	if _, err := identity.ParseSecret(secret); err != nil {
		t.Fatalf("identity rotate printed %q: %v", secret, err)
	}
	cli("identity", "strict", "on", "--project", "shop")
	if out, _, code := runCLI(t, map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery"}, append([]string{"admin", "create", "--email", "ops@example.com"}, db...)...); code != 0 {
		t.Errorf("admin create: exit %d %s", code, out)
	}
	token := strings.TrimSpace(func() string {
		out, _, _ := runCLI(t, map[string]string{"SENDORA_IDENTITY_SECRET": secret}, "sign", "--user", "u1")
		return out
	}())
	shopKey := ""
	json.Unmarshal([]byte(cli("project", "list", "--json")), &ps)
	for _, p := range ps {
		if p.Name == "shop" {
			shopKey = p.PublicKey
		}
	}
	code, body := postJSON(t, srv.url+"/events", `{"publicKey":"`+shopKey+`","type":"identify","userId":"u1","identityToken":"`+token+`","messageId":"m1","traits":{"plan":"pro"}}`,
		"Origin", "https://shop.example.com")
	if code != 200 {
		t.Fatalf("POST /events on PostgreSQL: %d %s", code, body)
	}
	if out := cli("events", "export", "--project", "shop"); !strings.Contains(out, `"messageId":"m1"`) || !strings.Contains(out, `"verified"`) {
		t.Errorf("events export = %q", out)
	}
	_, errOut, code := runCLI(t, nil, append([]string{"backup", filepath.Join(t.TempDir(), "b.db")}, db...)...)
	if code != 1 || !strings.Contains(errOut, "pg_dump") || !strings.Contains(errOut, "docs/backup.md") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("backup on PostgreSQL: exit %d, %q; want one line pointing to pg_dump", code, errOut)
	}
}

// TestPostgresMasterKeyMismatch: every instance on one database needs the
// same master key; another key, or none, is a one-line startup error.
func TestPostgresMasterKeyMismatch(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	k1, k2 := identity.NewMasterKey().Encode(), identity.NewMasterKey().Encode()
	startServer(t, map[string]string{"SENDORA_MASTER_KEY": k1}, "--data", t.TempDir(), "--database-url", url)

	_, errOut, code := runCLI(t, map[string]string{"SENDORA_MASTER_KEY": k2}, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database-url", url)
	if code != 1 || !strings.Contains(errOut, "wrong master key") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || strings.Contains(errOut, k2) {
		t.Errorf("another key: exit %d, %q; want one line saying the key is wrong", code, errOut)
	}
	empty := t.TempDir()
	_, errOut, code = runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", empty, "--database-url", url)
	if code != 1 || !strings.Contains(errOut, "master key missing") || !strings.Contains(errOut, "SENDORA_MASTER_KEY") {
		t.Errorf("no key: exit %d, %q; want a refusal saying to use the other instances' key", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(empty, "master.key")); err == nil {
		t.Error("a new master.key was created for a database that has one")
	}
	startServer(t, map[string]string{"SENDORA_MASTER_KEY": k1}, "--data", t.TempDir(), "--database-url", url).stop()
}

// TestPostgresFirstStartsRaceWithOwnKeys: two instances starting at once on
// an empty database, each creating its own master.key: one wins; the other
// stops with a clear error and leaves no key file behind that would fail
// every later start.
func TestPostgresFirstStartsRaceWithOwnKeys(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	codes := make([]int, 2)
	errs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Go(func() {
			// --addr taken by nobody; each stops right after starting, or fails.
			_, errs[i], codes[i] = runCLI(t, nil, "serve", "--addr", "256.0.0.1:0", "--data", dirs[i], "--database-url", url)
		})
	}
	wg.Wait()
	won := -1
	for i := range dirs {
		_, keyErr := os.Stat(filepath.Join(dirs[i], "master.key"))
		switch {
		case strings.Contains(errs[i], "listen on 256.0.0.1"): // got past the database: it won
			if won >= 0 {
				t.Fatalf("both instances opened the database with their own keys: %q", errs)
			}
			won = i
			if keyErr != nil {
				t.Errorf("the winner has no master.key: %v", keyErr)
			}
		case strings.Contains(errs[i], "same key") || strings.Contains(errs[i], "master key missing"):
			if keyErr == nil {
				t.Errorf("the loser left a master.key that opens nothing")
			}
		default:
			t.Errorf("instance %d: exit %d, %q", i, codes[i], errs[i])
		}
	}
	if won < 0 {
		t.Fatalf("no instance won: %q", errs)
	}
}

// TestCLIRotationReachesRunningServer: with an hour-long cache TTL, a
// rotation made by the CLI is enforced by the running server at its next
// read of the change counter (once a second; on PostgreSQL at the
// notification), on SQLite and PostgreSQL. The latency is logged; the test
// asserts only that the change arrives long before the TTL would bring it.
func TestCLIRotationReachesRunningServer(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			db := []string{"--data", data}
			if b == "postgres" {
				db = append(db, "--database-url", storetest.NewPostgresDatabase(t))
			}
			srv := startServer(t, nil, append(db, "--secret-cache-ttl", "1h")...)
			old := rotateCLI(t, db...)
			if _, errOut, code := runCLI(t, nil, append([]string{"identity", "strict", "on"}, db...)...); code != 0 {
				t.Fatal(errOut)
			}
			out, _, _ := runCLI(t, nil, append([]string{"project", "list", "--json"}, db...)...)
			var ps []projectRow
			json.Unmarshal([]byte(out), &ps)
			post := func(s identity.Secret) int {
				code, _ := postJSON(t, srv.url+"/events", `{"publicKey":"`+ps[0].PublicKey+`","type":"identify","userId":"u1","identityToken":"`+identity.Sign(s, "u1")+`"}`)
				return code
			}
			// The server has the old secret cached (strict came within a second too).
			deadline := time.Now().Add(10 * time.Second)
			for post(old) != 200 {
				if time.Now().After(deadline) {
					t.Fatal("the CLI's first secret and strict mode never reached the server")
				}
				time.Sleep(20 * time.Millisecond)
			}
			fresh := rotateCLI(t, append(db, "--overlap", "0")...) // the default keeps the old one an hour
			rotated := time.Now()
			for post(fresh) != 200 || post(old) != 401 {
				if time.Since(rotated) > 10*time.Second { // the TTL is an hour
					t.Fatal("the CLI's rotation did not reach the running server")
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("%s: the CLI's rotation was enforced %s after the command returned", b, time.Since(rotated).Round(time.Millisecond))
		})
	}
}

// TestPostgresFirstStartsShareOneDataDir: instances on one machine sharing
// a --data directory start at once on an empty database without
// SENDORA_MASTER_KEY: one writes master.key (whole, under a temporary name
// first), the others read that one, and all open the database.
func TestPostgresFirstStartsShareOneDataDir(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	data := filepath.Join(t.TempDir(), "data")
	const n = 4
	errs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// An address no one can listen on: each stops right after opening the database.
			_, errs[i], _ = runCLI(t, nil, "serve", "--addr", "256.0.0.1:0", "--data", data, "--database-url", url)
		})
	}
	wg.Wait()
	for i, e := range errs {
		if !strings.Contains(e, "listen on 256.0.0.1") {
			t.Errorf("instance %d did not get past the database: %q", i, e)
		}
	}
	entries, _ := os.ReadDir(data)
	if len(entries) != 1 || entries[0].Name() != "master.key" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data directory holds %v, want master.key alone", names)
	}
}
