package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store/storetest"
)

func TestAdminCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	if n := strings.Count(s.logs.String(), `"setup_link"`); n != 1 {
		t.Errorf("first start logged %d setup links, want 1", n)
	}
	s.stop()

	pw := map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"}
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"no email", pw, []string{"admin", "create", "--data", data}, 2, "--email is required"},
		{"bad email", pw, []string{"admin", "create", "--email", "nope", "--data", data}, 2, "plain email"},
		{"no password and no terminal", nil, []string{"admin", "create", "--email", "ada@example.com", "--data", data}, 1, "set SENDORA_ADMIN_PASSWORD or run the command in a terminal"},
		{"short password", map[string]string{"SENDORA_ADMIN_PASSWORD": "short"}, []string{"admin", "create", "--email", "ada@example.com", "--data", data}, 1, "at least 12 characters"},
		{"created", pw, []string{"admin", "create", "--email", "Ada@Example.com", "--data", data}, 0, "admin ada@example.com created"},
		{"taken", pw, []string{"admin", "create", "--email", "ada@example.com", "--data", data}, 1, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.vars, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.inStderr)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if strings.Contains(out+errOut, "correct horse") {
				t.Errorf("the password was printed")
			}
		})
	}

	// With an admin, the server prints no setup link.
	s = startServer(t, nil, "--data", data)
	if strings.Contains(s.logs.String(), "setup_link") {
		t.Errorf("a setup link was logged although an admin exists")
	}
}

// loginHTTP signs in to a running server as a browser would and returns
// the client holding the session cookie.
func loginHTTP(t *testing.T, base, email, password string) (*http.Client, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c, resp.StatusCode
}

