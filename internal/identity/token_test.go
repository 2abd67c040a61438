package identity_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// Secrets of the reason tests (not secrets of anything real).
const (
	curValue     = "sis_t80oypZReuGs6fZ4PGdh3zC4E8UO49yIHkqr_h52fRI"
	prevValue    = "sis__IHr05QoKjWOm1CanSVdB8BgCAvQcwgnUF_tBOfLiE8"
	retiredValue = "sis_retiredretiredretiredretiredretired0000"
	otherValue   = "sis_someoneelsesomeoneelsesomeoneelse000000"
)

var tokenRE = regexp.MustCompile(`^hmac_v1:[0-9a-f]{64}$`)

func TestSignFormat(t *testing.T) {
	sec := mustSecret(t, curValue)
	for _, user := range []string{"u_123", "", " ", "👩‍💻", strings.Repeat("x", 10000)} {
		got := identity.Sign(sec, user)
		if !tokenRE.MatchString(got) {
			t.Errorf("Sign(%q) = %q, want hmac_v1: and 64 lowercase hex digits", user, got)
		}
		m := hmac.New(sha256.New, []byte(curValue)) // the whole secret, sis_ included
		m.Write([]byte(user))
		if want := "hmac_v1:" + hex.EncodeToString(m.Sum(nil)); got != want {
			t.Errorf("Sign(%q) = %s, want %s", user, got, want)
		}
	}
}

