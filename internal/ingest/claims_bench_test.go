package ingest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// BenchmarkIdentifyJWTTraits posts identify events with a JWT signing
// three traits over six client traits (the merge of signed traits, the
// profile merge with provenance) through real HTTP into SQLite with strict
// identity on, beside BenchmarkIdentifyHMAC, the same events with hmac_v1
// tokens and their traits stored as sent. Both report events/s.
func BenchmarkIdentifyJWTTraits(b *testing.B) { benchmarkIdentify(b, true) }
func BenchmarkIdentifyHMAC(b *testing.B)      { benchmarkIdentify(b, false) }

func benchmarkIdentify(b *testing.B, jwt bool) {
	h := newHarness(b)
	secret := h.rotate(0)
	h.strict(true)
	const users = 1000
	tokens := make([]string, users)
	for i := range users {
		u := fmt.Sprint("user_", i)
		tokens[i] = identity.Sign(secret, u)
		if jwt {
			now := h.clock.Now()
			tok, err := identity.SignJWT(secret, identity.JWTClaims{Subject: u, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
				Traits: []byte(`{"plan":"startup","mrr":99,"email":"` + u + `@acme.co"}`)})
			if err != nil {
				b.Fatal(err)
			}
			tokens[i] = tok
		}
	}
	var seq atomic.Uint64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			u := i % users
			body := fmt.Appendf(nil, `{"publicKey":%q,"type":"identify","userId":"user_%d","identityToken":%q,"messageId":"i-%d",`+
				`"traits":{"email":"user_%d@acme.co","name":"Sam Lee","plan":"enterprise","mrr":1000,"company":{"name":"Acme","size":40},"created_at":"2026-01-05T10:00:00Z"}}`,
				h.key, u, tokens[u], i, u)
			resp, err := client.Post(h.srv.URL+"/events", "application/json", bytes.NewReader(body))
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
