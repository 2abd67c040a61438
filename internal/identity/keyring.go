package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
	"time"
)

// KeyStatus is where a secret stands in its project's rotation.
type KeyStatus string

// Key statuses. At most one current and one previous secret exist per project.
const (
	// StatusCurrent signs and verifies.
	StatusCurrent KeyStatus = "current"
	// StatusPrevious verifies until its ValidUntil (the rotation's overlap).
	StatusPrevious KeyStatus = "previous"
	// StatusRetired never verifies; it is kept only to diagnose rotated_secret.
	StatusRetired KeyStatus = "retired"
)

// KeepRetired is how many rotated-out secrets a project keeps, beyond the
// current and previous one, to diagnose rotated_secret. Each one costs an
// HMAC on every token that matches no accepted secret, so the worst case
// (a forged token: current, previous and KeepRetired HMACs) stays within the
// 1 µs verification budget at 3; at 5 it took 1.15 µs (docs/BENCHMARKS.md).
const KeepRetired = 3

// SealedKey is an identity secret as the store keeps it: encrypted, with
// the facts the dashboard shows about it.
type SealedKey struct {
	Version     int
	Status      KeyStatus
	Sealed      []byte
	Fingerprint string
	CreatedAt   time.Time
	CreatedBy   string
	ValidUntil  time.Time // for StatusPrevious: the end of the overlap
	RetiredAt   time.Time // when it stopped being current
}

// State is a project's identity configuration as stored.
type State struct {
	ProjectID int64
	Strict    bool
	Keys      []SealedKey // newest version first
}

// Current returns the current key, if any.
func (s State) Current() (SealedKey, bool) { return s.find(StatusCurrent) }

// Previous returns the key still inside its overlap window, if any. The
// caller compares ValidUntil with the time.
func (s State) Previous() (SealedKey, bool) { return s.find(StatusPrevious) }

func (s State) find(st KeyStatus) (SealedKey, bool) {
	for _, k := range s.Keys {
		if k.Status == st {
			return k, true
		}
	}
	return SealedKey{}, false
}

// Keyring is one project's unsealed verification material: a snapshot,
// immutable once built and safe for concurrent use.
type Keyring struct {
	ProjectID int64
	Strict    bool
	Version   int // the current secret's version; 0 when there is none

	current       *macKey
	previous      *macKey
	previousUntil time.Time
	retired       []*macKey
}

// NewKeyring unseals a project's secrets into a Keyring.
func NewKeyring(st State, sealer *Sealer) (*Keyring, error) {
	kr := &Keyring{ProjectID: st.ProjectID, Strict: st.Strict}
	for _, k := range st.Keys {
		secret, err := sealer.OpenSecret(st.ProjectID, k.Sealed)
		if err != nil {
			return nil, fmt.Errorf("identity: project %d secret v%d: %w", st.ProjectID, k.Version, err)
		}
		mk := newMACKey(secret)
		switch k.Status {
		case StatusCurrent:
			kr.current, kr.Version = mk, k.Version
		case StatusPrevious:
			kr.previous, kr.previousUntil = mk, k.ValidUntil
		default:
			kr.retired = append(kr.retired, mk)
		}
	}
	return kr, nil
}

// HasSecret reports whether the project has a current secret.
func (kr *Keyring) HasSecret() bool { return kr.current != nil }

// Verify checks token against userID at time now and returns Verified or
// the reason it fails, applying the contract's order of precedence:
// no_secret, missing_token, missing_user_id, unsupported_scheme,
// malformed_token, then rotated_secret or signature_mismatch.
// It does no I/O and no allocation.
func (kr *Keyring) Verify(userID, token string, now time.Time) Reason {
	if kr.current == nil {
		return NoSecret
	}
	if token == "" {
		return MissingToken
	}
	if userID == "" {
		return MissingUserID
	}
	mac, r := ParseToken(token)
	if r != Verified {
		return r
	}
	if kr.current.matches(userID, &mac) {
		return Verified
	}
	if kr.previous != nil && kr.previous.matches(userID, &mac) {
		if now.Before(kr.previousUntil) {
			return Verified
		}
		return RotatedSecret
	}
	for _, k := range kr.retired {
		if k.matches(userID, &mac) {
			return RotatedSecret
		}
	}
	return SignatureMismatch
}

// macKey computes HMAC-SHA256 under one secret, reusing keyed hash states
// so verification allocates nothing.
type macKey struct {
	pool sync.Pool
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	buf []byte
}

func newMACKey(secret Secret) *macKey {
	key := []byte(secret.reveal())
	mk := &macKey{}
	mk.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}
	return mk
}

func (mk *macKey) matches(userID string, mac *[sha256.Size]byte) bool {
	st := mk.pool.Get().(*macState)
	st.h.Reset()
	st.buf = append(st.buf[:0], userID...)
	st.h.Write(st.buf)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), mac[:])
	if cap(st.buf) > 4096 {
		st.buf = make([]byte, 0, 128) // do not pin a huge userId's buffer
	}
	mk.pool.Put(st)
	return ok
}