// TestVerifyReasons covers every reason of DESIGN.md with the inputs SDKs
// and backends get wrong in practice.
func TestVerifyReasons(t *testing.T) {
	cur, prev, retired, other := mustSecret(t, curValue), mustSecret(t, prevValue), mustSecret(t, retiredValue), mustSecret(t, otherValue)
	until := t0.Add(time.Hour)
	full := newKeyring(t, true,
		key{secret: cur, status: identity.StatusCurrent},
		key{secret: prev, status: identity.StatusPrevious, until: until},
		key{secret: retired, status: identity.StatusRetired},
	)
	empty := newKeyring(t, true)
	onlyCurrent := newKeyring(t, false, key{secret: cur, status: identity.StatusCurrent})

	const user = "u_123"
	good := identity.Sign(cur, user)
	mac := macHex(good)
	hex64 := strings.Repeat("ab", 32)

	tests := []struct {
		name   string
		kr     *identity.Keyring
		userID string
		token  string
		now    time.Time
		want   identity.Reason
	}{
		// verified
		{"current secret", full, user, good, t0, identity.Verified},
		{"previous secret inside overlap", full, user, identity.Sign(prev, user), t0, identity.Verified},
		{"previous secret just before overlap end", full, user, identity.Sign(prev, user), until.Add(-time.Nanosecond), identity.Verified},
		{"strict off verifies the same", onlyCurrent, user, good, t0, identity.Verified},
		{"unicode userId", full, "ユーザー👩‍💻", identity.Sign(cur, "ユーザー👩‍💻"), t0, identity.Verified},
		{"combining marks userId", full, "jose\u0301", identity.Sign(cur, "jose\u0301"), t0, identity.Verified},
		{"userId of one space is an id", full, " ", identity.Sign(cur, " "), t0, identity.Verified},
		{"userId with tabs and newlines", full, "\tu\n", identity.Sign(cur, "\tu\n"), t0, identity.Verified},
		{"userId with NUL", full, "u\x00x", identity.Sign(cur, "u\x00x"), t0, identity.Verified},
		{"userId not valid UTF-8 signs its bytes", full, "u\xff", identity.Sign(cur, "u\xff"), t0, identity.Verified},

		// no_secret
		{"no secret, valid-looking token", empty, user, good, t0, identity.NoSecret},
		{"no secret, no token", empty, user, "", t0, identity.NoSecret},
		{"no secret, nothing at all", empty, "", "", t0, identity.NoSecret},
		{"no secret, garbage", empty, "", "garbage", t0, identity.NoSecret},

		// missing_token
		{"empty token", full, user, "", t0, identity.MissingToken},
		{"empty token and empty userId", full, "", "", t0, identity.MissingToken},

		// missing_user_id
		{"empty userId", full, "", good, t0, identity.MissingUserID},
		{"empty userId with the token of empty", full, "", identity.Sign(cur, ""), t0, identity.MissingUserID},
		{"empty userId and a malformed token", full, "", "hmac_v1:zz", t0, identity.MissingUserID},
		{"empty userId and an unsupported scheme", full, "", "HMAC_V1:" + mac, t0, identity.MissingUserID},

		// unsupported_scheme
		{"uppercase scheme", full, user, "HMAC_V1:" + mac, t0, identity.UnsupportedScheme},
		{"capitalised scheme", full, user, "Hmac_v1:" + mac, t0, identity.UnsupportedScheme},
		{"HMAC_V1: and nothing", full, user, "HMAC_V1:", t0, identity.UnsupportedScheme},
		{"next version", full, user, "hmac_v2:" + mac, t0, identity.UnsupportedScheme},
		{"sha256 scheme", full, user, "sha256:" + mac, t0, identity.UnsupportedScheme},
		{"hyphenated scheme", full, user, "hmac-v1:" + mac, t0, identity.UnsupportedScheme},
		{"scheme prefix longer", full, user, "hmac_v1x:" + mac, t0, identity.UnsupportedScheme},
		{"jwt-ish", full, user, "jwt:eyJhbGciOiJIUzI1NiJ9", t0, identity.UnsupportedScheme},
		{"url", full, user, "https://example.com/token", t0, identity.UnsupportedScheme},
		{"unsupported wins over a bad value", full, user, "hmac_v2:zz", t0, identity.UnsupportedScheme},

		// malformed_token
		{"no colon", full, user, "hmac_v1" + mac, t0, identity.MalformedToken},
		{"hex alone", full, user, mac, t0, identity.MalformedToken},
		{"white space only", full, user, "   ", t0, identity.MalformedToken},
		{"the secret pasted as token", full, user, curValue, t0, identity.MalformedToken},
		{"empty value", full, user, "hmac_v1:", t0, identity.MalformedToken},
		{"63 hex digits", full, user, "hmac_v1:" + mac[:63], t0, identity.MalformedToken},
		{"65 hex digits", full, user, good + "0", t0, identity.MalformedToken},
		{"128 hex digits", full, user, good + mac, t0, identity.MalformedToken},
		{"uppercase hex", full, user, "hmac_v1:" + strings.ToUpper(mac), t0, identity.MalformedToken},
		{"one uppercase hex digit", full, user, "hmac_v1:" + strings.ToUpper(hex64[:1]) + hex64[1:], t0, identity.MalformedToken},
		{"non-hex letter", full, user, "hmac_v1:" + mac[:63] + "g", t0, identity.MalformedToken},
		{"0x prefix", full, user, "hmac_v1:0x" + mac[:62], t0, identity.MalformedToken},
		{"base64 MAC", full, user, "hmac_v1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", t0, identity.MalformedToken},
		{"leading space", full, user, " " + good, t0, identity.MalformedToken},
		{"trailing space", full, user, good + " ", t0, identity.MalformedToken},
		{"trailing newline", full, user, good + "\n", t0, identity.MalformedToken},
		{"space before colon", full, user, "hmac_v1 :" + mac, t0, identity.MalformedToken},
		{"space after colon", full, user, "hmac_v1: " + mac[:63], t0, identity.MalformedToken},
		{"space inside the MAC", full, user, "hmac_v1:" + mac[:32] + " " + mac[33:], t0, identity.MalformedToken},
		{"Bearer prefix", full, user, "Bearer " + good, t0, identity.MalformedToken},
		{"empty scheme", full, user, ":" + mac, t0, identity.MalformedToken},
		{"doubled colon", full, user, "hmac_v1::" + mac[:63], t0, identity.MalformedToken},
		{"64 bytes holding non-ASCII", full, user, "hmac_v1:" + mac[:62] + "é", t0, identity.MalformedToken},
		{"malformed wins over verified: uppercase of the right MAC", full, user, "hmac_v1:" + strings.ToUpper(mac), t0, identity.MalformedToken},

		// rotated_secret
		{"retired secret", full, user, identity.Sign(retired, user), t0, identity.RotatedSecret},
		{"previous secret at overlap end", full, user, identity.Sign(prev, user), until, identity.RotatedSecret},
		{"previous secret after overlap end", full, user, identity.Sign(prev, user), until.Add(time.Hour), identity.RotatedSecret},

		// signature_mismatch
		{"another user's token", full, "u_124", good, t0, identity.SignatureMismatch},
		{"unknown secret", full, user, identity.Sign(other, user), t0, identity.SignatureMismatch},
		{"userId with a trailing space", full, user + " ", good, t0, identity.SignatureMismatch},
		{"token of the trimmed userId", full, " " + user, good, t0, identity.SignatureMismatch},
		{"NFC userId, NFD token", full, "jos\u00e9", identity.Sign(cur, "jose\u0301"), t0, identity.SignatureMismatch},
		{"case differs", full, "U_123", good, t0, identity.SignatureMismatch},
		{"all-zero MAC", full, user, "hmac_v1:" + strings.Repeat("0", 64), t0, identity.SignatureMismatch},
		{"one digit changed", full, user, "hmac_v1:" + flipHexDigit(mac, 17), t0, identity.SignatureMismatch},
		{"signed with the secret minus sis_", full, user, identity.Sign(mustSecret(t, "sis_"+curValue[4:]+"x"), user), t0, identity.SignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.kr.Verify(tt.userID, tt.token, tt.now); got != tt.want {
				t.Errorf("Verify(%q, %q) = %s, want %s", tt.userID, tt.token, got, tt.want)
			}
		})
	}
}

