// Package metrics exposes the server's Prometheus metrics: ingestion
// outcomes by project and reason, HTTP requests by route and status, the
// group-commit writer, the verifier cache and retention, beside the Go
// runtime and process collectors and net/http/pprof. It adapts the small
// callbacks the ingest, server and retention packages offer, so no other
// package imports Prometheus.
//
// Labels hold only bounded, non-secret values: route patterns, status
// codes, project names and reason words. Never a userId, token, key or URL.
package metrics

import (
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
)

const namespace = "sendora"

// Metrics holds the registry and every series the server updates. Its
// recording methods are safe for concurrent use and allocate nothing once a
// label combination has been seen.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	routesMu     sync.RWMutex
	routes       map[routeStatus]routeSeries

	accepted, invalid      *prometheus.CounterVec
	rejected, reportOnly   *prometheus.CounterVec
	batchEvents            *prometheus.HistogramVec
	projectsMu             sync.RWMutex
	projects               map[string]*projectSeries
	batchEventsByEndpoint  map[string]prometheus.Observer
	commitEvents           prometheus.Histogram
	commitDuration         prometheus.Histogram
	commits, commitErrors  prometheus.Counter
	stored, duplicates     prometheus.Counter
	refusedByStore         prometheus.Counter
	retentionDeleted       prometheus.Counter
	retentionErrors        prometheus.Counter
	retentionSweepDuration prometheus.Histogram
	held                   *prometheus.CounterVec
	heldSeconds            prometheus.Counter
}

type routeStatus struct {
	route  string
	status int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// projectSeries are one project's counters, resolved once.
type projectSeries struct {
	accepted, invalid    prometheus.Counter
	rejected, reportOnly [identity.NumReasons]prometheus.Counter
}

// New returns Metrics with the Go runtime and process collectors and a
// build-info gauge registered.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:      reg,
		routes:   map[routeStatus]routeSeries{},
		projects: map[string]*projectSeries{},

		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern. For ingestion it includes waiting for the group commit.",
			// From a cache hit (well under 1 ms) to an fsync-bound commit
			// on a slow disk.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),

		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "accepted_total",
			Help: "Events acknowledged (stored, or retries of stored ones), by project.",
		}, []string{"project"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "rejected_total",
			Help: "Events refused by strict identity (IDENTITY_UNVERIFIED), by project and reason.",
		}, []string{"project", "reason"}),
		reportOnly: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "report_only_total",
			Help: "Events stored unverified with strict identity off (would be refused in strict mode), by project and reason.",
		}, []string{"project", "reason"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "invalid_total",
			Help: "Events refused as INVALID_EVENT (wrong shape), by project.",
		}, []string{"project"}),
		batchEvents: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "request_events",
			Help:    "Events per ingestion request whose public key resolved, by endpoint.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}, []string{"endpoint"}),

		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "writer", Name: "commit_events",
			Help:    "Event rows per group commit (one transaction, one fsync).",
			Buckets: []float64{0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "writer", Name: "commit_duration_seconds",
			Help:    "Time one group commit takes, fsync included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "writer", Name: "commits_total",
			Help: "Group commits attempted.",
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "writer", Name: "commit_errors_total",
			Help: "Group commits that failed (their requests were then retried one by one).",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "stored_total",
			Help: "Event rows inserted (new messageIds).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "duplicates_total",
			Help: "Events not inserted because their messageId was already stored (SDK retries).",
		}),
		refusedByStore: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "events", Name: "refused_by_store_total",
			Help: "Events the store refused on their own every time (answered 400 INVALID_EVENT), isolated so the rest of their commit landed.",
		}),

		retentionDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "retention", Name: "deleted_events_total",
			Help: "Events deleted for being older than --retention.",
		}),
		retentionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "retention", Name: "errors_total",
			Help: "Retention sweeps that failed (retried at the next interval).",
		}),
		retentionSweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "retention", Name: "sweep_duration_seconds",
			Help:    "Time one retention sweep took, pauses between batches included.",
			Buckets: prometheus.ExponentialBuckets(.001, 4, 10),
		}),
	}
	m.held = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "ingest", Name: "held_requests_total",
		Help: "Ingestion requests from a client address past its refusal budget (--refused-bytes-per-ip): held until it had room (outcome waited), or answered 429 at once when that was more than 5 s away (outcome refused).",
	}, []string{"outcome"})
	m.heldSeconds = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "ingest", Name: "held_seconds_total",
		Help: "Time ingestion requests waited for their address's refusal budget.",
	})
	m.batchEventsByEndpoint = map[string]prometheus.Observer{
		"/events":       m.batchEvents.WithLabelValues("/events"),
		"/events/batch": m.batchEvents.WithLabelValues("/events/batch"),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.httpRequests, m.httpDuration,
		m.accepted, m.rejected, m.reportOnly, m.invalid, m.batchEvents,
		m.commitEvents, m.commitDuration, m.commits, m.commitErrors, m.stored, m.duplicates, m.refusedByStore,
		m.retentionDeleted, m.retentionErrors, m.retentionSweepDuration,
		m.held, m.heldSeconds,
	)
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics and net/http/pprof's /debug/pprof/. It is meant
// for a private listener only: pprof shows stacks and command lines and can
// run CPU profiles.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Scrape errors are answered, not logged: a bad collector must not
		// flood the log at every scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// One scrape at a time is plenty; more would be someone hammering it.
		MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Sendora metrics: /metrics (Prometheus), /debug/pprof/ (profiles)\n"))
	})
	return mux
}

