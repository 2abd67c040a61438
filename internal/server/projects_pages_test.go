package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/server/dashtest"
)

// TestProjectPages: every state of the Projects pages (the list, a refused
// create, a project with one key and with two, each panel's refusal, the
// delete confirmation, refused, and for the last project) carries the
// dashboard's headers and nonce, no inline script, handler or style,
// parses, labels every control, points every aria-describedby at an
// element that exists, and shows what the admin typed as text.
func TestProjectPages(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	page := func(what string, r *dashtest.Response, status int) *dashtest.Doc {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s = %d, want %d\n%s", what, r.StatusCode, status, r.Body)
		}
		checkHeaders(t, what, r)
		d := r.Doc(t)
		checkLabels(t, what, d)
		for _, n := range d.Find("") {
			for _, id := range strings.Fields(dashtest.Attr(n, "aria-describedby")) {
				if d.ByID(id) == nil {
					t.Errorf("%s: aria-describedby names %q, which is not on the page", what, id)
				}
			}
		}
		if len(d.Find("img")) != 0 || len(d.Find("b")) != 0 {
			t.Errorf("%s: typed markup became elements", what)
		}
		return d
	}
	page("projects", c.Get("/projects"), http.StatusOK)
	d := page("create refused", c.Post("/projects", url.Values{"name": {`<img src=x onerror=alert(1)><b>`}}), http.StatusBadRequest)
	if v := dashtest.Attr(d.ByID("create-name"), "value"); v != `<img src=x onerror=alert(1)><b>` {
		t.Errorf("the refused name is echoed as %q", v)
	}
	c.Post("/projects", url.Values{"name": {"shop"}})
	d = page("project, one key", c.Get("/projects/view?project=shop"), http.StatusOK)
	page("project, origins refused", c.Post("/projects/origins", mergeForm(dashtest.FormValues(d.Form("/projects/origins")), "origins", "https://a.example\n<img src=x><b>")), http.StatusBadRequest)
	page("project, rename refused", c.Post("/projects/rename", mergeForm(dashtest.FormValues(d.Form("/projects/rename")), "name", "<b>x</b>")), http.StatusBadRequest)
	page("project, keep refused", c.Post("/projects/key/rotate", mergeForm(dashtest.FormValues(d.Form("/projects/key/rotate")), "keep", "<b>")), http.StatusBadRequest)
	c.Post("/projects/key/rotate", mergeForm(dashtest.FormValues(d.Form("/projects/key/rotate")), "keep", "revoke"))
	d = page("project, two keys", c.Get("/projects/view?project=shop"), http.StatusOK)
	page("project, current key revoke refused", c.Post("/projects/key/revoke", mergeForm(dashtest.FormValues(d.Form("/projects/key/revoke")),
		"key", dashtest.Text(d.ByID("current-key")))), http.StatusConflict)
	page("project list, rotating", c.Get("/projects"), http.StatusOK)
	d = page("delete confirmation", c.Get("/projects/delete?project=shop"), http.StatusOK)
	page("delete refused", c.Post("/projects/delete", mergeForm(dashtest.FormValues(d.Form("/projects/delete")), "confirm", "<b>shop</b>")), http.StatusBadRequest)
	page("delete confirmation, missing", c.Get("/projects/delete?project=nope"), http.StatusNotFound)
	page("project, missing", c.Get("/projects/view?project=nope"), http.StatusNotFound)
	c.Post("/projects/delete", mergeForm(dashtest.FormValues(d.Form("/projects/delete")), "confirm", "shop"))
	page("delete confirmation, the last project", c.Get("/projects/delete?project=default"), http.StatusOK)
	page("project, the last one", c.Get("/projects/view?project=default"), http.StatusOK)
}

func mergeForm(v url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