// signedIn reports whether c's session opens the Admins page.
func signedIn(t *testing.T, c *http.Client, base string) bool {
	t.Helper()
	resp, err := c.Get(base + "/admins")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestAdminListRemoveResetPassword runs the admin commands beside a
// running server, on SQLite and on PostgreSQL: list (table and JSON),
// reset-password and remove end the admin's sessions on the server at
// once, and the last admin is never removed.
func TestAdminListRemoveResetPassword(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, b storetest.Backend) {
		data := filepath.Join(t.TempDir(), "data")
		db := []string{"--data", data}
		if b == storetest.Postgres {
			db = append(db, "--database-url", storetest.NewPostgresDatabase(t))
		}
		s := startServer(t, nil, db...)
		pw := map[string]string{"SENDORA_ADMIN_PASSWORD": "correct horse battery staple"}
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if _, errOut, code := runCLI(t, pw, append([]string{"admin", "create", "--email", email}, db...)...); code != 0 {
				t.Fatalf("admin create %s: exit %d: %s", email, code, errOut)
			}
		}
		bob, code := loginHTTP(t, s.url, "bob@example.com", "correct horse battery staple")
		if code != http.StatusSeeOther || !signedIn(t, bob, s.url) {
			t.Fatalf("bob cannot sign in (%d)", code)
		}

		out, errOut, code := runCLI(t, nil, append([]string{"admin", "list"}, db...)...)
		if code != 0 || !strings.HasPrefix(out, "EMAIL") || !strings.Contains(out, "ada@example.com") || !strings.Contains(out, "never") {
			t.Errorf("admin list: exit %d, %q %q", code, out, errOut)
		}
		out, _, _ = runCLI(t, nil, append([]string{"admin", "list", "--json"}, db...)...)
		var rows []struct {
			Email       string     `json:"email"`
			CreatedAt   time.Time  `json:"createdAt"`
			LastLoginAt *time.Time `json:"lastLoginAt"`
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
			t.Fatalf("admin list --json = %q (%v), want two admins", out, err)
		}
		if rows[0].Email != "ada@example.com" || rows[0].LastLoginAt != nil || rows[1].LastLoginAt == nil || rows[0].CreatedAt.IsZero() {
			t.Errorf("admin list --json = %+v, want ada never signed in, bob signed in", rows)
		}

		// reset-password: bob's session ends on the running server at once;
		// the new password works, the old one does not.
		newPW := map[string]string{"SENDORA_ADMIN_PASSWORD": "a fresh long passphrase"}
		out, errOut, code = runCLI(t, newPW, append([]string{"admin", "reset-password", "--email", "BOB@example.com"}, db...)...)
		if code != 0 || out != "" || !strings.Contains(errOut, "1 session(s) signed out") {
			t.Errorf("admin reset-password: exit %d, %q %q", code, out, errOut)
		}
		if signedIn(t, bob, s.url) {
			t.Errorf("bob's session survived the password reset")
		}
		if _, code := loginHTTP(t, s.url, "bob@example.com", "correct horse battery staple"); code != http.StatusUnauthorized {
			t.Errorf("old password after reset: %d, want 401", code)
		}
		bob, code = loginHTTP(t, s.url, "bob@example.com", "a fresh long passphrase")
		if code != http.StatusSeeOther || !signedIn(t, bob, s.url) {
			t.Errorf("new password after reset: %d", code)
		}

		// remove: bob's session ends at once; ada, the last, stays.
		out, errOut, code = runCLI(t, nil, append([]string{"admin", "remove", "--email", "bob@example.com"}, db...)...)
		if code != 0 || out != "" || !strings.Contains(errOut, "admin bob@example.com removed; 1 session(s) signed out") {
			t.Errorf("admin remove: exit %d, %q %q", code, out, errOut)
		}
		if signedIn(t, bob, s.url) {
			t.Errorf("bob's session survived the removal")
		}

		tests := []struct {
			name     string
			vars     map[string]string
			args     []string
			code     int
			inStderr string
		}{
			{"remove the last admin", nil, []string{"admin", "remove", "--email", "ada@example.com"}, 1, "ada@example.com is the only admin, so it cannot be removed"},
			{"remove an unknown admin", nil, []string{"admin", "remove", "--email", "bob@example.com"}, 1, "no admin has the email bob@example.com"},
			{"remove without --email", nil, []string{"admin", "remove"}, 2, "--email is required"},
			{"reset an unknown admin", newPW, []string{"admin", "reset-password", "--email", "bob@example.com"}, 1, "no admin has the email bob@example.com"},
			{"reset without a password or terminal", nil, []string{"admin", "reset-password", "--email", "ada@example.com"}, 1, "admin reset-password: no password: set SENDORA_ADMIN_PASSWORD"},
			{"reset to a short password", map[string]string{"SENDORA_ADMIN_PASSWORD": "short"}, []string{"admin", "reset-password", "--email", "ada@example.com"}, 1, "at least 12 characters"},
			{"reset with a bad email", newPW, []string{"admin", "reset-password", "--email", "nope"}, 2, "plain email"},
			{"list with an argument", nil, []string{"admin", "list", "extra"}, 2, "unexpected argument"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, errOut, code := runCLI(t, tt.vars, append(tt.args, db...)...)
				if code != tt.code || !strings.Contains(errOut, tt.inStderr) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errOut, tt.code, tt.inStderr)
				}
				if out != "" {
					t.Errorf("stdout = %q, want nothing", out)
				}
			})
		}
		if n := len(listAdmins(t, db)); n != 1 {
			t.Errorf("%d admins left, want 1", n)
		}
		out, _, _ = runCLI(t, nil, append([]string{"admin", "list"}, db...)...)
		if strings.Contains(out, "correct horse") || strings.Contains(out, "fresh long") {
			t.Errorf("a password was printed")
		}
	})
}

func listAdmins(t *testing.T, db []string) []string {
	t.Helper()
	out, errOut, code := runCLI(t, nil, append([]string{"admin", "list", "--json"}, db...)...)
	if code != 0 {
		t.Fatalf("admin list: %s", errOut)
	}
	var rows []struct{ Email string }
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, r := range rows {
		emails = append(emails, r.Email)
	}
	return emails
}
