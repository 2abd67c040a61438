package store

import (
	"math/rand/v2"
	"testing"
)

func TestBloomNoFalseNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 50_000)
	b := newBloom(len(keys))
	for i := range keys {
		keys[i] = r.Uint64()
		b.add(keys[i])
	}
	for _, k := range keys {
		if !b.has(k) {
			t.Fatalf("key %x added but not found", k)
		}
	}
	c, err := unmarshalBloom(b.marshal())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !c.has(k) {
			t.Fatalf("key %x lost in marshalling", k)
		}
	}
}

// TestBloomFalsePositiveRate measures the rate the filter is sized for:
// about 0.1 % at 16 bits per key. Above 0.5 % dedup would probe the disk
// for one event in 200 per run.
func TestBloomFalsePositiveRate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 200_000
	b := newBloom(n)
	for range n {
		b.add(r.Uint64())
	}
	fp := 0
	const probes = 1_000_000
	for range probes {
		if b.has(r.Uint64()) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("false positives: %.3f %% (fill %.2f)", 100*rate, b.fill())
	if rate > 0.005 {
		t.Errorf("false-positive rate %.3f %%, want under 0.5 %%", 100*rate)
	}
}

func TestUnmarshalBloomRejectsDamage(t *testing.T) {
	for _, p := range [][]byte{nil, make([]byte, 63), make([]byte, 65)} {
		if _, err := unmarshalBloom(p); err == nil {
			t.Errorf("unmarshalBloom(%d bytes) accepted", len(p))
		}
	}
}

func BenchmarkBloomHas(b *testing.B) {
	f := newBloom(1 << 20)
	r := rand.New(rand.NewPCG(5, 6))
	for range 1 << 20 {
		f.add(r.Uint64())
	}
	keys := make([]uint64, 4096)
	for i := range keys {
		keys[i] = r.Uint64()
	}
	b.ResetTimer()
	for i := range b.N {
		f.has(keys[i&4095])
	}
}
