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
