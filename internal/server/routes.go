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

	// Ingestion: called cross-site by browser SDKs by design, so no
	// session, no cross-origin protection; CORS is answered by the handler.
	mux.HandleFunc("POST /events", s.ingest.Event)
	mux.HandleFunc("POST /events/batch", s.ingest.Batch)
	mux.HandleFunc("OPTIONS /events", s.ingest.Preflight)
	mux.HandleFunc("OPTIONS /events/batch", s.ingest.Preflight)
	mux.HandleFunc("/events", s.ingest.NotAllowed)
	mux.HandleFunc("/events/batch", s.ingest.NotAllowed)

	return s.accessLog(s.recoverPanics(securityHeaders(mux)))
}
