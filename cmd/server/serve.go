package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/metrics"
	"github.com/sendora/sendora/internal/server"
	"github.com/sendora/sendora/internal/store"
)

// serveConfig is everything `sendora serve` is configured with.
type serveConfig struct {
	addr            string
	data            string
	databaseURL     string
	maxConns        int
	publicURL       string
	secretCacheTTL  time.Duration
	logLevel        string
	logFormat       string
	trustedProxies  []string
	shutdownTimeout time.Duration
	rateLimitKey    float64
	rateLimitIP     float64
	metricsAddr     string
	retention       time.Duration
	maxPending      int
	maxInflight     int
	maxPerIP        int
	refusedPerIP    int
	bodyTimeout     time.Duration
	dedupMemtable   int
}

func parseServe(e env, args []string) (serveConfig, error) {
	f := newFlags(e, "serve", "serve [flags]")
	addr := f.string("addr", "127.0.0.1:8080", "address for the API and dashboard")
	data := f.dataFlag()
	maxConns := f.int("database-max-conns", store.DefaultPostgresMaxConns, "PostgreSQL connections this instance may hold (with --database-url), besides one for change notifications")
	publicURL := f.string("public-url", "", "the dashboard's URL as admins reach it, for links printed to the log (default: http://ADDR)")
	ttl := f.duration("secret-cache-ttl", identity.DefaultCacheTTL, "how long a project's secrets and strict flag are cached at most; changes made elsewhere arrive within a second (the change counter), this is the bound if that fails")
	level := f.string("log-level", "info", "log level: debug, info, warn, error")
	format := f.string("log-format", "text", "log format: text or json")
	proxies := f.string("trusted-proxies", "", "comma-separated proxy addresses or CIDRs whose X-Forwarded-For and X-Forwarded-Proto are trusted")
	rlKey := f.int("rate-limit-key", 0, "events per second allowed per public key; 0 is no limit")
	rlIP := f.int("rate-limit-ip", 0, "events per second allowed per client IP; 0 is no limit")
	maxPending := f.int("max-pending-events", 50_000, "events queued for commit before the API answers 503 OVERLOADED; at least one batch (500)")
	maxInflight := f.int("max-inflight-bytes", 32<<20, "bytes of request bodies in progress at once (each holds what it declared or has sent) before the API answers 503 OVERLOADED; one client address may hold an eighth")
	maxPerIP := f.int("max-inflight-per-ip", ingest.DefaultMaxInflightPerIP, "requests in progress at once from one client address (IPv6 by /64) before it gets 429")
	refusedPerIP := f.int("refused-bytes-per-ip", ingest.DefaultRefusedBytesPerIP, "bytes per second of refused input (invalid JSON or events, unknown keys) one client address (IPv6 by /64) may send; past it (with a burst of two seconds' worth) its requests wait, or get 429; 0 is no limit")
	bodyTimeout := f.duration("body-timeout", ingest.DefaultBodyTimeout, "how long a request body may take to arrive before the answer is 408 REQUEST_TIMEOUT")
	grace := f.duration("shutdown-timeout", 20*time.Second, "how long shutdown waits for in-flight requests")
	metricsAddr := f.string("metrics-addr", "", "address for Prometheus /metrics and /debug/pprof/ (keep it private, e.g. 127.0.0.1:9090); empty is off")
	dedupMemtable := f.int("dedup-memtable-keys", store.DefaultDedupMemtable, "SQLite: messageIds of recent events kept in memory (~40 bytes each) before they are written as a dedup run; more memory, fewer runs")
	keep := f.duration("retention", 0, "delete events older than this (a Go duration: 2160h is 90 days); 0 keeps them forever")
	rest, err := f.parse(args)
	if err != nil {
		return serveConfig{}, err
	}
	if err := wantArgs("serve", rest, 0, ""); err != nil {
		return serveConfig{}, err
	}
	if *ttl <= 0 {
		return serveConfig{}, usagef("serve: --secret-cache-ttl must be positive")
	}
	c := serveConfig{
		addr: *addr, data: *data, databaseURL: *f.databaseURL, maxConns: *maxConns, publicURL: strings.TrimRight(*publicURL, "/"),
		secretCacheTTL: *ttl, logLevel: *level, logFormat: *format, shutdownTimeout: *grace,
		rateLimitKey: float64(*rlKey), rateLimitIP: float64(*rlIP),
		maxPending: *maxPending, maxInflight: *maxInflight, dedupMemtable: *dedupMemtable,
	}
	if *dedupMemtable < 1 {
		return serveConfig{}, usagef("serve: --dedup-memtable-keys must be positive")
	}
	if *maxConns < 2 {
		return serveConfig{}, usagef("serve: --database-max-conns must be at least 2")
	}
	// Settings that cannot work stop the start, each with one line.
	switch {
	case *maxPending < ingest.MaxBatchEvents:
		return serveConfig{}, usagef("serve: --max-pending-events %d is below the largest batch (%d events): every full batch would be answered 503", *maxPending, ingest.MaxBatchEvents)
	case *maxInflight < ingest.MaxBatchBytes:
		return serveConfig{}, usagef("serve: --max-inflight-bytes %d is below one batch body (%d bytes): full batches would always be answered 503", *maxInflight, ingest.MaxBatchBytes)
	case *refusedPerIP < 0:
		return serveConfig{}, usagef("serve: --refused-bytes-per-ip must be 0 (off) or positive")
	case *refusedPerIP > 0 && *refusedPerIP < ingest.MaxEventBytes:
		return serveConfig{}, usagef("serve: --refused-bytes-per-ip %d is below one event (%d bytes): a client would wait seconds after one refused event", *refusedPerIP, ingest.MaxEventBytes)
	case *maxPerIP < 1:
		return serveConfig{}, usagef("serve: --max-inflight-per-ip must be at least 1")
	case *bodyTimeout < time.Second:
		return serveConfig{}, usagef("serve: --body-timeout %s is under a second: bodies from real networks would time out", *bodyTimeout)
	case *grace < 0:
		return serveConfig{}, usagef("serve: --shutdown-timeout must be 0 or positive")
	case *keep < 0:
		return serveConfig{}, usagef("serve: --retention must be 0 (keep forever) or positive")
	case *keep > 0 && *keep < time.Hour:
		return serveConfig{}, usagef("serve: --retention %s would delete events within the hour they arrive; it is a Go duration, e.g. 2160h for 90 days", *keep)
	case *metricsAddr != "" && *metricsAddr == *addr && !strings.HasSuffix(*addr, ":0"): // :0 picks a free port each
		return serveConfig{}, usagef("serve: --metrics-addr and --addr are both %s: the metrics need their own (private) address", *addr)
	}
	if *publicURL != "" {
		if u, err := url.Parse(*publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return serveConfig{}, usagef("serve: --public-url %q: want the dashboard's URL, e.g. https://sendora.example.com", *publicURL)
		}
	}
	c.maxPerIP, c.bodyTimeout, c.refusedPerIP = *maxPerIP, *bodyTimeout, *refusedPerIP
	c.metricsAddr, c.retention = *metricsAddr, *keep
	if *rlKey < 0 || *rlIP < 0 {
		return serveConfig{}, usagef("serve: rate limits must be 0 (off) or positive")
	}
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.trustedProxies = append(c.trustedProxies, p)
		}
	}
	return c, nil
}

