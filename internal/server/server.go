// Package server assembles the HTTP server: every route, the middleware
// around each group of routes, and the http.Server with its timeouts.
package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/ingest"
)

// Timeouts for every connection. ReadHeaderTimeout closes slow-header
// (slowloris) connections early; ReadTimeout bounds a whole request body
// (512 KiB at most) even from a slow mobile client. WriteTimeout is longer
// than ReadTimeout, so a body that times out still gets an answer. The
// ingestion endpoints set their own, shorter body deadline (408 in the
// contract's shape) and a write deadline after it that covers the commit.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 45 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Server holds what the routes need.
type Server struct {
	log      *slog.Logger
	clientIP *clientip.Resolver
	ready    func(context.Context) error
	ingest   *ingest.Handler
	dash     *Dashboard
	observe  func(route string, status int, d time.Duration)
}

// Config lists the server's parts.
type Config struct {
	Log      *slog.Logger
	ClientIP *clientip.Resolver
	Ingest   *ingest.Handler
	// Dashboard serves Settings → Identity and sign-in; nil serves none.
	Dashboard *Dashboard
	// Ready reports whether the server can take traffic (/readyz): the
	// store answers and the writer runs.
	Ready func(context.Context) error
	// ObserveRequest, when set, is told each request's route pattern,
	// status and duration (for metrics), after its access log line.
	ObserveRequest func(route string, status int, d time.Duration)
}

// New returns a Server.
func New(c Config) *Server {
	return &Server{log: c.Log, clientIP: c.ClientIP, ready: c.Ready, ingest: c.Ingest, dash: c.Dashboard, observe: c.ObserveRequest}
}

// HTTPServer returns an http.Server for the routes with its timeouts set.
// Its base context is ctx, so handlers see the process shutting down.
func (s *Server) HTTPServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}