// TestVerifyPrecedence combines every subset of failure conditions and
// checks that the first in DESIGN.md's order wins: no_secret,
// missing_token, missing_user_id, unsupported_scheme, malformed_token, then
// rotated_secret (or signature_mismatch, or verified when nothing applies).
func TestVerifyPrecedence(t *testing.T) {
	cur, retired := mustSecret(t, curValue), mustSecret(t, retiredValue)
	withKeys := newKeyring(t, true, key{secret: cur, status: identity.StatusCurrent}, key{secret: retired, status: identity.StatusRetired})
	noKeys := newKeyring(t, true)

	const (
		noSecret = 1 << iota
		missingToken
		missingUser
		otherScheme
		badValue
		rotatedKey
		all = 1<<iota - 1
	)
	order := []struct {
		bit    int
		reason identity.Reason
	}{
		{noSecret, identity.NoSecret},
		{missingToken, identity.MissingToken},
		{missingUser, identity.MissingUserID},
		{otherScheme, identity.UnsupportedScheme},
		{badValue, identity.MalformedToken},
		{rotatedKey, identity.RotatedSecret},
	}
	for set := 0; set <= all; set++ {
		kr := withKeys
		if set&noSecret != 0 {
			kr = noKeys
		}
		user := "u_1"
		if set&missingUser != 0 {
			user = ""
		}
		signer := cur
		if set&rotatedKey != 0 {
			signer = retired
		}
		mac := macHex(identity.Sign(signer, user))
		if set&badValue != 0 {
			mac = strings.ToUpper(mac)
		}
		scheme := "hmac_v1"
		if set&otherScheme != 0 {
			scheme = "hmac_v2"
		}
		token := scheme + ":" + mac
		if set&missingToken != 0 {
			token = ""
		}
		want := identity.Verified
		for _, o := range order {
			if set&o.bit != 0 {
				want = o.reason
				break
			}
		}
		if got := kr.Verify(user, token, t0); got != want {
			t.Errorf("conditions %06b: Verify(%q, %q) = %s, want %s", set, user, token, got, want)
		}
	}
}

