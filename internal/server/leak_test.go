package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

// needles are values that must not be found somewhere, by name, each in
// every form it could be written in.
type needles map[string][]byte

// addSecret adds a secret: the whole string, its random part, and that
// part's bytes.
func (n needles) addSecret(name string, s identity.Secret) {
	v := s.Reveal()
	rest := strings.TrimPrefix(v, identity.SecretPrefix)
	n[name] = []byte(v)
	n[name+" (random part)"] = []byte(rest)
	if raw, err := base64.RawURLEncoding.DecodeString(rest); err == nil {
		n[name+" (bytes)"] = raw
	}
}

// addToken adds an identity token: the whole string, its hex MAC, and the
// MAC's bytes when it has one.
func (n needles) addToken(name, tok string) {
	n[name] = []byte(tok)
	if _, mac, ok := strings.Cut(tok, ":"); ok && len(mac) >= 16 {
		n[name+" (mac)"] = []byte(mac)
		if raw, err := hex.DecodeString(mac); err == nil {
			n[name+" (mac bytes)"] = raw
		}
	}
}

func (n needles) find(t *testing.T, where string, b []byte) {
	t.Helper()
	for name, v := range n {
		if bytes.Contains(b, v) {
			t.Errorf("%s holds %s", where, name)
		}
	}
}

// scanDir reads the raw bytes of every file in dir.
func scanDir(t *testing.T, dir string, n needles) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
		n.find(t, "data file "+e.Name(), b)
	}
	return names
}

