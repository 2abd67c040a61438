package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// scaleResult is one fill of a fresh deployment to many stored events.
type scaleResult struct {
	ids       string // "UUIDv7" or "UUIDv4"
	store     string // "SQLite" or "PostgreSQL ×N"
	stored    int64
	fill      time.Duration
	last      result // the last window, at the full table
	peakRSS   int64
	dbBytes   int64
	startup   time.Duration // a restart of the (first) instance until /readyz
	startupOK bool
}

// runScale fills a fresh deployment with batched load (100 events a
// request, 16 clients), first with time-ordered then with random
// messageIds, until n events are stored, in windows of window; then
// restarts an instance and times it until ready. It measures what random
// ids cost at a table size that outgrows the page cache, and the startup
// that the dedup index adds.
func runScale(bin, tmp string, n int64, window time.Duration, clients int, dbURL string, instances int, out io.Writer) ([]scaleResult, error) {
	sc := scenario{name: fmt.Sprintf("batched 100×%d", clients), clients: clients, perBatch: 100}
	var results []scaleResult
	for _, random := range []bool{false, true} {
		randomIDs = random
		res := scaleResult{ids: "UUIDv7", store: "SQLite"}
		if random {
			res.ids = "UUIDv4"
		}
		dir, err := os.MkdirTemp(tmp, "scale-")
		if err != nil {
			return nil, err
		}
		db := ""
		var drop func()
		if dbURL != "" {
			res.store = fmt.Sprintf("PostgreSQL ×%d", instances)
			if db, drop, err = freshPostgres(dbURL); err != nil {
				return nil, err
			}
		}
		srv, err := startDeployment(bin, dir, db, instances)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "scale: %s ids on %s, filling to %d events…\n", res.ids, res.store, n)
		start := time.Now()
		for res.stored < n {
			r, err := drive(srv, sc, 0, window)
			if err != nil {
				srv.stop()
				return nil, err
			}
			res.stored += r.events
			res.last = r
			fmt.Fprintf(os.Stderr, "  %9d stored: %7.0f events/s  p99 %6.1f ms  max %6.1f ms  non-2xx %d\n",
				res.stored, r.eps(), ms(r.p99), ms(r.max), r.errors)
		}
		res.fill = time.Since(start)
		res.peakRSS = srv.peakRSS()
		if db == "" {
			res.dbBytes = dirSize(dir)
		} else {
			res.dbBytes = postgresSize(db)
		}
		// Restart the first instance on the full table.
		if err := srv.stop(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		again, err := srv.dep.serve(dir)
		if err == nil {
			res.startup, res.startupOK = time.Since(t0), true
			again.stop()
		}
		if drop != nil {
			drop()
		}
		os.RemoveAll(dir)
		results = append(results, res)
	}
	reportScale(out, sc.name, results)
	return results, nil
}

func reportScale(w io.Writer, scenario string, rs []scaleResult) {
	fmt.Fprintf(w, "\nDedup at scale: %s, strict identity, fresh deployment filled to the table size\n\n", scenario)
	fmt.Fprintln(w, "| store | messageIds | stored events | fill events/s | last window events/s | last window p99 | peak RSS | database size | restart until ready | vs UUIDv7 |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	ordered := map[string]scaleResult{}
	for _, r := range rs {
		if r.ids == "UUIDv7" {
			ordered[r.store] = r
		}
	}
	for _, r := range rs {
		ratio := ""
		if o, ok := ordered[r.store]; ok && r.ids != "UUIDv7" {
			ratio = fmt.Sprintf("**%.2f** (last window %.2f)", fillRate(r)/fillRate(o), r.last.eps()/o.last.eps())
		}
		startup := "failed"
		if r.startupOK {
			startup = r.startup.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f | %.1f ms | %d MiB | %d MiB | %s | %s |\n",
			r.store, r.ids, r.stored, fillRate(r), r.last.eps(), ms(r.last.p99), r.peakRSS>>20, r.dbBytes>>20, startup, ratio)
	}
}

func fillRate(r scaleResult) float64 { return float64(r.stored) / r.fill.Seconds() }

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// freshPostgres creates an empty database on the server admin names and
// returns its URL and a function that drops it.
func freshPostgres(admin string) (string, func(), error) {
	var b [6]byte
	crand.Read(b[:])
	name := "sendora_bench_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	}
	return u.String(), drop, nil
}

func postgresSize(dbURL string) int64 {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int64
	db.QueryRow("SELECT pg_database_size(current_database())").Scan(&n)
	return n
}