func cmdServe(ctx context.Context, e env, args []string) error {
	c, err := parseServe(e, args)
	if err != nil {
		return err
	}
	log, logs, err := newLogger(e.stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	defer logs.Close()
	ips, err := clientip.New(c.trustedProxies)
	if err != nil {
		return usagef("serve: --trusted-proxies: %v", err)
	}

	d, err := datadir.Open(ctx, datadir.Options{Dir: c.data, DatabaseURL: c.databaseURL, MaxConns: c.maxConns,
		MasterKey: e.getenv(datadir.MasterKeyEnv), Create: true, Serve: true})
	if err != nil {
		return err
	}
	defer d.Close()
	if len(d.Created) > 0 {
		log.Info("first start: created", "database", d.Store.Location(), "data", c.data, "created", strings.Join(d.Created, ", "))
	}

	var m *metrics.Metrics
	if c.metricsAddr != "" {
		m = metrics.New(version)
	}
	hk := newHooks(m)

	verifier := identity.NewVerifier(d.Store, d.Sealer, identity.VerifierOptions{TTL: c.secretCacheTTL})
	// SQLite's dedup index is loaded before the first request, so its cost
	// shows here and not on a request (docs/ARCHITECTURE.md).
	start := time.Now()
	if info, err := d.Store.StartIngest(ctx, store.IngestOptions{DedupMemtable: c.dedupMemtable}); err != nil {
		return err
	} else if d.Store.Dialect() == "sqlite" {
		log.Info("dedup index loaded", "keys", info.Keys+int64(info.Memtable), "runs", info.Runs,
			"replayed", info.Memtable, "took", time.Since(start).Round(time.Millisecond))
	}
	writer := ingest.NewWriter(d.Store, ingest.WriterOptions{Log: log, OnCommit: hk.onCommit, MaxPending: c.maxPending})
	defer func() {
		// After the HTTP server has drained: commit what was queued.
		cctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		if err := writer.Close(cctx); err != nil {
			log.Error("writer did not drain", "err", err)
		}
	}()
	// A project deleted in the dashboard wakes the purger, which removes
	// its data in the background.
	purge := make(chan struct{}, 1)
	var ing *ingest.Handler
	dash, err := newDashboard(ctx, log, d, ips, verifier, c.publicURL, func(deleted bool) {
		if ing != nil {
			ing.InvalidateKeys()
		}
		if deleted {
			select {
			case purge <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	ing = ingest.NewHandler(ingest.Config{
		Log: log, Store: d.Store, Verifier: verifier, Writer: writer, ClientIP: ips,
		KeyTTL: c.secretCacheTTL, RateLimitKey: c.rateLimitKey, RateLimitIP: c.rateLimitIP,
		MaxInflightBytes: int64(c.maxInflight), MaxInflightPerIP: c.maxPerIP, BodyTimeout: c.bodyTimeout, RefusedBytesPerIP: int64(c.refusedPerIP), Observe: hk.onOutcome, Held: hk.onHeld,
	})
	// A rotation, strict toggle or project change made by the CLI or
	// another instance applies here within a second.
	stopWatch, err := startChangeWatcher(ctx, log, d.Store, func() {
		verifier.InvalidateAll()
		ing.InvalidateKeys()
	})
	if err != nil {
		return err
	}
	defer stopWatch()
	srv := server.New(server.Config{
		Log:            log,
		ClientIP:       ips,
		Dashboard:      dash,
		Ingest:         ing,
		ObserveRequest: hk.onRequest,
		Ready: func(ctx context.Context) error {
			return errors.Join(writer.Running(), d.Store.Ping(ctx))
		},
	})

	stopMetrics, err := startMetrics(log, c.metricsAddr, m, d.Store, writer, verifier)
	if err != nil {
		return err
	}
	defer stopMetrics()
	defer startRetention(log, d.Store, c.retention, hk.onSweep)()
	defer startPurger(log, d.Store, purge)()

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	url := c.publicURL
	if url == "" {
		var beyondLoopback bool
		url, beyondLoopback = localURL(ln.Addr())
		if beyondLoopback {
			log.Warn("--public-url is not set: links in this log use "+url+", which opens only on this machine; "+
				"set --public-url (SENDORA_PUBLIC_URL) to the address admins reach, e.g. https://sendora.example.com", "addr", ln.Addr().String())
		}
	}
	// The setup link (first run only) is logged before "listening", so
	// whoever waits for that line finds the link already there.
	if _, err := dash.Auth.AnnounceSetup(ctx, url); err != nil {
		ln.Close()
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "dashboard", url+"/settings/identity", "database", d.Store.Location(), "version", version)

	hs := srv.HTTPServer(ctx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests", "timeout", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown: requests still running were cut off", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// localURL is the dashboard's URL for links when --public-url is not set:
// the listening address, with "localhost" for an unspecified one (":8080",
// "0.0.0.0:8080", "[::]:8080"), which no browser opens as written. It also
// reports whether the server listens beyond the loopback interface, where
// the link may not be what other machines reach.
func localURL(a net.Addr) (link string, beyondLoopback bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String(), false
	}
	host := ta.IP.String()
	switch {
	case ta.IP.IsUnspecified():
		host, beyondLoopback = "localhost", true
	case !ta.IP.IsLoopback():
		beyondLoopback = true
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port)), beyondLoopback
}
