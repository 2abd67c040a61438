package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server/dashtest"
)

// checkLabels fails for each form control of the page a person cannot
// name: an input (other than hidden ones and buttons), select or textarea
// without a <label for> its id, an enclosing <label>, or an aria-label;
// and a button without text or aria-label.
func checkLabels(t *testing.T, what string, d *dashtest.Doc) {
	t.Helper()
	labelled := map[string]bool{}
	for _, l := range d.Find("label") {
		labelled[dashtest.Attr(l, "for")] = true
	}
	inLabel := func(n *html.Node) bool {
		for p := n.Parent; p != nil; p = p.Parent {
			if p.Type == html.ElementNode && p.Data == "label" {
				return true
			}
		}
		return false
	}
	for _, tag := range []string{"input", "select", "textarea"} {
		for _, n := range d.Find(tag) {
			switch dashtest.Attr(n, "type") {
			case "hidden", "submit", "button":
				continue
			}
			id := dashtest.Attr(n, "id")
			if !(id != "" && labelled[id]) && !inLabel(n) && dashtest.Attr(n, "aria-label") == "" {
				t.Errorf("%s: <%s name=%q> has no label", what, tag, dashtest.Attr(n, "name"))
			}
		}
	}
	for _, b := range d.Find("button") {
		if strings.TrimSpace(dashtest.Text(b)) == "" && dashtest.Attr(b, "aria-label") == "" {
			t.Errorf("%s: a button without a name", what)
		}
	}
}

// TestClaimsPages: every page signed claims adds or changes (the Identity
// page with Token schemes, a running overlap and a decoded JWT in the
// checker, the rotation pages with their notes and JWT snippets, the End
// overlap confirmation) carries the dashboard's headers and nonce, no
// inline script, handler or style, parses, and labels every control.
func TestClaimsPages(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	c := e.NewClient()
	c.Login("ada@example.com", dashtest.Password)
	ctx := context.Background()
	v1, err := e.Manager.Rotate(ctx, e.Project.ID, 0, identity.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	page := func(what string, r *dashtest.Response, status int) {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s = %d, want %d", what, r.StatusCode, status)
		}
		checkHeaders(t, what, r)
		checkLabels(t, what, r.Doc(t))
	}
	page("identity, no overlap, no JWT seen", c.Get("/settings/identity"), http.StatusOK)
	page("rotation confirmation", c.Get("/settings/identity/rotate?project=default"), http.StatusOK)
	confirm := dashtest.FormValues(c.Get("/settings/identity/rotate?project=default").Doc(t).Form("/settings/identity/rotate"))
	page("new secret with JWT snippets", c.Post("/settings/identity/rotate", confirm), http.StatusOK)

	now := e.Clock.Now()
	tok, _ := identity.SignJWT(v1.Secret, identity.JWTClaims{Subject: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), Traits: []byte(`{"plan":"<b>x</b>"}`)})
	page("identity with an overlap", c.Get("/settings/identity"), http.StatusOK)
	page("end-overlap confirmation", c.Get("/settings/identity/end-overlap?project=default"), http.StatusOK)
	checked := c.Post("/settings/identity/check", url.Values{"project": {"default"}, "userId": {"u"}, "token": {tok}})
	page("checker with a JWT", checked, http.StatusOK)
	claims := checked.Doc(t).ByID("checker-claims")
	if len(dashtest.Find(claims, "b")) != 0 || !strings.Contains(dashtest.Text(claims), `"plan": "\u003cb\u003ex`) {
		t.Errorf("signed traits are not shown as text: %q", dashtest.Text(claims))
	}
	page("schemes refused", c.Post("/settings/identity/schemes", url.Values{"project": {"default"}, "schemes": {"x"}}), http.StatusBadRequest)
	c.Post("/settings/identity/end-overlap", url.Values{"project": {"default"}, "version": {"1"}})
	page("end-overlap confirmation, none running", c.Get("/settings/identity/end-overlap?project=default"), http.StatusOK)
	page("end-overlap confirmation, no project", c.Get("/settings/identity/end-overlap?project=nope"), http.StatusNotFound)
}
