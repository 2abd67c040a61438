package settings_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// ingestWith posts one event with key (and an Origin header when origin is
// not "") to the Env's real ingestion route; it returns the status and the
// error code.
func ingestWith(t *testing.T, e *dashtest.Env, key, origin string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/events", strings.NewReader(`{"publicKey":"`+key+`","type":"track","event":"Ping","userId":"u1"}`))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Error struct{ Code string } }
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Error.Code
}

func projectPage(t *testing.T, c *dashtest.Client, name string) *dashtest.Doc {
	t.Helper()
	r := c.Get("/projects/view?project=" + url.QueryEscape(name))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET project page of %s = %d\n%s", name, r.StatusCode, r.Body)
	}
	return r.Doc(t)
}

// postForm posts the page's form for action with its values, changed by
// set; it returns the response (redirects are not followed).
func postForm(t *testing.T, c *dashtest.Client, d *dashtest.Doc, action string, set map[string]string) *dashtest.Response {
	t.Helper()
	f := d.Form(action)
	if f == nil {
		t.Fatalf("no form posting to %s", action)
	}
	v := dashtest.FormValues(f)
	for k, x := range set {
		v.Set(k, x)
	}
	return c.Post(action, v)
}

func flashText(t *testing.T, c *dashtest.Client, path string) string {
	t.Helper()
	d := c.Get(path).Doc(t)
	f := d.Find("div", "class", "flash")
	if len(f) == 0 {
		return ""
	}
	return dashtest.Text(f[0])
}

func wantRedirect(t *testing.T, r *dashtest.Response, prefix string) string {
	t.Helper()
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("status %d Location %q, want 303 to %s…\n%s", r.StatusCode, loc, prefix, r.Body)
	}
	return loc
}

