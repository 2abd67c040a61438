package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// BenchmarkWriteBatch commits group commits of track events into a real
// SQLite file (WAL, synchronous FULL) and reports the cost per event.
func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{10, 500, 5000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			s := storetest.New(b)
			p := storetest.Project(b, s, "bench")
			now := time.Now()
			props := []byte(`{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42"}`)
			ctxt := []byte(`{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}`)
			rows := make([]store.EventRow, size)
			inserted := make([]bool, size)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for i := range rows {
					n++
					rows[i] = store.EventRow{ProjectID: p.ID, MessageID: "m-" + strconv.Itoa(n), Type: "track", Event: "Product Viewed",
						UserID: "user_" + strconv.Itoa(n%1000), Timestamp: now, ReceivedAt: now, Verification: "verified", Properties: props, Context: ctxt}
				}
				if err := s.WriteBatch(context.Background(), &store.Batch{Events: rows}, inserted); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
		})
	}
}

// BenchmarkWriteBatchIdentify commits group commits of 500 identify events
// (six traits each, users drawn from 10,000, so most merge into an existing
// profile; one in five without a valid token, and one in ten changing a
// value, so flags are written too) and reports the cost per event: the
// profile upsert with its provenance. cpu-ns/event is this process's CPU
// (SQLite runs in it; PostgreSQL's work is in its own processes). On
// PostgreSQL too when SENDORA_TEST_DATABASE_URL is set.
func BenchmarkWriteBatchIdentify(b *testing.B) {
	for _, backend := range storetest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			if backend == storetest.Postgres && storetest.PostgresURL() == "" {
				b.Skip(storetest.SkipReason)
			}
			s := backend.New(b)
			p := storetest.Project(b, s, "bench")
			now := time.Now()
			const size = 500
			rows := make([]store.EventRow, size)
			inserted := make([]bool, size)
			n := 0
			next := func() {
				for i := range rows {
					n++
					plan := "startup"
					if n%10 == 0 {
						plan = "enterprise-" + strconv.Itoa(n%3)
					}
					v := "verified"
					if n%5 == 0 {
						v = "missing_token"
					}
					rows[i] = store.EventRow{ProjectID: p.ID, MessageID: "m-" + strconv.Itoa(n), Type: "identify",
						UserID: "user_" + strconv.Itoa(n*7919%10_000), Timestamp: now, ReceivedAt: now, Verification: v,
						Traits: []byte(`{"email":"sam` + strconv.Itoa(n%10_000) + `@acme.co","name":"Sam Lee","plan":"` + plan +
							`","mrr":49.5,"company":{"name":"Acme","size":42},"created_at":"2026-01-05T10:00:00Z"}`)}
				}
			}
			for range 20 { // every profile exists: the steady state
				next()
				if err := s.WriteBatch(context.Background(), &store.Batch{Events: rows}, inserted); err != nil {
					b.Fatal(err)
				}
			}
			n0, cpu0 := n, cpuTime()
			b.ResetTimer()
			for b.Loop() {
				next()
				if err := s.WriteBatch(context.Background(), &store.Batch{Events: rows}, inserted); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n-n0), "ns/event")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n-n0), "cpu-ns/event")
		})
	}
}
