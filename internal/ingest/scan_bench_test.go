package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// benchEvent is a typical SDK event, as the load test sends.
const benchEvent = `{"type":"track","event":"Product Viewed","userId":"user_42","identityToken":"hmac_v1:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","messageId":"0193a2f0-6c1e-7b3a-9d2f-4a1c8e5b7d21","timestamp":"2026-11-24T10:00:00.000Z","sentAt":"2026-11-24T10:00:00.100Z","properties":{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42","title":"Crème brûlée \"deluxe\" \u00e9"},"context":{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}}`

func benchBatch(n int) []byte {
	return []byte(`{"publicKey":"pk_live_x","events":[` + strings.TrimSuffix(strings.Repeat(benchEvent+",", n), ",") + `]}`)
}

// BenchmarkDecodeValidateBatch100: decoding and validating a 100-event
// batch, which the two checks above are part of.
func BenchmarkDecodeValidateBatch100(b *testing.B) {
	body := benchBatch(100)
	b.SetBytes(int64(len(body)))
	var items []batchItem
	for b.Loop() {
		var eerr *eventError
		_, items, eerr = decodeBatch(body, items[:0])
		if eerr != nil {
			b.Fatal(eerr)
		}
		for i := range items {
			if err := items[i].ev.validate(); err != nil {
				b.Fatal(fmt.Sprint(err))
			}
		}
	}
}

// poisonBatch is cmd/loadtest's poison batch: 100 events, a third of them
// with traits nesting 1,000 levels, a third with invalid UTF-8, a third
// with a lone surrogate and a year-9999 timestamp.
func poisonBatch() []byte {
	deep := strings.Repeat(`{"a":`, 999) + `{}` + strings.Repeat(`}`, 999)
	poison := []string{
		`{"type":"identify","userId":"poison","traits":` + deep + `}`,
		`{"type":"identify","userId":"poison","traits":{"name":"` + "\xff\xfe" + `"}}`,
		`{"type":"track","event":"E","userId":"poison","timestamp":"9999-12-31T23:59:59Z","sentAt":"2000-01-01T00:00:00Z","properties":{"s":"\ud800"}}`,
	}
	var b strings.Builder
	b.WriteString(`{"publicKey":"pk_live_x","events":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(poison[i%len(poison)])
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// BenchmarkDecodeValidatePoisonBatch: what refusing the poison batch costs
// before any response is written, beside BenchmarkDecodeValidateBatch100.
func BenchmarkDecodeValidatePoisonBatch(b *testing.B) {
	body := poisonBatch()
	b.SetBytes(int64(len(body)))
	var items []batchItem
	for b.Loop() {
		var eerr *eventError
		_, items, eerr = decodeBatch(body, items[:0])
		if eerr != nil {
			b.Fatal(eerr)
		}
		refused := 0
		for i := range items {
			if items[i].err != nil || items[i].ev.validate() != nil {
				refused++
			}
		}
		if refused != len(items) {
			b.Fatalf("%d of %d refused", refused, len(items))
		}
	}
}