// TestSecretAndTokensNeverKept rotates twice in the dashboard, posts
// signed, forged, malformed and foreign-scheme tokens to both endpoints
// with strict identity off and on, uses the token checker, and opens every
// later page. Then: each secret appears in exactly one response body, its
// show-once page, and nowhere else — no other page or fragment, header,
// Location, URL, cookie (decoded with the server's keys), log line or
// audit row; and no secret, token, password or session id is in the raw
// bytes of the database, its WAL or its shared memory file, before or
// after a checkpoint.
func TestSecretAndTokensNeverKept(t *testing.T) {
	e := dashtest.New(t)
	ctx := context.Background()
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	rec := watch(c)
	c.Login("ada@example.com", dashtest.Password)

	secrets := needles{}
	var shown []*dashtest.Response // the show-once responses
	rotate := func(overlap string) identity.Secret {
		t.Helper()
		v := dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
		if v.Get("overlap") != "0" {
			v.Set("overlap", overlap)
		}
		r := c.Post("/settings/identity/rotate", v)
		s, err := identity.ParseSecret(dashtest.Text(r.Doc(t).ByID("new-secret")))
		if err != nil {
			t.Fatalf("rotate = %d: %v", r.StatusCode, err)
		}
		shown = append(shown, r)
		// A reload of the page re-posts the form: nothing is shown again.
		c.Post("/settings/identity/rotate", v)
		return s
	}
	s1 := rotate("0")
	secrets.addSecret("secret v1", s1)
	s2 := rotate("1h") // v1 keeps verifying for an hour
	secrets.addSecret("secret v2", s2)
	if bytes.Contains([]byte(shown[1].Body), []byte(s1.Reveal())) {
		t.Errorf("the second rotation's page shows the first secret")
	}

	// Events with every kind of token, strict identity off then on.
	tokens := needles{}
	key := e.Project.PublicKey
	post := func(path string, body any, header ...string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %s = %d", path, resp.StatusCode)
		}
	}
	for _, mode := range []string{"off", "on"} {
		if mode == "on" {
			if r := c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"on"}}); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("strict on = %d", r.StatusCode)
			}
		}
		toks := map[string]string{
			"valid v2":      identity.Sign(s2, "u_valid_"+mode),
			"valid v1":      identity.Sign(s1, "u_overlap_"+mode),
			"forged":        identity.Sign(s2, "u_attacker_"+mode),
			"random":        "hmac_v1:" + hex.EncodeToString([]byte(fmt.Sprintf("%-32s", "random "+mode))),
			"uppercase":     "hmac_v1:" + strings.ToUpper(hex.EncodeToString([]byte(fmt.Sprintf("%-32s", "upper "+mode)))),
			"other scheme":  "hmac_v2:" + hex.EncodeToString([]byte(fmt.Sprintf("%-32s", "v2 "+mode))),
			"short":         "hmac_v1:" + hex.EncodeToString([]byte("short "+mode+" token")),
			"no scheme":     "bare-token-" + hex.EncodeToString([]byte("bare "+mode)),
			"padded spaces": " " + identity.Sign(s2, "u_spaces_"+mode) + " ",
		}
		var batch []any
		i := 0
		for name, tok := range toks {
			tokens.addToken("token "+name+" (strict "+mode+")", strings.TrimSpace(tok))
			user := fmt.Sprintf("u_%s_%d", mode, i)
			if name == "valid v2" {
				user = "u_valid_" + mode
			}
			if name == "valid v1" {
				user = "u_overlap_" + mode
			}
			ev := map[string]any{"publicKey": key, "type": "identify", "userId": user, "identityToken": tok, "traits": map[string]any{"plan": "pro"}}
			post("/events", ev)
			delete(ev, "publicKey")
			post("/events", ev, "Authorization", "Bearer "+key)
			batch = append(batch, ev)
			i++
		}
		post("/events/batch", map[string]any{"publicKey": key, "events": batch})
	}

	// The token checker echoes what was pasted (no-store), and keeps nothing.
	checked := identity.Sign(s2, "u_checked")
	tokens.addToken("checked token", checked)
	r := c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {"u_checked"}, "token": {checked}})
	if !strings.Contains(dashtest.Text(r.Doc(t).ByID("verdict")), "Verified") {
		t.Fatalf("checker verdict = %q", dashtest.Text(r.Doc(t).ByID("verdict")))
	}
	checkerResponse := r

	// Every later page.
	for _, path := range []string{
		"/settings/identity", "/settings/identity?project=default#secret", "/settings/identity/rejections?project=default",
		"/settings/identity/rotate?project=default", "/audit", "/account", "/no/such/page", "/settings/identity?project=nope",
	} {
		c.Get(path)
	}
	for _, reason := range identity.Reasons {
		c.Get("/settings/identity/rejections?project=default&reason=" + reason.String())
		c.Get("/settings/identity?project=default&reason=" + reason.String())
	}
	c.Post("/settings/identity/rotate", url.Values{"project": {"default"}}, "Sec-Fetch-Site", "cross-site") // the 403 page
	c.Post("/settings/identity/strict", url.Values{"project": {"default"}, "strict": {"perhaps"}})          // a 400 page
	c.Post("/logout", nil)
	c.Get("/login")

	if err := e.Writer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rej, err := e.Store.Rejections(ctx, store.RejectionFilter{ProjectID: e.Project.ID, Limit: 1000})
	if err != nil || len(rej) < 20 {
		t.Fatalf("%d rejections stored (%v): the scenario did not exercise them", len(rej), err)
	}

	// Responses: the secret only in its own page's body.
	sessionIDs := needles{}
	for _, r := range rec.resp {
		what := r.Request.Method + " " + r.Request.URL.String()
		secrets.find(t, "the URL of "+what, []byte(r.Request.URL.String()))
		tokens.find(t, "the URL of "+what, []byte(r.Request.URL.String()))
		var hdr bytes.Buffer
		r.Header.Write(&hdr)
		secrets.find(t, "the headers of "+what, hdr.Bytes())
		tokens.find(t, "the headers of "+what, hdr.Bytes())
		for _, ck := range r.Cookies() {
			vals, err := e.DecodeCookie(ck)
			if err != nil {
				t.Errorf("%s: cookie %s does not decode: %v", what, ck.Name, err)
			}
			b, _ := json.Marshal(vals)
			secrets.find(t, "cookie "+ck.Name+" of "+what, b)
			tokens.find(t, "cookie "+ck.Name+" of "+what, b)
			if sid, ok := vals["sid"].(string); ok {
				sessionIDs["session id "+sid[:6]] = []byte(sid)
			}
		}
		isShown := false
		for _, s := range shown {
			isShown = isShown || s.Response == r.Response
		}
		if !isShown {
			secrets.find(t, "the body of "+what, []byte(r.Body))
		}
		if r.Response != checkerResponse.Response {
			tokens.find(t, "the body of "+what, []byte(r.Body))
		}
	}
	if len(sessionIDs) == 0 {
		t.Fatal("no session id seen in any cookie")
	}

	// Logs and the audit log.
	secrets.find(t, "the log", []byte(e.Logs.String()))
	tokens.find(t, "the log", []byte(e.Logs.String()))
	sessionIDs.find(t, "the log", []byte(e.Logs.String()))
	audit, _ := e.Store.AuditLog(ctx, 0, 1000)
	for _, a := range audit {
		b := []byte(fmt.Sprintf("%+v", a))
		secrets.find(t, "audit row "+a.Action, b)
		tokens.find(t, "audit row "+a.Action, b)
	}

	// The files, raw: while running (with the WAL), then checkpointed.
	all := needles{"the admin's password": []byte(dashtest.Password)}
	for _, n := range []needles{secrets, tokens, sessionIDs} {
		for k, v := range n {
			all[k] = v
		}
	}
	dir := filepath.Dir(e.Store.Path())
	files := scanDir(t, dir, all)
	if strings.Join(files, " ") != "sendora.db sendora.db-shm sendora.db-wal sendora.db.migrate-lock" {
		t.Errorf("data files = %v, want the database, its WAL and shared memory, and the empty lock file of opening it", files)
	}
	if fi, err := os.Stat(filepath.Join(dir, "sendora.db.migrate-lock")); err != nil || fi.Size() != 0 {
		t.Errorf("the lock file of opening the database holds something: %v, %v", fi, err)
	}
	db, err := sql.Open("sqlite", "file:"+e.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	scanDir(t, dir, all)
	// The sealed secrets are there, so the scan would have found plaintext.
	st, _ := e.Store.IdentityState(ctx, e.Project.ID)
	if len(st.Keys) != 2 {
		t.Errorf("%d keys stored, want 2", len(st.Keys))
	}
}