// TestProjectsThroughTheDashboard goes through the Projects pages as an
// admin does, with the real server: create, rotate the key (both keys
// ingest), revoke the old key (refused as an unknown key), edit origins,
// rename (keys and data stay), delete behind the typed name; with the
// refusals a careless or hostile form meets.
func TestProjectsThroughTheDashboard(t *testing.T) {
	e, c := signedIn(t)

	// The list, linked from the nav, with the key as text.
	r := c.Get("/projects")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /projects = %d", r.StatusCode)
	}
	d := r.Doc(t)
	if nav := d.Find("a", "href", "/projects"); len(nav) == 0 || dashtest.Attr(nav[0], "aria-current") != "page" {
		t.Error("the nav has no current Projects link")
	}
	if !strings.Contains(dashtest.Text(d.Root), e.Project.PublicKey) {
		t.Error("the list does not show the default project's public key as text")
	}

	// Create: refusals first, each re-rendering the form with the error.
	for _, c2 := range []struct {
		name   string
		status int
	}{{"", 400}, {strings.Repeat("a", 65), 400}, {"shöp", 400}, {"<script>alert(1)</script>", 400}, {"default", 409}, {"a b", 400}, {"shop\u202e", 400}} {
		r := c.Post("/projects", url.Values{"name": {c2.name}})
		if r.StatusCode != c2.status {
			t.Errorf("create %q: status %d, want %d", c2.name, r.StatusCode, c2.status)
			continue
		}
		in := r.Doc(t).ByID("create-name")
		if dashtest.Attr(in, "aria-invalid") != "true" || !strings.Contains(dashtest.Attr(in, "aria-describedby"), "create-name-error") {
			t.Errorf("create %q: the name input is not marked invalid and described by the error", c2.name)
		}
	}
	wantRedirect(t, c.Post("/projects", url.Values{"name": {"shop"}}), "/projects/view?project=shop")
	shop, err := e.Store.ProjectByName(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	old := shop.PublicKey
	if code, c := ingestWith(t, e, old, ""); code != 200 {
		t.Fatalf("new project's key: %d %s", code, c)
	}

	// Issue a new key, keeping the old one until revoked.
	d = projectPage(t, c, "shop")
	if got := dashtest.Text(d.ByID("current-key")); got != old {
		t.Errorf("current key shown = %q, want %q", got, old)
	}
	if d.ByID("old-key") != nil {
		t.Error("an old key is shown before any rotation")
	}
	rotateForm := d
	wantRedirect(t, postForm(t, c, d, "/projects/key/rotate", map[string]string{"keep": "revoke"}), "/projects/view?project=shop")
	d = projectPage(t, c, "shop")
	cur := dashtest.Text(d.ByID("current-key"))
	if cur == old || !strings.HasPrefix(cur, store.PublicKeyPrefix) || dashtest.Text(d.ByID("old-key")) != old {
		t.Fatalf("after the rotation: current %q old %q", cur, dashtest.Text(d.ByID("old-key")))
	}
	for _, k := range []string{old, cur} {
		if code, c := ingestWith(t, e, k, ""); code != 200 {
			t.Errorf("key %s during the switch: %d %s", k, code, c)
		}
	}
	// The same form again (a reload, a double click) issues nothing.
	r = postForm(t, c, rotateForm, "/projects/key/rotate", map[string]string{"keep": "revoke"})
	wantRedirect(t, r, "/projects/view?project=shop")
	if f := flashText(t, c, r.Header.Get("Location")); !strings.Contains(f, "No new key was issued") {
		t.Errorf("stale rotation flash = %q", f)
	}
	if p, _ := e.Store.ProjectByName(t.Context(), "shop"); p.PublicKey != cur || p.PreviousPublicKey != old {
		t.Errorf("a stale rotation changed the keys: %+v", p)
	}
	// Unknown keep, and revoking the current key (a tampered form), are refused.
	if r := postForm(t, c, d, "/projects/key/rotate", map[string]string{"keep": "forever"}); r.StatusCode != 400 {
		t.Errorf("keep=forever: status %d", r.StatusCode)
	}
	if r := postForm(t, c, d, "/projects/key/revoke", map[string]string{"key": cur}); r.StatusCode != 409 {
		t.Errorf("revoke the current key: status %d, want 409", r.StatusCode)
	}
	// Revoke the old key: refused as an unknown key from now on.
	wantRedirect(t, postForm(t, c, d, "/projects/key/revoke", nil), "/projects/view?project=shop")
	if code, c := ingestWith(t, e, old, ""); code != 401 || c != "INVALID_PUBLIC_KEY" {
		t.Errorf("revoked key: %d %s, want 401 INVALID_PUBLIC_KEY", code, c)
	}
	if code, c := ingestWith(t, e, cur, ""); code != 200 {
		t.Errorf("current key after the revoke: %d %s", code, c)
	}
	// Revoking it again changes nothing.
	r = postForm(t, c, d, "/projects/key/revoke", nil)
	if f := flashText(t, c, wantRedirect(t, r, "/projects/view")); !strings.Contains(f, "Nothing changed") {
		t.Errorf("second revoke flash = %q", f)
	}

	// Origins: normalized, enforced, bad input refused whole.
	d = projectPage(t, c, "shop")
	wantRedirect(t, postForm(t, c, d, "/projects/origins", map[string]string{"origins": "https://Shop.Example:443/\r\nhttps://b.example, https://b.example"}), "/projects/view")
	if p, _ := e.Store.ProjectByName(t.Context(), "shop"); strings.Join(p.AllowedOrigins, " ") != "https://shop.example https://b.example" {
		t.Errorf("origins = %v", p.AllowedOrigins)
	}
	if code, c := ingestWith(t, e, cur, "https://evil.example"); code != 403 || c != "ORIGIN_NOT_ALLOWED" {
		t.Errorf("event from another origin: %d %s", code, c)
	}
	if code, _ := ingestWith(t, e, cur, "https://shop.example"); code != 200 {
		t.Errorf("event from an allowed origin: %d", code)
	}
	var many strings.Builder
	for i := range 101 {
		many.WriteString("https://a" + strconv.Itoa(i) + ".example\n")
	}
	for _, bad := range []string{"shop.example", "https://bücher.example", "javascript:alert(1)", many.String(), strings.Repeat("x", 40<<10)} {
		r := postForm(t, c, d, "/projects/origins", map[string]string{"origins": "https://ok.example\n" + bad})
		if r.StatusCode != 400 || dashtest.Attr(r.Doc(t).ByID("origins-input"), "aria-invalid") != "true" {
			t.Errorf("origins %.40q: status %d, want 400 with the field marked", bad, r.StatusCode)
		}
	}
	if p, _ := e.Store.ProjectByName(t.Context(), "shop"); len(p.AllowedOrigins) != 2 {
		t.Errorf("refused origins changed the list: %v", p.AllowedOrigins)
	}
	wantRedirect(t, postForm(t, c, d, "/projects/origins", map[string]string{"origins": ""}), "/projects/view")
	if code, _ := ingestWith(t, e, cur, "https://evil.example"); code != 200 {
		t.Errorf("cleared origins: %d", code)
	}

	// Rename: a taken or odd name is refused; keys and data stay.
	for _, bad := range []struct {
		name   string
		status int
	}{{"default", 409}, {"", 400}, {strings.Repeat("x", 10000), 400}, {"ｓｈｏｐ", 400}} {
		r := postForm(t, c, d, "/projects/rename", map[string]string{"name": bad.name})
		if r.StatusCode != bad.status || dashtest.Attr(r.Doc(t).ByID("rename-input"), "aria-invalid") != "true" {
			t.Errorf("rename to %.20q: status %d, want %d with the field marked", bad.name, r.StatusCode, bad.status)
		}
	}
	// A form made for another project of the same name (deleted, made
	// again) changes nothing.
	if r := postForm(t, c, d, "/projects/rename", map[string]string{"name": "x", "ref": "999-0"}); r.StatusCode != 409 {
		t.Errorf("rename with another ref: status %d, want 409", r.StatusCode)
	}
	wantRedirect(t, postForm(t, c, d, "/projects/rename", map[string]string{"name": "store"}), "/projects/view?project=store")
	if p, err := e.Store.ProjectByName(t.Context(), "store"); err != nil || p.ID != shop.ID || p.PublicKey != cur {
		t.Errorf("renamed project = %+v, %v", p, err)
	}
	if code, _ := ingestWith(t, e, cur, ""); code != 200 {
		t.Errorf("key after the rename: %d", code)
	}
	if n, _ := e.Store.CountEvents(t.Context(), shop.ID); n < 3 {
		t.Errorf("events after the rename = %d", n)
	}

	// Delete: the typed name is required.
	r = c.Get("/projects/delete?project=store")
	if r.StatusCode != 200 {
		t.Fatalf("delete confirmation = %d", r.StatusCode)
	}
	d = r.Doc(t)
	if in := d.ByID("confirm-name"); in == nil || len(d.Find("label", "for", "confirm-name")) != 1 {
		t.Error("the confirmation input has no label")
	}
	for _, typed := range []string{"", "Store", "store ", "default"} {
		r := postForm(t, c, d, "/projects/delete", map[string]string{"confirm": typed})
		if r.StatusCode != 400 {
			t.Errorf("delete typing %q: status %d, want 400", typed, r.StatusCode)
		}
	}
	if _, err := e.Store.ProjectByName(t.Context(), "store"); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
	wantRedirect(t, postForm(t, c, d, "/projects/delete", map[string]string{"confirm": "store"}), "/projects")
	if code, c := ingestWith(t, e, cur, ""); code != 401 || c != "INVALID_PUBLIC_KEY" {
		t.Errorf("a deleted project's key: %d %s", code, c)
	}
	if r := c.Get("/projects/view?project=store"); r.StatusCode != 404 {
		t.Errorf("a deleted project's page: %d", r.StatusCode)
	}
	// The last project: the page says so, and the post is refused.
	r = c.Get("/projects/delete?project=default")
	if r.Doc(t).Form("/projects/delete") != nil {
		t.Error("the last project's delete page has a delete form")
	}
	last := c.Post("/projects/delete", url.Values{"project": {"default"}, "ref": {dashtest.Attr(projectPage(t, c, "default").Find("input", "name", "ref")[0], "value")}, "confirm": {"default"}})
	if last.StatusCode != 409 || !strings.Contains(last.Body, "only project") {
		t.Errorf("delete the last project: status %d, want 409 saying it is the only one", last.StatusCode)
	}
	if _, err := e.Store.ProjectByName(t.Context(), "default"); err != nil {
		t.Fatal(err)
	}

	// Every change is in the audit log, by the admin, with the address.
	log, _ := e.Store.AuditLog(t.Context(), 0, 100)
	got := map[string]int{}
	for _, a := range log {
		if a.Actor == admin && a.IP != "" {
			got[a.Action]++
		}
	}
	for action, n := range map[string]int{store.ActionProjectCreate: 1, store.ActionKeyRotate: 1, store.ActionKeyRevoke: 1,
		store.ActionProjectOrigins: 2, store.ActionProjectRename: 1, store.ActionProjectDelete: 1} {
		if got[action] != n {
			t.Errorf("audit %s by the admin: %d, want %d (all: %v)", action, got[action], n, got)
		}
	}
	if r := c.Get("/audit"); !strings.Contains(r.Body, "Project deleted") || !strings.Contains(r.Body, "Public key revoked") {
		t.Error("the audit page does not name the project changes")
	}
}

func TestProjectsThroughTheDashboardOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestProjectsThroughTheDashboard)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestProjectPagesNeedAnAdmin: signed out, every Projects route sends to
// the sign-in page and changes nothing.
func TestProjectPagesNeedAnAdmin(t *testing.T) {
	e := dashtest.New(t)
	c := e.NewClient()
	for _, path := range []string{"/projects", "/projects/view?project=default", "/projects/delete?project=default"} {
		if r := c.Get(path); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s signed out: %d %s", path, r.StatusCode, r.Header.Get("Location"))
		}
	}
	ref := itoa(e.Project.ID) + "-" + itoa(e.Project.CreatedAt.UnixMilli())
	for path, form := range map[string]url.Values{
		"/projects":            {"name": {"x"}},
		"/projects/rename":     {"project": {"default"}, "ref": {ref}, "name": {"x"}},
		"/projects/key/rotate": {"project": {"default"}, "ref": {ref}, "key": {e.Project.PublicKey}, "keep": {"0"}},
		"/projects/delete":     {"project": {"default"}, "ref": {ref}, "confirm": {"default"}},
	} {
		if r := c.Post(path, form); r.StatusCode < 300 || r.StatusCode == http.StatusOK {
			t.Errorf("POST %s signed out: %d", path, r.StatusCode)
		}
	}
	if p, err := e.Store.ProjectByName(t.Context(), "default"); err != nil || p.PublicKey != e.Project.PublicKey {
		t.Errorf("signed-out posts changed the project: %+v %v", p, err)
	}
}

