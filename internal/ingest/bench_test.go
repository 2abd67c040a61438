package ingest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/sendora/sendora/internal/identity"
)

// benchBody builds n signed track events, with unique messageIds, as a
// batch body (n > 0) or a single-event body (n == 0).
func benchBody(key string, secret identity.Secret, seq *atomic.Uint64, n int) []byte {
	var b []byte
	event := func() {
		i := seq.Add(1)
		u := "user_" + strconv.FormatUint(i%1000, 10)
		b = fmt.Appendf(b, `{"type":"track","event":"Product Viewed","userId":%q,"identityToken":%q,"messageId":"b-%d","timestamp":"2026-11-24T10:00:00.000Z","sentAt":"2026-11-24T10:00:00.100Z","properties":{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42"},"context":{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}`,
			u, identity.Sign(secret, u), i)
	}
	if n == 0 {
		event()
		return fmt.Appendf(b, `,"publicKey":%q}`, key)
	}
	b = fmt.Appendf(b, `{"publicKey":%q,"events":[`, key)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		event()
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// benchmarkEndpoint posts signed events in parallel through real HTTP into
// a real SQLite file with strict identity on, and reports events/s.
func benchmarkEndpoint(b *testing.B, path string, perRequest int) {
	h := newHarness(b)
	secret := h.rotate(0)
	h.strict(true)
	var seq atomic.Uint64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := benchBody(h.key, secret, &seq, perRequest)
			resp, err := client.Post(h.srv.URL+path, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	n := max(perRequest, 1)
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkSingleEvent(b *testing.B) { benchmarkEndpoint(b, "/events", 0) }
func BenchmarkBatch100(b *testing.B)    { benchmarkEndpoint(b, "/events/batch", 100) }
