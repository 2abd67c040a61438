package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestSharedStateAcrossInstances runs two servers on one database, each
// with its own connection, as two instances behind a load balancer: the
// setup link one printed works on the other, a session started on one is
// valid on the other and ends on both at sign-out, and failed sign-ins
// count against one budget wherever they land.
func TestSharedStateAcrossInstances(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, b storetest.Backend) {
		st := b.New(t)
		sealer := storetest.Sealer()
		clock := fakeclock.New(dashtest.Start)
		limits := auth.Limits{Window: 15 * time.Minute, PerIP: 4, PerAccount: 100, PerDevice: 100}
		opt := dashtest.Options{Store: st, Sealer: sealer, Clock: clock, Limits: limits, TrustedProxies: []string{"127.0.0.1"}}
		one := dashtest.New(t, opt)
		opt.Store = storetest.Reopen(t, st)
		two := dashtest.New(t, opt)

		// The first admin, through the link the first instance printed,
		// opened on the second.
		c := two.NewClient()
		link := strings.Replace(one.SetupLink, one.URL, two.URL, 1)
		form := setupForm(t, c, link)
		r := c.Post("/setup", url.Values{"token": form["token"], "email": {"ada@example.com"}, "password": {dashtest.Password}, "confirm": {dashtest.Password}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("setup on the second instance with the first's link = %d\n%s", r.StatusCode, r.Body)
		}
		// Now no link works anywhere, the second instance's own included.
		for _, e := range []*dashtest.Env{one, two} {
			for _, l := range []string{one.SetupLink, two.SetupLink} {
				u, _ := url.Parse(l)
				if r := e.NewClient().Get(u.RequestURI()); r.StatusCode == http.StatusOK {
					t.Errorf("a setup link still opens the form after the first admin exists")
				}
			}
		}

		// The session started on the second instance is valid on the first.
		onOne := *c
		onOne.Base = one.URL
		if r := onOne.Get("/settings/identity"); r.StatusCode != http.StatusOK {
			t.Fatalf("the session from the second instance on the first = %d, want 200", r.StatusCode)
		}
		// Signing out on the first ends it on the second.
		if r := onOne.Post("/logout", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout = %d", r.StatusCode)
		}
		if r := c.Get("/settings/identity"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("the signed-out session on the other instance = %d %s, want a redirect to /login", r.StatusCode, r.Header.Get("Location"))
		}

		// Wrong passwords from one address, alternating between the
		// instances: the address's budget of 4 is shared.
		codes := []int{}
		for i := range 6 {
			e := one
			if i%2 == 1 {
				e = two
			}
			g := e.NewClient()
			g.Header.Set("X-Forwarded-For", "198.51.100.7")
			codes = append(codes, g.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong guess " + string(rune('a'+i))}}).StatusCode)
		}
		want := []int{401, 401, 401, 401, 429, 429}
		for i := range want {
			if codes[i] != want[i] {
				t.Fatalf("guesses alternating between instances = %v, want %v", codes, want)
			}
		}
		// The window ends for both at once.
		clock.Advance(limits.Window)
		g := two.NewClient()
		g.Header.Set("X-Forwarded-For", "198.51.100.7")
		if r := g.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {dashtest.Password}}); r.StatusCode != http.StatusSeeOther {
			t.Errorf("sign-in after the window = %d, want 303", r.StatusCode)
		}
		if n, err := st.SweepExpired(context.Background(), clock.Now().Add(limits.Window), 500); err != nil || n == 0 {
			t.Errorf("sweep after the windows ended = %d, %v; want the stale rows deleted", n, err)
		}
	})
}
