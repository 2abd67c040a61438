// Package identity holds the rules of strict identity: identity secrets,
// hmac_v1 tokens, secrets sealed at rest, and the cached per-project verifier.
// It knows nothing of HTTP or SQL; storage reaches it through small
// interfaces declared here.
package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// SecretPrefix starts every identity secret.
const SecretPrefix = "sis_"

// secretRandomBytes gives 43 URL-safe characters after the prefix (256 bits).
const secretRandomBytes = 32

// Secret is an identity secret. Its value is reachable only through Reveal,
// so printing or logging a Secret by accident shows its fingerprint, never
// the value. Compare secrets with Reveal, not ==.
type Secret struct {
	// value sits behind a pointer: fmt cannot call String on a Secret held
	// in another struct's unexported field and prints such fields by
	// reflection, where a pointer shows as an address, a string as itself.
	value *string
}

func secretOf(v string) Secret { return Secret{value: &v} }

// reveal is Reveal for this package: "" for the zero Secret.
func (s Secret) reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// NewSecret returns a fresh secret: "sis_" and 43 URL-safe base64 characters
// read from crypto/rand.
func NewSecret() Secret {
	var b [secretRandomBytes]byte
	rand.Read(b[:]) // never fails; it crashes the program if the kernel cannot supply randomness
	return secretOf(SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]))
}

// ErrBadSecret reports a string that is not an identity secret.
var ErrBadSecret = errors.New(`identity secret must start with "sis_" and have at least 32 characters after it`)

// ParseSecret accepts a secret as the admin pasted it (surrounding white space
// is trimmed: it is never part of a generated secret).
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, SecretPrefix) || len(s)-len(SecretPrefix) < 32 {
		return Secret{}, ErrBadSecret
	}
	return secretOf(s), nil
}

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.reveal() == "" }

// Reveal returns the secret's value. Call it only to show the secret to its
// admin once, to seal it, or to key the HMAC.
func (s Secret) Reveal() string { return s.reveal() }

// Fingerprint is a short, non-reversible name for the secret, safe to show
// and log: the first 8 hex digits of SHA-256 over a domain tag and the value.
func (s Secret) Fingerprint() string {
	if s.IsZero() {
		return ""
	}
	sum := sha256.Sum256([]byte("sendora identity secret fingerprint\x00" + s.reveal()))
	return hex.EncodeToString(sum[:4])
}

// String shows the fingerprint so that fmt never prints the value.
func (s Secret) String() string {
	if s.IsZero() {
		return "sis_(none)"
	}
	return "sis_…" + s.Fingerprint()
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb: without it fmt formats a Secret by
// reflection for verbs other than %v, %s, %q and %x, and "%d" printed the
// value.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue keeps log/slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText refuses, so a Secret cannot reach JSON or a form by accident.
func (s Secret) MarshalText() ([]byte, error) {
	return nil, errors.New("identity: refusing to marshal a secret")
}
