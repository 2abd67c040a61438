package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
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
	// Schemes are the token schemes the project accepts; the zero value
	// is the default, hmac_v1 and jwt.
	Schemes SchemePolicy
	// MaxLifetime, when positive, is how far ahead of the verifier's
	// clock (plus JWTLeeway) a JWT's exp may be; a JWT without exp, or
	// with exp further ahead, is malformed_token. Zero: no maximum.
	MaxLifetime time.Duration
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
	ProjectID   int64
	Strict      bool
	Version     int           // the current secret's version; 0 when there is none
	Schemes     SchemePolicy  // accepted token schemes
	MaxLifetime time.Duration // see State.MaxLifetime; 0: none

	current       *macKey
	previous      *macKey
	previousUntil time.Time
	retired       []*macKey
}

// NewKeyring unseals a project's secrets into a Keyring.
func NewKeyring(st State, sealer *Sealer) (*Keyring, error) {
	kr := &Keyring{ProjectID: st.ProjectID, Strict: st.Strict, Schemes: st.Schemes, MaxLifetime: max(st.MaxLifetime, 0)}
	for _, k := range st.Keys {
		secret, err := sealer.OpenSecret(st.ProjectID, k.Sealed)
		if err != nil {
			return nil, fmt.Errorf("identity: project %d secret v%d: %w", st.ProjectID, k.Version, err)
		}
		mk := newMACKey(secret, k.Version, k.Status)
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
// the reason it fails; it is VerifyToken(userID, token, now).Reason. For an
// hmac_v1 token it does no I/O and no allocation.
func (kr *Keyring) Verify(userID, token string, now time.Time) Reason {
	return kr.VerifyToken(userID, token, now).Reason
}

// Result is the outcome of verifying one event's identity token.
type Result struct {
	// Reason is Verified or why the token failed.
	Reason Reason
	// Scheme is the token's scheme as SchemeOf recognises it, whatever
	// the Reason (set even for no_secret), so refused tokens can be
	// counted by scheme too.
	Scheme Scheme
	// KeyVersion and KeyStatus name the secret whose signature the token
	// carries: set when a signature matched (verified, rotated_secret,
	// and for JWTs expired_token and user_mismatch), else 0 and "".
	// KeyStatus is the secret's status in the keyring: StatusPrevious
	// for a previous secret inside its overlap (verified) or past it
	// (rotated_secret).
	KeyVersion int
	KeyStatus  KeyStatus
	// Traits is the JWT's "traits" claim, a JSON object exactly as signed,
	// set only when Reason is Verified and the token carried one. It
	// overrides the same keys of the event's own traits.
	Traits json.RawMessage
	// ExpiresAt is a verified JWT's exp; zero for a JWT without one, for
	// hmac_v1 tokens and whenever Reason is not Verified. With the
	// verification time it gives the token's LifetimeClass.
	ExpiresAt time.Time
}

// VerifyToken checks token against userID at time now, applying the
// contract's order of precedence: no_secret, missing_token,
// missing_user_id, unsupported_scheme, malformed_token, then
// rotated_secret or signature_mismatch, then expired_token, then
// user_mismatch (the last two for JWTs only). It does no I/O; for an
// hmac_v1 token it does no allocation.
func (kr *Keyring) VerifyToken(userID, token string, now time.Time) Result {
	res := Result{Scheme: SchemeOf(token)}
	switch {
	case kr.current == nil:
		res.Reason = NoSecret
	case token == "":
		res.Reason = MissingToken
	case userID == "":
		res.Reason = MissingUserID
	case res.Scheme != SchemeUnknown && !kr.Schemes.Accepts(res.Scheme):
		res.Reason = UnsupportedScheme
	case res.Scheme == SchemeJWT:
		kr.verifyJWT(&res, userID, token, now)
	default:
		mac, r := ParseToken(token)
		if r != Verified {
			res.Reason = r
			break
		}
		kr.match(&res, userID, &mac, now)
	}
	return res
}

// match looks for the secret whose HMAC-SHA256 of msg is mac: the current
// one, the previous one (inside its overlap: verified; past it:
// rotated_secret) or a retired one (rotated_secret). None:
// signature_mismatch.
func (kr *Keyring) match(res *Result, msg string, mac *[sha256.Size]byte, now time.Time) {
	var found *macKey
	switch {
	case kr.current.matches(msg, mac):
		found, res.Reason = kr.current, Verified
	case kr.previous != nil && kr.previous.matches(msg, mac):
		found, res.Reason = kr.previous, Verified
		if !now.Before(kr.previousUntil) {
			res.Reason = RotatedSecret
		}
	default:
		res.Reason = SignatureMismatch
		for _, k := range kr.retired {
			if k.matches(msg, mac) {
				found, res.Reason = k, RotatedSecret
				break
			}
		}
	}
	if found != nil {
		res.KeyVersion, res.KeyStatus = found.version, found.status
	}
}

// macKey computes HMAC-SHA256 under one secret, reusing keyed hash states
// so verification allocates nothing.
type macKey struct {
	pool    sync.Pool
	version int
	status  KeyStatus
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	buf [512]byte // msg is copied through it: hash.Hash takes []byte, msg is a string
}

func newMACKey(secret Secret, version int, status KeyStatus) *macKey {
	key := []byte(secret.reveal())
	mk := &macKey{version: version, status: status}
	mk.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, key)}
	}
	return mk
}

// matches reports whether mac is HMAC-SHA256(secret, msg), in constant time.
func (mk *macKey) matches(msg string, mac *[sha256.Size]byte) bool {
	st := mk.pool.Get().(*macState)
	st.h.Reset()
	for len(msg) > 0 {
		n := copy(st.buf[:], msg)
		st.h.Write(st.buf[:n])
		msg = msg[n:]
	}
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), mac[:])
	mk.pool.Put(st)
	return ok
}
