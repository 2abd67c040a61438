package server

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/settings"
	"github.com/sendora/sendora/internal/webui"
)

// Dashboard is what the dashboard routes need.
type Dashboard struct {
	Auth     *auth.Service
	Settings *settings.Handler
	UI       *webui.Renderer
	// TrustedOrigins are origins besides the request's own Host that may
	// post to the dashboard: the --public-url, when a proxy rewrites Host.
	TrustedOrigins []string
}

// pageCSP is the Content-Security-Policy of dashboard pages: scripts only
// from this response's nonce, styles and images only from our own static
// files (no inline style attributes), fetches and form posts only to
// ourselves, and no framing.
func pageCSP(nonce string) string {
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// dashboardChain returns the middleware every dashboard route runs behind,
// outermost first: the CSP nonce (so even a refusal page has its headers),
// cross-origin protection, the session, and a recover that renders the
// 500 page.
func (s *Server) dashboardChain() func(http.Handler) http.Handler {
	ui := s.dash.UI
	cop := http.NewCrossOriginProtection()
	for _, o := range s.dash.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			s.log.Warn("ignoring trusted origin", "origin", o, "err", err)
		}
	}
	// A refused cross-site post gets the dashboard's 403 page. The check
	// uses Sec-Fetch-Site, or Origin against Host for older browsers; it
	// needs no token in forms, so every form works without JavaScript.
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", "method", r.Method, "route", r.Pattern,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "origin", r.Header.Get("Origin"))
		ui.Error(w, r, webui.Errorf(webui.Forbidden,
			"This request came from another site, so it was refused. Use the dashboard's own pages to make changes."))
	}))
	return func(h http.Handler) http.Handler {
		h = s.recoverPage(h)
		h = s.dash.Auth.Load(h)
		h = cop.Handler(h)
		return withPageCSP(h)
	}
}

// withPageCSP gives each response a fresh nonce and the page CSP.
func withPageCSP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := webui.NewNonce()
		w.Header().Set("Content-Security-Policy", pageCSP(nonce))
		next.ServeHTTP(w, r.WithContext(webui.WithNonce(r.Context(), nonce)))
	})
}

// recoverPage turns a panic in a dashboard handler into the 500 page.
func (s *Server) recoverPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// UI.Error logs it, once.
				s.dash.UI.Error(w, r, &webui.Error{Code: webui.Internal, Err: fmt.Errorf("panic: %v\n%s", v, debug.Stack())})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
