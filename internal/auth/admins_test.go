package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// invite creates an invitation as c and returns the link the page shows.
func invite(t *testing.T, c *dashtest.Client, email string) string {
	t.Helper()
	r := c.Post("/admins/invite", url.Values{"email": {email}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("invite %s = %d, want 200\n%s", email, r.StatusCode, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page showing the invitation link has Cache-Control %q, want no-store", cc)
	}
	link := dashtest.Text(r.Doc(t).ByID("invite-link"))
	if !strings.HasPrefix(link, c.Base+"/invite?token=") {
		t.Fatalf("invitation link = %q, want %s/invite?token=…", link, c.Base)
	}
	return link
}

func tokenOf(link string) string {
	u, _ := url.Parse(link)
	return u.Query().Get("token")
}

func TestInviteCreatesAdminOnce(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	ada := e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)

	// Refusals: not an email, an existing admin.
	if r := ada.Post("/admins/invite", url.Values{"email": {"not an email"}}); r.StatusCode != http.StatusBadRequest || r.Doc(t).ByID("admins-error") == nil {
		t.Errorf("inviting a non-email = %d, want 400 with the error on the page", r.StatusCode)
	}
	if r := ada.Post("/admins/invite", url.Values{"email": {"ADA@example.com"}}); r.StatusCode != http.StatusConflict ||
		!strings.Contains(dashtest.Text(r.Doc(t).ByID("admins-error")), "already an admin") {
		t.Errorf("inviting an admin = %d, want 409 saying so", r.StatusCode)
	}

	link := invite(t, ada, "Bob@Example.com")
	token := tokenOf(link)
	page := ada.Get("/admins")
	if strings.Contains(page.Body, token) {
		t.Errorf("the Admins page shows the invitation link again")
	}
	if li := page.Doc(t).Find("li", "data-email", "bob@example.com"); len(li) != 1 {
		t.Errorf("the pending invitation is not listed")
	}

	// A fresh browser opens the link: bob is fixed, the password checked.
	bob := e.NewClient()
	u, _ := url.Parse(link)
	form := dashtest.FormValues(bob.Get(u.RequestURI()).Doc(t).Form("/invite"))
	if form.Get("username") != "bob@example.com" || form.Get("token") != token {
		t.Fatalf("invitation form = %v", form)
	}
	form.Set("password", "short")
	form.Set("confirm", "short")
	if r := bob.Post("/invite", form); r.StatusCode != http.StatusBadRequest {
		t.Errorf("short password = %d, want 400", r.StatusCode)
	}
	form.Set("password", dashtest.Password)
	if r := bob.Post("/invite", form); r.StatusCode != http.StatusBadRequest {
		t.Errorf("passwords that differ = %d, want 400", r.StatusCode)
	}
	// The form cannot choose another email than the invited one.
	form.Set("confirm", dashtest.Password)
	form.Set("username", "mallory@example.com")
	form.Set("email", "mallory@example.com")
	r := bob.Post("/invite", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/identity" {
		t.Fatalf("accepting = %d → %q, want 303 to /settings/identity\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	if got := bob.Get("/admins"); got.StatusCode != http.StatusOK || len(got.Doc(t).Find("tr", "data-email", "bob@example.com")) != 1 {
		t.Errorf("bob is not signed in on the Admins page: %d", got.StatusCode)
	}
	if _, err := e.Store.AdminByEmail(context.Background(), "mallory@example.com"); err == nil {
		t.Errorf("the form created an admin with an email of its choosing")
	}
	bob2 := e.NewClient()
	bob2.Login("bob@example.com", dashtest.Password)

	// The link works once: opening or posting it again is refused.
	again := e.NewClient()
	if r := again.Get(u.RequestURI()); r.StatusCode != http.StatusForbidden || r.Doc(t).ByID("invite-invalid") == nil {
		t.Errorf("used link = %d, want 403 explaining it", r.StatusCode)
	}
	if r := again.Post("/invite", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("reposting a used link = %d, want 403", r.StatusCode)
	}
	if r := again.Get("/admins"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("reposting a used link signed the browser in: /admins = %d", r.StatusCode)
	}
	if n, _ := e.Store.CountAdmins(context.Background()); n != 2 {
		t.Errorf("%d admins, want 2", n)
	}

	rows := audit(t, e)
	if countAudit(rows, store.ActionAdminInvite, "ada@example.com", "email=bob@example.com") != 1 ||
		countAudit(rows, store.ActionAdminCreate, "bob@example.com", "invited by ada@example.com") != 1 ||
		countAudit(rows, store.ActionLogin, "bob@example.com", "invitation") != 1 {
		t.Errorf("audit log lacks the invitation, the creation or the sign-in: %+v", rows)
	}
	// The token is never logged, nor kept in the database.
	if strings.Contains(e.Logs.String(), token) {
		t.Errorf("the invitation token was logged")
	}
	for _, a := range rows {
		if strings.Contains(a.Detail, token) {
			t.Errorf("the invitation token is in the audit log")
		}
	}
}

func TestInviteExpires(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	ada := e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)
	link := invite(t, ada, "bob@example.com")
	bob := e.NewClient()
	u, _ := url.Parse(link)
	form := dashtest.FormValues(bob.Get(u.RequestURI()).Doc(t).Form("/invite"))
	form.Set("password", dashtest.Password)
	form.Set("confirm", dashtest.Password)

	e.Clock.Advance(auth.DefaultInviteTTL + time.Second)
	if r := bob.Get(u.RequestURI()); r.StatusCode != http.StatusForbidden || !strings.Contains(dashtest.Text(r.Doc(t).Root), "expired") {
		t.Errorf("expired link = %d, want 403 explaining it may have expired", r.StatusCode)
	}
	if r := bob.Post("/invite", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("posting an expired link = %d, want 403", r.StatusCode)
	}
	if _, err := e.Store.AdminByEmail(context.Background(), "bob@example.com"); err == nil {
		t.Errorf("an expired link created an admin")
	}
	if li := ada.Get("/admins").Doc(t).Find("li", "data-email", "bob@example.com"); len(li) != 0 {
		t.Errorf("an expired invitation is listed as pending")
	}
}

func TestInviteReplacedAndCancelled(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	ada := e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)
	first := invite(t, ada, "bob@example.com")
	second := invite(t, ada, "bob@example.com") // a resubmitted form, or a lost link
	if first == second {
		t.Fatal("inviting again gave the same link")
	}
	for _, l := range []string{first} {
		u, _ := url.Parse(l)
		if r := e.NewClient().Get(u.RequestURI()); r.StatusCode != http.StatusForbidden {
			t.Errorf("replaced link = %d, want 403", r.StatusCode)
		}
	}
	r := ada.Post("/admins/invite/cancel", url.Values{"email": {"bob@example.com"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admins" {
		t.Fatalf("cancel = %d, want 303 to /admins", r.StatusCode)
	}
	u, _ := url.Parse(second)
	if r := e.NewClient().Get(u.RequestURI()); r.StatusCode != http.StatusForbidden {
		t.Errorf("cancelled link = %d, want 403", r.StatusCode)
	}
	if r := ada.Post("/admins/invite/cancel", url.Values{"email": {"bob@example.com"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("cancelling twice = %d, want 404", r.StatusCode)
	}
}

// TestRemoveAdminEndsSessionsEverywhere: the removed admin's cookies stop
// working at once, on this instance and on another one sharing the
// database; the last admin is never removed.
func TestRemoveAdminEndsSessionsEverywhere(t *testing.T) {
	e := dashtest.New(t)
	other := dashtest.New(t, dashtest.Options{Store: storetest.Reopen(t, e.Store), Sealer: e.Sealer, Clock: e.Clock})
	e.CreateAdmin("ada@example.com")
	e.CreateAdmin("bob@example.com")
	ada := e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)
	bobHere, bobThere := e.NewClient(), other.NewClient()
	bobHere.Login("bob@example.com", dashtest.Password)
	bobThere.Login("bob@example.com", dashtest.Password)

	if r := ada.Get("/admins/remove?email=nobody@example.com"); r.StatusCode != http.StatusNotFound {
		t.Errorf("confirming an unknown admin = %d, want 404", r.StatusCode)
	}
	confirm := ada.Get("/admins/remove?email=bob@example.com")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(dashtest.Text(confirm.Doc(t).Root), "its 2 sessions end") {
		t.Fatalf("confirm page = %d\n%s", confirm.StatusCode, confirm.Body)
	}
	form := dashtest.FormValues(confirm.Doc(t).Form("/admins/remove"))
	r := ada.Post("/admins/remove", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admins" {
		t.Fatalf("remove = %d → %q, want 303 to /admins", r.StatusCode, r.Header.Get("Location"))
	}
	if flash := ada.Get("/admins").Doc(t).Find("div", "class", "flash-ok"); len(flash) != 1 || !strings.Contains(dashtest.Text(flash[0]), "2 sessions were signed out") {
		t.Errorf("no flash saying the sessions ended")
	}
	for name, c := range map[string]*dashtest.Client{"this instance": bobHere, "the other instance": bobThere} {
		if r := c.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("removed admin's cookie on %s: GET = %d → %q, want 303 to /login", name, r.StatusCode, r.Header.Get("Location"))
		}
		if r := c.Post("/admins/invite", url.Values{"email": {"mallory@example.com"}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("removed admin's cookie on %s: POST = %d, want 303 to /login", name, r.StatusCode)
		}
	}
	if r := e.NewClient().Post("/login", url.Values{"email": {"bob@example.com"}, "password": {dashtest.Password}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("removed admin signing in = %d, want 401", r.StatusCode)
	}

	// Ada is now the last admin: the confirm page and the form say no.
	last := ada.Get("/admins/remove?email=ada@example.com")
	if last.StatusCode != http.StatusOK || last.Doc(t).ByID("remove-refused") == nil || last.Doc(t).Form("/admins/remove") != nil {
		t.Errorf("confirming the last admin's removal = %d, want the refusal and no form", last.StatusCode)
	}
	r = ada.Post("/admins/remove", url.Values{"email": {"ada@example.com"}})
	if r.StatusCode != http.StatusConflict || !strings.Contains(dashtest.Text(r.Doc(t).ByID("admins-error")), "only admin") {
		t.Errorf("removing the last admin = %d, want 409 saying it is the only admin", r.StatusCode)
	}
	if r := ada.Get("/admins"); r.StatusCode != http.StatusOK {
		t.Errorf("the last admin was signed out: %d", r.StatusCode)
	}
	if r := ada.Post("/admins/remove", url.Values{"email": {"bob@example.com"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("removing a removed admin = %d, want 404", r.StatusCode)
	}
	rows := audit(t, e)
	if countAudit(rows, store.ActionAdminRemove, "ada@example.com", "email=bob@example.com sessions ended=2") != 1 {
		t.Errorf("audit log lacks the removal: %+v", rows)
	}
}

func TestRemoveYourself(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	e.CreateAdmin("bob@example.com")
	ada, bob := e.NewClient(), e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)
	bob.Login("bob@example.com", dashtest.Password)
	confirm := bob.Get("/admins/remove?email=bob@example.com")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(dashtest.Text(confirm.Doc(t).Root), "This is your own account") {
		t.Errorf("confirming one's own removal = %d without the warning", confirm.StatusCode)
	}
	r := bob.Post("/admins/remove", url.Values{"email": {"bob@example.com"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("removing oneself = %d → %q, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
	}
	if r := bob.Get("/admins"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after removing oneself, /admins = %d, want the sign-in redirect", r.StatusCode)
	}
	if r := ada.Get("/admins"); r.StatusCode != http.StatusOK {
		t.Errorf("another admin was signed out: %d", r.StatusCode)
	}
}

// TestRemoveEachOtherAtOnce: two admins, each the other's only peer, press
// Remove at the same moment. One removal wins; the dashboard is never left
// without an admin.
func TestRemoveEachOtherAtOnce(t *testing.T) {
	e := dashtest.New(t)
	ctx := context.Background()
	for round := range 5 {
		a, b := "a"+string(rune('0'+round))+"@example.com", "b"+string(rune('0'+round))+"@example.com"
		e.CreateAdmin(a)
		e.CreateAdmin(b)
		for _, x := range mustList(t, e) {
			if x != a && x != b {
				if _, err := e.Store.RemoveAdmin(ctx, x, store.Audit{Actor: "test", At: e.Clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
		}
		ca, cb := e.NewClient(), e.NewClient()
		ca.Login(a, dashtest.Password)
		cb.Login(b, dashtest.Password)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		wg.Go(func() { codes[0] = ca.Post("/admins/remove", url.Values{"email": {b}}).StatusCode })
		wg.Go(func() { codes[1] = cb.Post("/admins/remove", url.Values{"email": {a}}).StatusCode })
		wg.Wait()
		if n, _ := e.Store.CountAdmins(ctx); n != 1 {
			t.Fatalf("round %d: %d admins left (answers %v), want 1", round, n, codes)
		}
	}
}

func mustList(t *testing.T, e *dashtest.Env) []string {
	t.Helper()
	admins, err := e.Store.ListAdmins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range admins {
		out = append(out, a.Email)
	}
	return out
}

func TestAdminsPageListsLastSignIn(t *testing.T) {
	e := dashtest.New(t)
	e.CreateAdmin("ada@example.com")
	e.CreateAdmin("bob@example.com")
	ada := e.NewClient()
	ada.Login("ada@example.com", dashtest.Password)
	d := ada.Get("/admins").Doc(t)
	rowA, rowB := d.Find("tr", "data-email", "ada@example.com"), d.Find("tr", "data-email", "bob@example.com")
	if len(rowA) != 1 || len(rowB) != 1 {
		t.Fatalf("admins table lacks a row")
	}
	if txt := dashtest.Text(rowA[0]); !strings.Contains(txt, "you") || !strings.Contains(txt, dashtest.Start.Format("2006-01-02 15:04:05")) {
		t.Errorf("ada's row = %q, want 'you' and the sign-in time", txt)
	}
	if txt := dashtest.Text(rowB[0]); !strings.Contains(txt, "never") {
		t.Errorf("bob's row = %q, want 'never' signed in", txt)
	}
	// Every control has a name for screen readers.
	for _, a := range d.Find("a", "class", "button") {
		if dashtest.Attr(a, "aria-label") == "" && dashtest.Text(a) == "" {
			t.Errorf("a link without a name")
		}
	}
	if in := d.ByID("invite-email"); in == nil || len(d.Find("label", "for", "invite-email")) != 1 {
		t.Errorf("the invite field has no label")
	}
}

// On PostgreSQL, the same tests.
func TestInviteCreatesAdminOnceOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestInviteCreatesAdminOnce)
}
func TestInviteExpiresOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestInviteExpires) }
func TestInviteReplacedAndCancelledOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestInviteReplacedAndCancelled)
}
func TestRemoveAdminEndsSessionsEverywhereOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRemoveAdminEndsSessionsEverywhere)
}
func TestRemoveYourselfOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestRemoveYourself) }
func TestRemoveEachOtherAtOnceOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRemoveEachOtherAtOnce)
}
