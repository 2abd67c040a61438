// Package nodetest gives tests Node and the JWT libraries the identity
// cross-checks use (jsonwebtoken, jose; internal/identity/testdata/node),
// installed once per package-lock.json. Tests only.
package nodetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Libraries returns node and an absolute node_modules directory holding
// the locked jsonwebtoken and jose: internal/identity/testdata/node's when a
// developer ran npm ci there, else a copy in the user's cache directory,
// installed once per package-lock.json with npm ci. It skips the test when
// node or npm is missing or the install fails, unless
// SENDORA_NODE_TESTS=required (make test sets it), which fails it instead.
func Libraries(t testing.TB) (node, nodeModules string) {
	t.Helper()
	required := os.Getenv("SENDORA_NODE_TESTS") == "required"
	skip := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format+" (SENDORA_NODE_TESTS=required)", args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not on PATH")
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "identity", "testdata", "node")
	if _, err := os.Stat(filepath.Join(src, "node_modules", "jose")); err == nil {
		return node, filepath.Join(src, "node_modules")
	}
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(lock)
	dir := filepath.Join(cache, "sendora-test", "identity-node-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			skip("npm is not on PATH")
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			skip("npm ci: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, dir); err != nil { // another test process won the race: use its copy
			if _, serr := os.Stat(filepath.Join(dir, "node_modules", "jose")); serr != nil {
				t.Fatal(err)
			}
		}
	}
	return node, filepath.Join(dir, "node_modules")
}
