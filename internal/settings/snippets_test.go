package settings

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/nodetest"
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

// TestJWTSnippetsVerify runs each JWT snippet shown with a new secret as
// written, in its runtime (node with jsonwebtoken, the system python3 with
// PyJWT, go with golang-jwt), and verifies the token with the server's
// keyring: verified for that userId, the traits as given, exp an hour
// ahead.
func TestJWTSnippetsVerify(t *testing.T) {
	secret := identity.NewSecret()
	userID := "u_Zoë 42 ✓"
	traits := `{"plan":"startup","mrr":99}`
	env := append(os.Environ(), "SENDORA_IDENTITY_SECRET="+secret.Reveal())
	sealer := identity.NewSealer(identity.NewMasterKey())
	kr, err := identity.NewKeyring(identity.State{ProjectID: 1, Keys: []identity.SealedKey{
		{Version: 1, Status: identity.StatusCurrent, Sealed: sealer.SealSecret(1, secret)},
	}}, sealer)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, out []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		tok := strings.TrimSpace(string(out))
		now := time.Now()
		res := kr.VerifyToken(userID, tok, now)
		if res.Reason != identity.Verified || res.Scheme != identity.SchemeJWT {
			t.Fatalf("token %q: %s", tok, res.Reason)
		}
		var got, want any
		json.Unmarshal(res.Traits, &got)
		json.Unmarshal([]byte(traits), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("traits = %s, want %s", res.Traits, traits)
		}
		if d := res.ExpiresAt.Sub(now); d < 58*time.Minute || d > 61*time.Minute {
			t.Errorf("exp is %s ahead, want an hour", d)
		}
		if r := kr.Verify("someone else", tok, now); r != identity.UserMismatch {
			t.Errorf("for another userId: %s", r)
		}
	}

	t.Run("node", func(t *testing.T) {
		node, modules := nodetest.Libraries(t)
		dir := t.TempDir()
		os.Symlink(modules, filepath.Join(dir, "node_modules"))
		os.WriteFile(filepath.Join(dir, "sign.mjs"), []byte(jwtNodeSnippet+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "main.mjs"), []byte(`import { signIdentity } from "./sign.mjs";
console.log(signIdentity(process.argv[2], JSON.parse(process.argv[3])));
`), 0o600)
		cmd := exec.Command(node, "main.mjs", userID, traits)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		verify(t, out, err)
	})
	t.Run("python", func(t *testing.T) {
		py := "/usr/bin/python3" // Debian's, with python3-jwt (PyPI is not reachable here)
		if err := exec.Command(py, "-c", "import jwt").Run(); err != nil {
			t.Skipf("PyJWT is not installed for %s (apt-get install python3-jwt)", py)
		}
		code := jwtPythonSnippet + "\n\nimport json, sys\nprint(sign_identity(sys.argv[1], json.loads(sys.argv[2])))\n"
		cmd := exec.Command(py, "-c", code, userID, traits)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		verify(t, out, err)
	})
	t.Run("go", func(t *testing.T) {
		if testing.Short() {
			t.Skip("compiles a program")
		}
		// The module's own golang-jwt, from its go.sum: no download.
		sum, err := os.ReadFile("../../go.sum")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		version := ""
		for l := range strings.Lines(string(sum)) {
			if strings.HasPrefix(l, "github.com/golang-jwt/jwt/v5 ") {
				lines = append(lines, l)
				version = strings.TrimSuffix(strings.Fields(l)[1], "/go.mod")
			}
		}
		if version == "" {
			t.Fatal("golang-jwt is not in go.sum")
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module snippet\n\ngo 1.22\n\nrequire github.com/golang-jwt/jwt/v5 "+version+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(lines, "")), 0o600)
		os.WriteFile(filepath.Join(dir, "sign.go"), []byte("package main\n\n"+jwtGoSnippet+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\n\t\"encoding/json\"\n\t\"fmt\"\n\t\"os\"\n)\n\n"+
			"func main() {\n\tvar traits map[string]any\n\tjson.Unmarshal([]byte(os.Args[2]), &traits)\n\ttok, err := SignIdentity(os.Args[1], traits)\n"+
			"\tif err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(tok)\n}\n"), 0o600)
		cmd := exec.Command("go", "run", ".", userID, traits)
		cmd.Dir = dir
		cmd.Env = append(env, "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		verify(t, out, err)
	})
}

// TestJWTSnippetsInTheDocs: docs/sdk.md shows the dashboard's JWT snippets
// word for word, so what the tests run is what users copy from either.
func TestJWTSnippetsInTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sdk.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range jwtSnippets() {
		if !strings.Contains(string(doc), "\n"+s.Code+"\n```") {
			t.Errorf("docs/sdk.md does not show the %s snippet as the dashboard does:\n%s", s.Language, s.Code)
		}
	}
}
