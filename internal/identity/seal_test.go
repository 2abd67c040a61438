package identity_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/identity"
)

func TestSealRoundTrip(t *testing.T) {
	sealer := identity.NewSealer(identity.NewMasterKey())
	secret := identity.NewSecret()
	sealed := sealer.SealSecret(42, secret)
	got, err := sealer.OpenSecret(42, sealed)
	if err != nil {
		t.Fatalf("OpenSecret: %v", err)
	}
	if got.Reveal() != secret.Reveal() {
		t.Errorf("opened %q, want %q", got.Reveal(), secret.Reveal())
	}
	// Layout: version 1, the master key's id, then nonce and ciphertext.
	if sealed[0] != 1 {
		t.Errorf("version byte = %d, want 1", sealed[0])
	}
	if id := hex.EncodeToString(sealed[1:5]); id != sealer.KeyID() {
		t.Errorf("key id in sealed value = %s, want %s", id, sealer.KeyID())
	}
	if again := sealer.SealSecret(42, secret); bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: the nonce is not fresh")
	}
}

func TestSealedBytesHoldNoPlaintext(t *testing.T) {
	sealer := identity.NewSealer(identity.NewMasterKey())
	for range 200 {
		secret := identity.NewSecret()
		v := secret.Reveal()
		sealed := sealer.SealSecret(1, secret)
		for _, form := range []string{v, v[len(identity.SecretPrefix):], v[len(identity.SecretPrefix):][:12], "sis_"} {
			if bytes.Contains(sealed, []byte(form)) {
				t.Fatalf("sealed value contains %q", form)
			}
		}
		raw, _ := base64.RawURLEncoding.DecodeString(v[len(identity.SecretPrefix):])
		if bytes.Contains(sealed, raw[:8]) {
			t.Fatalf("sealed value contains the secret's random bytes")
		}
	}
}

func TestOpenFailures(t *testing.T) {
	key := identity.NewMasterKey()
	sealer := identity.NewSealer(key)
	secret := identity.NewSecret()
	sealed := sealer.SealSecret(42, secret)

	wantWrongKey := func(t *testing.T, what string, got identity.Secret, err error) {
		t.Helper()
		if !errors.Is(err, identity.ErrWrongMasterKey) {
			t.Errorf("%s: err = %v, want ErrWrongMasterKey", what, err)
		}
		if !got.IsZero() {
			t.Errorf("%s: returned a secret", what)
		}
		if err != nil && strings.Contains(err.Error(), secret.Reveal()) {
			t.Errorf("%s: error shows the secret", what)
		}
	}

	other := identity.NewSealer(identity.NewMasterKey())
	got, err := other.OpenSecret(42, sealed)
	wantWrongKey(t, "another master key", got, err)

	got, err = sealer.OpenSecret(43, sealed)
	wantWrongKey(t, "another project", got, err)
	got, err = sealer.OpenSecret(-42, sealed)
	wantWrongKey(t, "negated project id", got, err)

	if _, err := sealer.Open("sendora/session-key/v1", 42, sealed); !errors.Is(err, identity.ErrWrongMasterKey) {
		t.Errorf("another purpose: err = %v, want ErrWrongMasterKey", err)
	}

	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			got, err := sealer.OpenSecret(42, bad)
			wantWrongKey(t, fmt.Sprintf("byte %d ^ %#x", i, bit), got, err)
		}
	}
	for n := range len(sealed) {
		got, err := sealer.OpenSecret(42, sealed[:n])
		wantWrongKey(t, fmt.Sprintf("truncated to %d bytes", n), got, err)
	}
	got, err = sealer.OpenSecret(42, append(bytes.Clone(sealed), 0))
	wantWrongKey(t, "one byte appended", got, err)

	// The same key, parsed back from its file form, opens it.
	again, err := identity.ParseMasterKey(key.Encode() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := identity.NewSealer(again).OpenSecret(42, sealed); err != nil || got.Reveal() != secret.Reveal() {
		t.Errorf("reopened with the parsed key: %v", err)
	}
}

func TestParseMasterKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xef, 0x01}, 11)[:32]
	sealed := func(k identity.MasterKey) string { return identity.NewSealer(k).KeyID() }
	want := ""
	for _, form := range []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		"  " + hex.EncodeToString(raw) + "\n",
	} {
		k, err := identity.ParseMasterKey(form)
		if err != nil {
			t.Errorf("ParseMasterKey(%q): %v", form, err)
			continue
		}
		if want == "" {
			want = sealed(k)
		}
		if got := sealed(k); got != want {
			t.Errorf("ParseMasterKey(%q) gives key id %s, want %s", form, got, want)
		}
	}
	for _, bad := range []string{"", "zz", hex.EncodeToString(raw[:31]), hex.EncodeToString(raw) + "00", base64.StdEncoding.EncodeToString(raw[:16]), strings.Repeat("g", 64)} {
		if _, err := identity.ParseMasterKey(bad); err == nil {
			t.Errorf("ParseMasterKey(%q) succeeded", bad)
		}
	}
}

// TestSecretNeverPrinted formats secrets and master keys every way a
// careless log line could, and checks that only the fingerprint shows.
func TestSecretNeverPrinted(t *testing.T) {
	secret := identity.NewSecret()
	mk := identity.NewMasterKey()
	value, keyHex := secret.Reveal(), mk.Encode()
	keyBytes := []byte(fmt.Sprint([]byte(keyHex)))

	type holder struct {
		Exported identity.Secret
		hidden   identity.Secret
		ptr      *identity.Secret
		key      identity.MasterKey
	}
	h := holder{Exported: secret, hidden: secret, ptr: &secret, key: mk}
	rotated := identity.Rotated{Secret: secret, Version: 3}
	values := map[string]any{"secret": secret, "*secret": &secret, "holder": h, "*holder": &h, "rotated": rotated, "master key": mk, "slice": []identity.Secret{secret}, "map": map[string]identity.Secret{"k": secret},
		"keyring": newKeyring(t, true, key{secret: secret, status: identity.StatusCurrent}), "sealer": identity.NewSealer(mk)}

	check := func(t *testing.T, what, out string) {
		t.Helper()
		if strings.Contains(out, value) || strings.Contains(out, value[len(identity.SecretPrefix):len(identity.SecretPrefix)+16]) {
			t.Errorf("%s prints the secret: %s", what, out)
		}
		if strings.Contains(strings.ToLower(out), keyHex) || strings.Contains(out, string(keyBytes)) {
			t.Errorf("%s prints the master key: %s", what, out)
		}
		if strings.Contains(out, hex.EncodeToString([]byte(value))[:32]) {
			t.Errorf("%s prints the secret in hex: %s", what, out)
		}
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%T", "%p", "%10.3v"} {
			check(t, fmt.Sprintf("%s with %s", name, verb), fmt.Sprintf(verb, v))
		}
		check(t, name+" in an error", fmt.Errorf("wrap: %v", v).Error())
		for _, format := range []string{"text", "json"} {
			var buf bytes.Buffer
			var handler slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				handler = slog.NewJSONHandler(&buf, nil)
			}
			slog.New(handler).Info("rotated", "value", v, slog.Group("g", "value", v))
			check(t, fmt.Sprintf("slog %s handler with %s", format, name), buf.String())
		}
	}
	if got := fmt.Sprint(secret); got != "sis_…"+secret.Fingerprint() {
		t.Errorf("fmt.Sprint(secret) = %q, want sis_… and the fingerprint", got)
	}
	if b, err := json.Marshal(secret); err == nil {
		t.Errorf("json.Marshal(secret) = %s, want an error", b)
	}
	if b, err := json.Marshal(rotated); err == nil {
		t.Errorf("json.Marshal(Rotated) = %s, want an error", b)
	}
	if b, err := secret.MarshalText(); err == nil || b != nil {
		t.Errorf("MarshalText = %q, %v, want an error", b, err)
	}
	if got := fmt.Sprint(identity.Secret{}); got != "sis_(none)" {
		t.Errorf("zero secret prints %q", got)
	}
}

func TestZeroMasterKey(t *testing.T) {
	var zero identity.MasterKey
	if got := fmt.Sprint(zero); got != "master-key(none)" {
		t.Errorf("zero MasterKey prints %q", got)
	}
	if got := zero.Encode(); got != "" {
		t.Errorf("zero MasterKey encodes as %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewSealer(zero MasterKey) did not panic: it would seal under a key of zeros")
		}
	}()
	identity.NewSealer(zero)
}