// Request records one HTTP request: its route pattern (r.Pattern, or
// "unmatched"), status and duration. It is server.Config.ObserveRequest.
func (m *Metrics) Request(route string, status int, d time.Duration) {
	k := routeStatus{route, status}
	m.routesMu.RLock()
	s, ok := m.routes[k]
	m.routesMu.RUnlock()
	if !ok {
		s = m.route(k)
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

// route resolves a route's series the first time it is seen. Routes are
// the server's registered patterns, so the map stays small.
func (m *Metrics) route(k routeStatus) routeSeries {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if s, ok := m.routes[k]; ok {
		return s
	}
	s := routeSeries{
		requests: m.httpRequests.WithLabelValues(k.route, strconv.Itoa(k.status)),
		duration: m.httpDuration.WithLabelValues(k.route),
	}
	m.routes[k] = s
	return s
}

// Ingest records one ingestion request's outcome. It is ingest.Config.Observe.
func (m *Metrics) Ingest(o ingest.Outcome) {
	p := m.project(o.Project)
	if o.Accepted > 0 {
		p.accepted.Add(float64(o.Accepted))
	}
	if o.Invalid > 0 {
		p.invalid.Add(float64(o.Invalid))
	}
	for r, n := range o.Rejected {
		if n > 0 {
			p.rejected[r].Add(float64(n))
		}
	}
	for r, n := range o.ReportOnly {
		if n > 0 {
			p.reportOnly[r].Add(float64(n))
		}
	}
	if h := m.batchEventsByEndpoint[o.Endpoint]; h != nil {
		h.Observe(float64(o.Events))
	}
}

// project resolves a project's counters once; later calls are a map read.
// Every reason's series is created with the project, at zero, so that
// rate() and alerts work from the first event.
func (m *Metrics) project(name string) *projectSeries {
	m.projectsMu.RLock()
	p := m.projects[name]
	m.projectsMu.RUnlock()
	if p != nil {
		return p
	}
	m.projectsMu.Lock()
	defer m.projectsMu.Unlock()
	if p = m.projects[name]; p != nil {
		return p
	}
	p = &projectSeries{
		accepted: m.accepted.WithLabelValues(name),
		invalid:  m.invalid.WithLabelValues(name),
	}
	for _, r := range identity.Reasons {
		p.rejected[r] = m.rejected.WithLabelValues(name, r.String())
		p.reportOnly[r] = m.reportOnly.WithLabelValues(name, r.String())
	}
	m.projects[name] = p
	return p
}

// Commit records one group commit. It is ingest.WriterOptions.OnCommit.
func (m *Metrics) Commit(s ingest.CommitStats) {
	m.commits.Inc()
	m.commitDuration.Observe(s.Duration.Seconds())
	m.commitEvents.Observe(float64(s.Events))
	if s.Err != nil {
		m.commitErrors.Inc()
		return
	}
	m.stored.Add(float64(s.Inserted))
	m.duplicates.Add(float64(s.Events - s.Inserted - s.Refused))
	m.refusedByStore.Add(float64(s.Refused))
}

// RetentionSwept records one retention sweep. It is retention.Options.OnSweep.
func (m *Metrics) RetentionSwept(deleted int64, d time.Duration, err error) {
	m.retentionDeleted.Add(float64(deleted))
	m.retentionSweepDuration.Observe(d.Seconds())
	if err != nil {
		m.retentionErrors.Inc()
	}
}

// Held counts a request held for its address's refusal budget
// (ingest.Config.Held).
func (m *Metrics) Held(wait time.Duration, refused bool) {
	if refused {
		m.held.WithLabelValues("refused").Inc()
		return
	}
	m.held.WithLabelValues("waited").Inc()
	m.heldSeconds.Add(wait.Seconds())
}

// WatchWriter exports the writer's queue depth and the rejection rows its
// sampling dropped, read at each scrape.
func (m *Metrics) WatchWriter(w *ingest.Writer) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "writer", Name: "queue_events",
			Help: "Events queued for the writer and not yet committed (503 OVERLOADED past the limit).",
		}, func() float64 { return float64(w.Pending()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "writer", Name: "rejection_rows_sampled_out_total",
			Help: "Rejection detail rows not stored because of per-project sampling (the counters still count them).",
		}, func() float64 { return float64(w.SampledOut()) }),
	)
}

// WatchVerifier exports the verifier cache's hits, misses and loads, read
// at each scrape.
func (m *Metrics) WatchVerifier(v *identity.Verifier) {
	stat := func(pick func(identity.VerifierStats) uint64) func() float64 {
		return func() float64 { return float64(pick(v.Stats())) }
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "verifier", Name: "cache_hits_total",
			Help: "Keyring lookups answered from the verifier cache.",
		}, stat(func(s identity.VerifierStats) uint64 { return s.Hits })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "verifier", Name: "cache_misses_total",
			Help: "Keyring lookups that missed the cache (absent or older than --secret-cache-ttl).",
		}, stat(func(s identity.VerifierStats) uint64 { return s.Misses })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "verifier", Name: "cache_loads_total",
			Help: "Keyrings loaded from the database (concurrent misses share one load).",
		}, stat(func(s identity.VerifierStats) uint64 { return s.Loads })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "verifier", Name: "cache_load_errors_total",
			Help: "Keyring loads that failed.",
		}, stat(func(s identity.VerifierStats) uint64 { return s.LoadErrors })),
	)
}

// WatchDatabase exports the size of the SQLite database and its WAL,
// read at each scrape.
func (m *Metrics) WatchDatabase(path string) {
	size := func(p string) func() float64 {
		return func() float64 {
			fi, err := os.Stat(p)
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "database", Name: "size_bytes",
			Help: "Size of the database file.",
		}, size(path)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "database", Name: "wal_size_bytes",
			Help: "Size of the write-ahead log; it grows while a long read (a backup) holds back checkpoints.",
		}, size(path+"-wal")),
	)
}
