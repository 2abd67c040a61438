package server

import (
	"net/http"
)

// Handler returns every route with its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()

	// Probes: no session, no logging noise beyond the access log.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	return s.accessLog(s.recoverPanics(securityHeaders(mux)))
}
