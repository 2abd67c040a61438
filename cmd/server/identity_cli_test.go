package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// newDataDir makes a data directory the way a first start does.
func newDataDir(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := startServer(t, nil, "--data", data).stop(); err != nil {
		t.Fatal(err)
	}
	return data
}

// identityState reads a project's identity state and keyring from the data
// directory, as another process would.
func identityState(t *testing.T, data, project string) (identity.State, *identity.Keyring, []store.Audit) {
	t.Helper()
	ctx := context.Background()
	d, err := datadir.Open(ctx, datadir.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := d.Project(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Store.IdentityState(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := identity.NewKeyring(st, d.Sealer)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := d.Store.AuditLog(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return st, kr, audit
}

var secretLine = regexp.MustCompile(`^sis_[A-Za-z0-9_-]{43}\n$`)

// rotateCLI runs `identity rotate` and checks the secret is alone on
// stdout, once, and that stderr names its fingerprint, not the value.
func rotateCLI(t *testing.T, args ...string) identity.Secret {
	t.Helper()
	out, errOut, code := runCLI(t, nil, append([]string{"identity", "rotate"}, args...)...)
	if code != 0 {
		t.Fatalf("identity rotate %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	if !secretLine.MatchString(out) {
		t.Fatalf("stdout = %q, want the secret alone on one line", out)
	}
	secret, err := identity.ParseSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	v := secret.Reveal()
	if strings.Contains(errOut, v) || strings.Contains(errOut, v[len(identity.SecretPrefix):len(identity.SecretPrefix)+12]) {
		t.Errorf("stderr shows the secret: %q", errOut)
	}
	if !strings.Contains(errOut, "fingerprint "+secret.Fingerprint()) {
		t.Errorf("stderr %q does not name the fingerprint %s", errOut, secret.Fingerprint())
	}
	return secret
}

func TestIdentityRotateCLI(t *testing.T) {
	data := newDataDir(t)

	s1 := rotateCLI(t, "--data", data)
	st, kr, _ := identityState(t, data, "")
	if cur, ok := st.Current(); !ok || cur.Version != 1 || cur.Fingerprint != s1.Fingerprint() || cur.CreatedBy != "cli" {
		t.Fatalf("after the first rotation: current = %+v", cur)
	}
	if r := kr.Verify("u_1", identity.Sign(s1, "u_1"), st.Keys[0].CreatedAt); r != identity.Verified {
		t.Errorf("the printed secret does not verify: %s", r)
	}

	s2 := rotateCLI(t, "--data", data, "--overlap", "1h")
	if s2.Reveal() == s1.Reveal() {
		t.Fatal("a rotation printed the same secret twice")
	}

	st, kr, _ = identityState(t, data, "default")
	cur, _ := st.Current()
	prev, ok := st.Previous()
	if cur.Version != 2 || cur.Fingerprint != s2.Fingerprint() || !ok || prev.Fingerprint != s1.Fingerprint() {
		t.Fatalf("after rotating with --overlap 1h: current %+v previous %+v", cur, prev)
	}
	if got := prev.ValidUntil.Sub(prev.RetiredAt).String(); got != "1h0m0s" {
		t.Errorf("overlap stored = %s, want 1h", got)
	}
	for _, s := range []identity.Secret{s1, s2} {
		if r := kr.Verify("u_1", identity.Sign(s, "u_1"), cur.CreatedAt); r != identity.Verified {
			t.Errorf("secret %s during the overlap: %s, want verified", s, r)
		}
	}

	// Without overlap the replaced secret stops at once.
	s3 := rotateCLI(t, "--data", data, "--overlap", "0")
	st, kr, audit := identityState(t, data, "default")
	cur, _ = st.Current()
	if r := kr.Verify("u_1", identity.Sign(s2, "u_1"), cur.CreatedAt); r != identity.RotatedSecret {
		t.Errorf("replaced secret after --overlap 0: %s, want rotated_secret", r)
	}
	if r := kr.Verify("u_1", identity.Sign(s3, "u_1"), cur.CreatedAt); r != identity.Verified {
		t.Errorf("newest secret: %s", r)
	}

	rotations := 0
	for _, a := range audit {
		if a.Action == store.ActionSecretRotate {
			rotations++
			if a.Actor != "cli" {
				t.Errorf("rotation audited as %q, want cli", a.Actor)
			}
		}
	}
	if rotations != 3 {
		t.Errorf("%d rotation audit entries, want 3", rotations)
	}

	// No secret reaches the database files.
	var all []byte
	for _, f := range []string{"sendora.db", "sendora.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(s3.Fingerprint())) {
		t.Fatalf("the database files (%d bytes) do not hold even the fingerprint", len(all))
	}
	for _, s := range []identity.Secret{s1, s2, s3} {
		if bytes.Contains(all, []byte(s.Reveal()[len(identity.SecretPrefix):])) {
			t.Errorf("the database files hold secret %s", s)
		}
	}
}

func TestIdentityRotateCLIProjects(t *testing.T) {
	data := newDataDir(t)
	if _, errOut, code := runCLI(t, nil, "project", "create", "shop", "--data", data); code != 0 {
		t.Fatalf("project create: %s", errOut)
	}
	s := rotateCLI(t, "--project", "shop", "--data", data)
	shop, _, _ := identityState(t, data, "shop")
	def, _, _ := identityState(t, data, "default")
	if cur, ok := shop.Current(); !ok || cur.Fingerprint != s.Fingerprint() {
		t.Errorf("shop has no current secret %s", s)
	}
	if len(def.Keys) != 0 {
		t.Errorf("rotating shop gave default %d secrets", len(def.Keys))
	}
	if _, errOut, _ := runCLI(t, nil, "identity", "rotate", "--project", "shop", "--overlap", "24h", "--data", data); !strings.Contains(errOut, "the previous one verifies for 24h0m0s more") {
		t.Errorf("stderr after --overlap 24h = %q, want the overlap named", errOut)
	}

	out, errOut, code := runCLI(t, nil, "identity", "rotate", "--project", "nope", "--data", data)
	if code != 1 || out != "" || !strings.Contains(errOut, `no project named "nope"`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("rotate an unknown project: exit %d, stdout %q, stderr %q; want 1, nothing, one line", code, out, errOut)
	}
	if out, _, code := runCLI(t, nil, "identity", "rotate", "--overlap", "-1h", "--data", data); code != 2 || out != "" {
		t.Errorf("rotate --overlap -1h: exit %d, stdout %q", code, out)
	}
}

// TestIdentityRotateCLIWhileServing: the CLI works while the server runs on
// the same data directory.
func TestIdentityRotateCLIWhileServing(t *testing.T) {
	data := newDataDir(t)
	srv := startServer(t, nil, "--data", data)
	s := rotateCLI(t, "--data", data)
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data); code != 0 {
		t.Fatalf("strict on while serving: %s", errOut)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(srv.logs.String(), s.Reveal()) {
		t.Error("the server logged the secret")
	}
	st, _, _ := identityState(t, data, "")
	if cur, _ := st.Current(); cur.Fingerprint != s.Fingerprint() || !st.Strict {
		t.Errorf("state after CLI changes while serving: %+v strict %v", cur, st.Strict)
	}
}

func TestIdentityStrictCLI(t *testing.T) {
	data := newDataDir(t)

	out, errOut, code := runCLI(t, nil, "identity", "strict", "on", "--data", data)
	if code != 1 || out != "" || !strings.Contains(errOut, "strict identity needs an identity secret") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("strict on without a secret: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if st, _, _ := identityState(t, data, ""); st.Strict {
		t.Fatal("strict is on after the refusal")
	}

	rotateCLI(t, "--data", data)
	for _, tt := range []struct {
		arg  string
		want bool
	}{{"on", true}, {"on", true}, {"off", false}, {"on", true}} {
		out, errOut, code := runCLI(t, nil, "identity", "strict", tt.arg, "--data", data)
		if code != 0 {
			t.Fatalf("strict %s: exit %d: %s", tt.arg, code, errOut)
		}
		if out != "" || !strings.Contains(errOut, "strict identity "+tt.arg) {
			t.Errorf("strict %s: stdout %q, stderr %q", tt.arg, out, errOut)
		}
		if st, kr, _ := identityState(t, data, ""); st.Strict != tt.want || kr.Strict != tt.want {
			t.Errorf("after strict %s: strict = %v", tt.arg, st.Strict)
		}
	}

	_, _, audit := identityState(t, data, "")
	var actions []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "strict.") {
			if a.Actor != "cli" {
				t.Errorf("%s audited as %q, want cli", a.Action, a.Actor)
			}
			actions = append(actions, a.Action)
		}
	}
	if got := strings.Join(actions, " "); got != "strict.on strict.off strict.on strict.on" {
		t.Errorf("strict audit entries (newest first) = %s", got)
	}

	for _, args := range [][]string{{"identity", "strict"}, {"identity", "strict", "yes"}, {"identity", "strict", "on", "off"}} {
		if _, _, code := runCLI(t, nil, append(args, "--data", data)...); code != 2 {
			t.Errorf("%s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	if _, errOut, code := runCLI(t, nil, "identity", "strict", "off", "--project", "nope", "--data", data); code != 1 || !strings.Contains(errOut, `no project named "nope"`) {
		t.Errorf("strict on an unknown project: exit %d, stderr %q", code, errOut)
	}
}

// TestSignCLI checks `sendora sign` against the reference Node signer's
// vectors (internal/identity/testdata/sign_vectors.json).
func TestSignCLI(t *testing.T) {
	raw, err := os.ReadFile("../../internal/identity/testdata/sign_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct{ Secret, UserID, Note, Token string }
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 100 {
		t.Fatalf("%d vectors", len(vectors))
	}
	for _, v := range vectors {
		env := map[string]string{"SENDORA_IDENTITY_SECRET": v.Secret}
		out, errOut, code := runCLI(t, env, "sign", "--user", v.UserID)
		if code != 0 || out != v.Token+"\n" || errOut != "" {
			t.Errorf("%s: sign --user %q: exit %d, stdout %q, stderr %q; node says %s", v.Note, v.UserID, code, out, errOut, v.Token)
		}
		if v.Note == "ascii" { // the --user=ID form too
			if out, _, _ := runCLI(t, env, "sign", "--user="+v.UserID); out != v.Token+"\n" {
				t.Errorf("sign --user=%s: %q, want %s", v.UserID, out, v.Token)
			}
		}
	}
}

func TestSignCLIErrors(t *testing.T) {
	const good = "sis_t80oypZReuGs6fZ4PGdh3zC4E8UO49yIHkqr_h52fRI"
	for _, tt := range []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"no secret", nil, []string{"sign", "--user", "u_1"}, 1, "SENDORA_IDENTITY_SECRET is not set"},
		{"empty secret", map[string]string{"SENDORA_IDENTITY_SECRET": ""}, []string{"sign", "--user", "u_1"}, 1, "SENDORA_IDENTITY_SECRET is not set"},
		{"not a secret", map[string]string{"SENDORA_IDENTITY_SECRET": "hunter2-hunter2-hunter2-hunter2-hunter2"}, []string{"sign", "--user", "u_1"}, 1, `must start with "sis_"`},
		{"too short", map[string]string{"SENDORA_IDENTITY_SECRET": "sis_tooshort"}, []string{"sign", "--user", "u_1"}, 1, "at least 32 characters"},
		{"no --user", map[string]string{"SENDORA_IDENTITY_SECRET": good}, []string{"sign"}, 2, "--user is required"},
		{"stray argument", map[string]string{"SENDORA_IDENTITY_SECRET": good}, []string{"sign", "--user", "u_1", "extra"}, 2, `unexpected argument "extra"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit = %d, want %d", code, tt.code)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !strings.Contains(errOut, tt.inStderr) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr = %q, want one line with %q", errOut, tt.inStderr)
			}
			if v := tt.env["SENDORA_IDENTITY_SECRET"]; v != "" && strings.Contains(errOut, v) {
				t.Errorf("stderr shows the secret: %q", errOut)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestIdentityRotateCLIUnprintable: when stdout cannot take the secret (a
// full disk under `> file`), rotate fails loudly instead of exiting 0 with
// the only copy of the new secret lost.
func TestIdentityRotateCLIUnprintable(t *testing.T) {
	data := newDataDir(t)
	var errw bytes.Buffer
	err := run(context.Background(), []string{"identity", "rotate", "--data", data}, testEnv(nil), strings.NewReader(""), failingWriter{}, &errw)
	if err == nil {
		t.Fatal("rotate with an unwritable stdout succeeded")
	}
	if code := exitCode(err, &errw); code != 1 {
		t.Errorf("exit = %d, want 1", code)
	}
	st, _, _ := identityState(t, data, "")
	cur, _ := st.Current()
	if msg := errw.String(); !strings.Contains(msg, "could not be printed") || !strings.Contains(msg, cur.Fingerprint) || !strings.Contains(msg, "rotate again") || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Errorf("stderr = %q, want one line naming the fingerprint %s and what to do", msg, cur.Fingerprint)
	}
}
