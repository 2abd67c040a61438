package server

import (
	"net/http"

	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/static"
	"github.com/sendora/sendora/web/static/sdk"
)

// Handler returns every route with its middleware.
func (s *Server) Handler() http.Handler {
	mux, _ := s.routes()
	return s.accessLog(s.recoverPanics(securityHeaders(mux)))
}

// Routes returns every pattern Handler serves, in registration order
// ("POST /login", "GET /healthz", "/" …). Tests walk it, so a new form or
// page cannot be left out of the cross-site and header checks.
func (s *Server) Routes() []string {
	_, patterns := s.routes()
	return patterns
}

// router is a ServeMux that remembers its patterns.
type router struct {
	*http.ServeMux
	patterns []string
}

func (r *router) Handle(pattern string, h http.Handler) {
	r.patterns = append(r.patterns, pattern)
	r.ServeMux.Handle(pattern, h)
}

func (r *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(h))
}

func (s *Server) routes() (*http.ServeMux, []string) {
	mux := &router{ServeMux: http.NewServeMux()}

	// Probes: no session, no logging noise beyond the access log.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	// Ingestion: called cross-site by browser SDKs by design, so no
	// session, no cross-origin protection; CORS is answered by the handler.
	mux.HandleFunc("POST /events", s.ingest.Event)
	mux.HandleFunc("POST /events/batch", s.ingest.Batch)
	mux.HandleFunc("OPTIONS /events", s.ingest.Preflight)
	mux.HandleFunc("OPTIONS /events/batch", s.ingest.Preflight)
	mux.HandleFunc("/events", s.ingest.NotAllowed)
	mux.HandleFunc("/events/batch", s.ingest.NotAllowed)
	// The browser SDK, loaded by customers' sites: CORS *, no session.
	mux.Handle("GET "+sdk.Prefix, sdk.Handler())

	// Dashboard: its own chain (CSP nonce, cross-origin protection,
	// session), listed in dashboardRoutes below. It never wraps /events.
	if s.dash != nil {
		s.dashboardRoutes(mux)
	}
	return mux.ServeMux, mux.patterns
}

// ---- Dashboard routes (Settings → Identity, sign-in, audit log) ----

// dashboardRoutes registers the dashboard. Every route runs behind
// s.dashboard: a per-response CSP nonce, http.CrossOriginProtection on
// every state-changing method, and the admin's session. Pages that need an
// admin add RequireAdmin.
func (s *Server) dashboardRoutes(mux *router) {
	a, st, ui := s.dash.Auth, s.dash.Settings, s.dash.UI
	chain := s.dashboardChain()
	page := func(fn webui.HandlerFunc) http.Handler { return chain(ui.Handle(fn)) }
	admin := func(fn webui.HandlerFunc) http.Handler { return chain(a.RequireAdmin(ui.Handle(fn))) }

	mux.Handle("GET /{$}", page(a.Root))
	mux.Handle("GET /setup", page(a.SetupPage))
	mux.Handle("POST /setup", page(a.Setup))
	mux.Handle("GET /login", page(a.LoginPage))
	mux.Handle("POST /login", page(a.Login))
	mux.Handle("POST /logout", page(a.Logout))
	mux.Handle("GET /account", admin(a.AccountPage))
	mux.Handle("POST /account/password", admin(a.ChangePassword))
	mux.Handle("GET /admins", admin(a.AdminsPage))
	mux.Handle("POST /admins/invite", admin(a.Invite))
	mux.Handle("POST /admins/invite/cancel", admin(a.CancelInvite))
	mux.Handle("GET /admins/remove", admin(a.RemoveConfirm))
	mux.Handle("POST /admins/remove", admin(a.Remove))
	mux.Handle("GET /invite", page(a.InvitePage))
	mux.Handle("POST /invite", page(a.AcceptInvite))

	mux.Handle("GET /settings/identity", admin(st.Identity))
	mux.Handle("GET /settings/identity/rejections", admin(st.RejectionsFragment))
	mux.Handle("GET /settings/identity/rotate", admin(st.RotateConfirm))
	mux.Handle("POST /settings/identity/rotate", admin(st.Rotate))
	mux.Handle("POST /settings/identity/strict", admin(st.Strict))
	mux.Handle("POST /settings/identity/check", admin(st.Check))
	mux.Handle("POST /settings/identity/schemes", admin(st.Schemes))
	mux.Handle("GET /settings/identity/end-overlap", admin(st.EndOverlapConfirm))
	mux.Handle("POST /settings/identity/end-overlap", admin(st.EndOverlap))
	mux.Handle("GET /projects", admin(st.Projects))
	mux.Handle("POST /projects", admin(st.CreateProject))
	mux.Handle("GET /projects/view", admin(st.ProjectView))
	mux.Handle("POST /projects/rename", admin(st.RenameProject))
	mux.Handle("POST /projects/origins", admin(st.ProjectOrigins))
	mux.Handle("POST /projects/key/rotate", admin(st.RotateKey))
	mux.Handle("POST /projects/key/revoke", admin(st.RevokeKey))
	mux.Handle("GET /projects/delete", admin(st.DeleteConfirm))
	mux.Handle("POST /projects/delete", admin(st.DeleteProject))
	mux.Handle("GET /audit", admin(st.Audit))
	mux.Handle("GET /profiles", admin(st.Profiles))
	mux.Handle("GET /profiles/view", admin(st.ProfileView))
	mux.Handle("GET /event-log", admin(st.EventLog))
	mux.Handle("GET /event-log/view", admin(st.EventView))

	notFound := chain(http.HandlerFunc(ui.NotFound))
	mux.Handle("GET "+static.Prefix, static.Handler(notFound))
	// Every other path gets the dashboard's 404 page, with its headers.
	mux.Handle("/", notFound)
}
