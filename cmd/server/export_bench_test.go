package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/store"
)

// BenchmarkEventsExport measures `sendora events export` of a project
// holding SENDORA_BENCH_EVENTS events (default 1,000,000, like the load
// test's events: properties and context), all of it and with --since near
// the end, and reports lines/s. Run:
//
//	go test -run '^$' -bench EventsExport -benchtime 3x ./cmd/server
func BenchmarkEventsExport(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("SENDORA_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dir := filepath.Join(b.TempDir(), "data")
	ctx := context.Background()
	d, err := datadir.Open(ctx, datadir.Options{Dir: dir, Create: true})
	if err != nil {
		b.Fatal(err)
	}
	p, err := d.Project(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	seed := time.Now()
	rows := make([]store.EventRow, 0, 5000)
	for i := 0; i < n; {
		rows = rows[:0]
		for ; len(rows) < cap(rows) && i < n; i++ {
			at := start.Add(time.Duration(i) * time.Millisecond)
			rows = append(rows, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprintf("0193a2f0-%012d", i), Type: "track", Event: "Product Viewed",
				UserID: "user_" + strconv.Itoa(i%1000), Timestamp: at, ReceivedAt: at, Verification: "verified",
				Properties: []byte(`{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42"}`),
				Context:    []byte(`{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}`)})
		}
		if err := d.Store.WriteBatch(ctx, &store.Batch{Events: rows}, nil); err != nil {
			b.Fatal(err)
		}
	}
	d.Close()
	b.Logf("seeded %d events in %s", n, time.Since(seed).Round(time.Millisecond))

	export := func(b *testing.B, args ...string) int {
		var lines countLines
		err := run(ctx, append([]string{"events", "export", "--data", dir}, args...), testEnv(nil), strings.NewReader(""), &lines, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		return int(lines)
	}
	b.Run("store-read-only", func(b *testing.B) {
		d, err := datadir.Open(ctx, datadir.Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		lines := 0
		cpu := cpuTime()
		for b.Loop() {
			lines = 0
			if err := d.Store.ExportEvents(ctx, p.ID, time.Time{}, func(*store.StoredEvent) error { lines++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(lines)*float64(b.N)/(cpuTime()-cpu).Seconds(), "rows/cpu-s")
	})
	b.Run("all", func(b *testing.B) {
		lines := 0
		cpu := cpuTime()
		for b.Loop() {
			lines = export(b)
		}
		if lines != n {
			b.Fatalf("exported %d lines, want %d", lines, n)
		}
		// Wall time on a shared machine measures the neighbours too; CPU
		// time is what the export costs (it runs on about one core).
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		b.ReportMetric(float64(lines)*float64(b.N)/(cpuTime()-cpu).Seconds(), "lines/cpu-s")
	})
	b.Run("since-last-1000", func(b *testing.B) {
		since := start.Add(time.Duration(n-1000) * time.Millisecond).Format(time.RFC3339Nano)
		for b.Loop() {
			if lines := export(b, "--since", since); lines != 1000 {
				b.Fatalf("exported %d lines, want 1000", lines)
			}
		}
	})
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countLines counts the newlines written to it.
type countLines int

func (c *countLines) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			*c++
		}
	}
	return len(p), nil
}
