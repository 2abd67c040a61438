package main

import (
	"path/filepath"
	"strings"
	"testing"
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
