package settings

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/identity"
)

// The snippets shown with a new secret must make exactly the tokens the
// server accepts. Each runs in its real runtime when that is installed.
func TestSnippetsSignLikeTheServer(t *testing.T) {
	secret := identity.NewSecret()
	userID := "u_Zoë 42 ✓" // non-ASCII: the bytes signed are UTF-8
	want := identity.Sign(secret, userID)
	env := append(os.Environ(), "SENDORA_IDENTITY_SECRET="+secret.Reveal())

	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	need := func(t *testing.T, tool string) {
		t.Helper()
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}

	t.Run("node", func(t *testing.T) {
		need(t, "node")
		// Node runs the TypeScript once its two type annotations are gone.
		js := strings.NewReplacer("userId: string", "userId", "SECRET!)", "SECRET)").Replace(nodeSnippet)
		f := filepath.Join(t.TempDir(), "sign.mjs")
		os.WriteFile(f, []byte(js+"\nconsole.log(signIdentity(process.argv[2]));\n"), 0o600)
		if got := run(t, "node", f, userID); got != want {
			t.Errorf("node snippet = %q, want %q", got, want)
		}
	})
	t.Run("python", func(t *testing.T) {
		need(t, "python3")
		code := pythonSnippet + "\n\nimport sys\nprint(sign_identity(sys.argv[1]))\n"
		if got := run(t, "python3", "-c", code, userID); got != want {
			t.Errorf("python snippet = %q, want %q", got, want)
		}
	})
	t.Run("go", func(t *testing.T) {
		if testing.Short() {
			t.Skip("compiles a program")
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module snippet\n\ngo 1.22\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "sign.go"), []byte("package main\n\n"+goSnippet+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { fmt.Println(SignIdentity(os.Args[1])) }\n"), 0o600)
		cmd := exec.Command("go", "run", ".", userID)
		cmd.Dir = dir
		cmd.Env = append(env, "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go run: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("go snippet = %q, want %q", got, want)
		}
	})
}
