package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/metrics"
	"github.com/sendora/sendora/internal/retention"
	"github.com/sendora/sendora/internal/store"
)

// hooks are the callbacks the writer, the ingestion handler, the server and
// retention call to report what they did. All are nil when metrics are
// off, so those paths cost nothing then.
type hooks struct {
	onCommit  func(ingest.CommitStats)
	onOutcome func(ingest.Outcome)
	onRequest func(route string, status int, d time.Duration)
	onSweep   func(deleted int64, d time.Duration, err error)
	onHeld    func(wait time.Duration, refused bool)
}

func newHooks(m *metrics.Metrics) hooks {
	if m == nil {
		return hooks{}
	}
	return hooks{onCommit: m.Commit, onOutcome: m.Ingest, onRequest: m.Request, onSweep: m.RetentionSwept, onHeld: m.Held}
}

// startMetrics serves /metrics and /debug/pprof/ on their own listener at
// --metrics-addr. It returns a function that stops the listener; with
// metrics off it does nothing.
func startMetrics(log *slog.Logger, addr string, m *metrics.Metrics, st *store.Store, w *ingest.Writer, v *identity.Verifier) (stop func(), err error) {
	if m == nil {
		return func() {}, nil
	}
	m.WatchWriter(w)
	m.WatchVerifier(v)
	if p := st.Path(); p != "" { // SQLite's file; PostgreSQL has its own statistics
		m.WatchDatabase(p)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: a CPU profile or trace streams for as long as
		// it was asked to run.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("metrics listening", "addr", ln.Addr().String(), "paths", "/metrics /debug/pprof/")
	if !isLoopback(ln.Addr()) {
		log.Warn("the metrics listener is reachable from other machines; it serves pprof (stacks, command line, profiles): keep it on a private network or bind it to 127.0.0.1", "addr", ln.Addr().String())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close() // a long profile download is not worth waiting for
		}
		<-done
	}, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// startRetention deletes events older than maxAge in the background until
// the returned stop function is called; with maxAge 0 it does nothing.
func startRetention(log *slog.Logger, st *store.Store, maxAge time.Duration, onSweep func(int64, time.Duration, error)) (stop func()) {
	if maxAge <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		retention.New(st, retention.Options{MaxAge: maxAge, Log: log, OnSweep: onSweep}).Run(ctx)
	}()
	log.Info("retention on: events older than this are deleted in the background", "retention", maxAge.String())
	return func() {
		cancel()
		wg.Wait()
	}
}

// purgeEvery is how often a server looks for deleted projects whose data
// is still there (one deleted elsewhere, or a purge a crash cut short).
const purgeEvery = time.Minute

// startPurger removes deleted projects' data in the background, a batch at
// a time: at start, every purgeEvery and whenever wake is signalled (a
// project deleted in this server's dashboard). It returns a function that
// stops it.
func startPurger(log *slog.Logger, st *store.Store, wake <-chan struct{}) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(purgeEvery)
		defer t.Stop()
		for {
			start := time.Now()
			n, err := st.PurgeDeletedProjects(ctx, 1000, func(ctx context.Context) error {
				// As long a pause as a batch takes: the group-commit writer
				// gets the database at least half of the time.
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
					return nil
				}
			})
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Error("deleted projects: removing their data failed; retrying later", "err", err, "deleted", n)
			case n > 0:
				log.Info("deleted projects: their data is removed", "rows", n, "took", time.Since(start).Round(time.Millisecond))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-wake:
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// changeReadEvery is how often a server reads the change counter: the
// bound on how long a change made elsewhere (the CLI, another instance)
// takes to apply here, when no PostgreSQL notification brings it sooner.
const changeReadEvery = time.Second

// startChangeWatcher drops this server's cached keyrings and public keys
// within changeReadEvery of a change made by another process, at once on
// PostgreSQL's notification. It returns a function that stops it.
func startChangeWatcher(ctx context.Context, log *slog.Logger, st *store.Store, onChange func()) (stop func(), err error) {
	w, err := st.WatchChanges(ctx, onChange)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	tick := time.NewTicker(changeReadEvery)
	var wg sync.WaitGroup
	wg.Go(func() {
		w.Run(wctx, tick.C, func(msg string, err error) {
			if err != nil {
				log.Warn("changes: "+msg, "err", err)
			} else {
				log.Info("changes: " + msg)
			}
		})
	})
	return func() {
		cancel()
		tick.Stop()
		wg.Wait()
	}, nil
}