// TestStaleFormOfADeletedProject: on SQLite a project made after another
// was deleted and purged may get its id back; a form left open for the
// deleted project (same name, same id) changes nothing of the new one.
func TestStaleFormOfADeletedProject(t *testing.T) {
	e, c := signedIn(t)
	wantRedirect(t, c.Post("/projects", url.Values{"name": {"shop"}}), "/projects/view")
	old, _ := e.Store.ProjectByName(t.Context(), "shop")
	stale := projectPage(t, c, "shop")
	del := c.Get("/projects/delete?project=shop").Doc(t)
	wantRedirect(t, postForm(t, c, del, "/projects/delete", map[string]string{"confirm": "shop"}), "/projects")
	if _, err := e.Store.PurgeDeletedProjects(t.Context(), 100, nil); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Second) // the new project's creation time differs
	wantRedirect(t, c.Post("/projects", url.Values{"name": {"shop"}}), "/projects/view")
	now, _ := e.Store.ProjectByName(t.Context(), "shop")
	t.Logf("%s: the deleted project had id %d, the new one has %d", e.Store.Dialect(), old.ID, now.ID)
	for action, set := range map[string]map[string]string{
		"/projects/rename":     {"name": "hijacked"},
		"/projects/origins":    {"origins": "https://evil.example"},
		"/projects/key/rotate": {"keep": "0", "key": now.PublicKey},
	} {
		if r := postForm(t, c, stale, action, set); r.StatusCode != http.StatusConflict {
			t.Errorf("stale %s: status %d, want 409", action, r.StatusCode)
		}
	}
	if r := postForm(t, c, del, "/projects/delete", map[string]string{"confirm": "shop"}); r.StatusCode != http.StatusConflict {
		t.Errorf("stale delete: status %d, want 409", r.StatusCode)
	}
	if p, err := e.Store.ProjectByName(t.Context(), "shop"); err != nil || p.PublicKey != now.PublicKey || len(p.AllowedOrigins) != 0 {
		t.Errorf("the new project after stale forms: %+v %v", p, err)
	}
}

func TestStaleFormOfADeletedProjectOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestStaleFormOfADeletedProject)
}
