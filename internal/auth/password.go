package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are OWASP's first argon2id recommendation: 19 MiB, two
// passes, one lane: about 20 ms per check on one core of the 2-core
// development machine.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Bounds on parameters read back from a stored hash, so a damaged or
// hostile row cannot make a login allocate gigabytes.
const (
	maxMemory  = 256 * 1024
	maxTime    = 16
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
)

// Password rules. argon2id has no input limit (unlike bcrypt's 72 bytes),
// so the upper bound is only there to bound the work a request can cause.
const (
	MinPasswordLen = 12   // characters
	MaxPasswordLen = 1024 // bytes
)

// ErrWeakPassword and friends describe a password the rules refuse; the
// messages are safe to show.
var (
	ErrPasswordShort    = fmt.Errorf("the password must have at least %d characters", MinPasswordLen)
	ErrPasswordLong     = fmt.Errorf("the password must be at most %d bytes", MaxPasswordLen)
	ErrPasswordMismatch = errors.New("the two passwords differ")
	errBadHash          = errors.New("auth: stored password hash is not argon2id in PHC format")
)

// CheckPasswordRules reports why a new password is refused, or nil.
func CheckPasswordRules(pw string) error {
	if len(pw) > MaxPasswordLen {
		return ErrPasswordLong
	}
	if utf8.RuneCountInString(strings.TrimSpace(pw)) < MinPasswordLen {
		return ErrPasswordShort
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id, running at most a
// few hashes at once: each takes Memory KiB and a core for tens of
// milliseconds, so unbounded concurrent logins could exhaust the machine.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  func() string
}

// NewHasher returns a Hasher with the parameters for new hashes that runs
// at most concurrency hashes at once.
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, concurrency)}
	h.dummy = sync.OnceValue(func() string {
		return h.encode(make([]byte, saltLen), []byte("sendora dummy password"))
	})
	return h
}

// ErrBusy means every hashing slot stayed busy until the request gave up.
var ErrBusy = errors.New("auth: too many password checks at once")

// maxWait bounds how long a request queues for a hashing slot.
const maxWait = 10 * time.Second

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err() // the client is gone: not busy, and nothing to answer
	case <-t.C:
		return ErrBusy
	}
}

func (h *Hasher) release() { <-h.slots }

func (h *Hasher) encode(salt, pw []byte) string {
	p := h.params
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Hash returns the PHC-format argon2id hash of pw with a random salt.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := make([]byte, saltLen)
	rand.Read(salt)
	return h.encode(salt, []byte(pw)), nil
}

// Verify reports whether pw matches the encoded hash, comparing in
// constant time. An empty encoded hash (an unknown account) is checked
// against a dummy hash, so the answer takes as long as for a real account
// and does not reveal which emails exist.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	known := encoded != ""
	if !known {
		encoded = h.dummy()
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && known, nil
}

func decodeHash(s string) (Params, []byte, []byte, error) {
	// $argon2id$v=19$m=19456,t=2,p=1$salt$key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, errBadHash
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return Params{}, nil, nil, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
