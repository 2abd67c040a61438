package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// t0 is the tests' fixed "now"; a fake clock starts there.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func mustSecret(t testing.TB, s string) identity.Secret {
	t.Helper()
	sec, err := identity.ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret(%q): %v", s, err)
	}
	return sec
}

// key is one secret of a hand-built keyring.
type key struct {
	secret identity.Secret
	status identity.KeyStatus
	until  time.Time // for StatusPrevious
}

// newKeyring seals keys the way the store holds them and unseals them into
// a Keyring, newest first as the store returns them.
func newKeyring(t testing.TB, strict bool, keys ...key) *identity.Keyring {
	t.Helper()
	sealer := identity.NewSealer(identity.NewMasterKey())
	st := identity.State{ProjectID: 7, Strict: strict}
	for i, k := range keys {
		st.Keys = append(st.Keys, identity.SealedKey{
			Version:     len(keys) - i,
			Status:      k.status,
			Sealed:      sealer.SealSecret(st.ProjectID, k.secret),
			Fingerprint: k.secret.Fingerprint(),
			ValidUntil:  k.until,
		})
	}
	kr, err := identity.NewKeyring(st, sealer)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

// macHex is the hex MAC of a token, without its scheme.
func macHex(token string) string { return strings.TrimPrefix(token, "hmac_v1:") }

// flipHexDigit changes the i-th digit of a lowercase hex string to another one.
func flipHexDigit(h string, i int) string {
	const digits = "0123456789abcdef"
	d := digits[(strings.IndexByte(digits, h[i])+1)%16]
	return h[:i] + string(d) + h[i+1:]
}