func TestParseToken(t *testing.T) {
	sec := mustSecret(t, curValue)
	tok := identity.Sign(sec, "u")
	mac, r := identity.ParseToken(tok)
	if r != identity.Verified {
		t.Fatalf("ParseToken(%q) = %s, want well-formed", tok, r)
	}
	if got := "hmac_v1:" + hex.EncodeToString(mac[:]); got != tok {
		t.Errorf("decoded MAC re-encodes to %s, want %s", got, tok)
	}
	if _, r := identity.ParseToken(""); r != identity.MissingToken {
		t.Errorf("ParseToken(\"\") = %s, want missing_token", r)
	}
	if mac, r := identity.ParseToken("hmac_v1:" + strings.Repeat("a", 63) + "Z"); r != identity.MalformedToken || mac != [32]byte{} {
		t.Errorf("ParseToken(bad digit) = %x, %s, want zero MAC and malformed_token", mac, r)
	}
}

func TestReasonNames(t *testing.T) {
	wantOrder := []string{"no_secret", "missing_token", "missing_user_id", "unsupported_scheme", "malformed_token", "rotated_secret", "signature_mismatch", "expired_token", "user_mismatch"}
	if got := fmt.Sprint(identity.Reasons); got != fmt.Sprint(wantOrder) {
		t.Errorf("Reasons = %s, want %s", got, wantOrder)
	}
	for _, r := range append([]identity.Reason{identity.Verified}, identity.Reasons...) {
		back, ok := identity.ParseReason(r.String())
		if !ok || back != r {
			t.Errorf("ParseReason(%q) = %v, %v; want %v", r.String(), back, ok, r)
		}
		if r.Message() == "" || r.Message() == "unknown reason" {
			t.Errorf("%s has no message", r)
		}
	}
	if _, ok := identity.ParseReason("bogus"); ok {
		t.Error("ParseReason(bogus) succeeded")
	}
	if got := identity.Reason(200).String(); got != "unknown" {
		t.Errorf("Reason(200) = %q, want unknown", got)
	}
}

func TestNewSecret(t *testing.T) {
	urlSafe := regexp.MustCompile(`^sis_[A-Za-z0-9_-]{32,}$`)
	seen := map[string]bool{}
	for range 1000 {
		s := identity.NewSecret()
		v := s.Reveal()
		if !urlSafe.MatchString(v) {
			t.Fatalf("NewSecret() = %q, want sis_ and at least 32 URL-safe characters", v)
		}
		if seen[v] {
			t.Fatalf("NewSecret repeated %q", v)
		}
		seen[v] = true
		back, err := identity.ParseSecret(v)
		if err != nil || back.Reveal() != v {
			t.Fatalf("ParseSecret(NewSecret()) = %v, %v", back, err)
		}
		if fp := s.Fingerprint(); len(fp) != 8 || strings.Contains(v, fp) {
			t.Fatalf("Fingerprint = %q, want 8 hex digits not taken from the value", fp)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"", "sis_", "sis_short", "sis_" + strings.Repeat("a", 31), "SIS_" + strings.Repeat("a", 40), strings.Repeat("a", 40), "pk_live_" + strings.Repeat("a", 40)} {
		if _, err := identity.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) succeeded", bad)
		}
	}
	ok := "sis_" + strings.Repeat("a", 32)
	for _, in := range []string{ok, " " + ok + "\n", "\t" + ok} {
		s, err := identity.ParseSecret(in)
		if err != nil || s.Reveal() != ok {
			t.Errorf("ParseSecret(%q) = %q, %v; want %q", in, s.Reveal(), err, ok)
		}
	}
	var zero identity.Secret
	if !zero.IsZero() || zero.Reveal() != "" || zero.Fingerprint() != "" {
		t.Errorf("zero Secret: IsZero %v, Reveal %q, Fingerprint %q", zero.IsZero(), zero.Reveal(), zero.Fingerprint())
	}
}
