package store

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// bloom is a blocked Bloom filter over 64-bit key hashes: each key sets 8
// bits inside one 512-bit block (a cache line), one bit in each of the
// block's 8 words. A lookup costs one cache miss however many bits are
// checked, which matters because ingestion checks every event against the
// filter of every dedup run. At 16 bits per key the false-positive rate is
// about 0.1 % (TestBloomFalsePositiveRate measures it).
//
// Written here rather than taken from a library: the general-purpose Bloom
// filters in Go (bits-and-blooms/bloom) set k bits anywhere in the filter,
// k cache misses per lookup, and re-hash the key; this one takes the
// already-uniform SipHash of the key and touches one line.
type bloom struct {
	words   []uint64 // len is a multiple of 8
	nblocks uint64
}

// bloomBitsPerKey sizes filters: 16 bits per key gives ~0.1 % false
// positives with 8 bits set per key.
const bloomBitsPerKey = 16

func newBloom(keys int) *bloom {
	nblocks := max(1, (keys*bloomBitsPerKey+511)/512)
	return &bloom{words: make([]uint64, nblocks*8), nblocks: uint64(nblocks)}
}

// block returns the index of h's first word: the high 32 bits of h, mapped
// onto the blocks by multiplication (Lemire's fast range).
func (b *bloom) block(h uint64) uint64 {
	return ((h >> 32) * b.nblocks >> 32) * 8
}

// lanes spreads the low half of h over 8 six-bit bit positions.
func lanes(h uint64) uint64 { return (h & 0xffffffff) * 0x9E3779B97F4A7C15 }

func (b *bloom) add(h uint64) {
	w, g := b.words[b.block(h):][:8], lanes(h)
	for i := range 8 {
		w[i] |= 1 << (g >> (6*i + 16) & 63)
	}
}

func (b *bloom) has(h uint64) bool {
	w, g := b.words[b.block(h):][:8], lanes(h)
	for i := range 8 {
		if w[i]&(1<<(g>>(6*i+16)&63)) == 0 {
			return false
		}
	}
	return true
}

// fill returns the share of bits set, for tests and diagnostics.
func (b *bloom) fill() float64 {
	n := 0
	for _, w := range b.words {
		n += bits.OnesCount64(w)
	}
	return float64(n) / float64(len(b.words)*64)
}

// marshal returns the filter's bits, little-endian.
func (b *bloom) marshal() []byte {
	out := make([]byte, 8*len(b.words))
	for i, w := range b.words {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	return out
}

func unmarshalBloom(p []byte) (*bloom, error) {
	if len(p) == 0 || len(p)%64 != 0 {
		return nil, errors.New("dedup filter has a wrong size")
	}
	b := &bloom{words: make([]uint64, len(p)/8), nblocks: uint64(len(p) / 64)}
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
	return b, nil
}
