package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// TokenScheme is the prefix scheme of hmac_v1 tokens ("hmac_v1:…"). The
// other accepted scheme, jwt, has no prefix: it is recognised by its shape
// (see SchemeOf).
const TokenScheme = "hmac_v1"

const tokenPrefix = TokenScheme + ":"

// macHexLen is the length of an HMAC-SHA256 in hex.
const macHexLen = 2 * sha256.Size

// Reason says why an event's identity did not verify. The zero Reason,
// Verified, means it did.
type Reason uint8

// The reasons, in the words of the wire contract.
const (
	Verified Reason = iota
	NoSecret
	MissingToken
	MissingUserID
	UnsupportedScheme
	MalformedToken
	RotatedSecret
	SignatureMismatch
	ExpiredToken // a jwt token whose exp has passed, or whose nbf or iat is still ahead
	UserMismatch // a jwt token with a valid signature whose sub is another userId
	numReasons
)

var reasonNames = [numReasons]string{
	Verified:          "verified",
	NoSecret:          "no_secret",
	MissingToken:      "missing_token",
	MissingUserID:     "missing_user_id",
	UnsupportedScheme: "unsupported_scheme",
	MalformedToken:    "malformed_token",
	RotatedSecret:     "rotated_secret",
	SignatureMismatch: "signature_mismatch",
	ExpiredToken:      "expired_token",
	UserMismatch:      "user_mismatch",
}

// NumReasons bounds Reason values, for arrays indexed by Reason (counters).
const NumReasons = int(numReasons)

// Reasons lists every failure reason (not Verified) in the contract's order.
var Reasons = []Reason{NoSecret, MissingToken, MissingUserID, UnsupportedScheme, MalformedToken, RotatedSecret, SignatureMismatch, ExpiredToken, UserMismatch}

// String returns the reason's wire name ("signature_mismatch").
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// ParseReason turns a wire name back into a Reason.
func ParseReason(s string) (Reason, bool) {
	for r, name := range reasonNames {
		if name == s {
			return Reason(r), true
		}
	}
	return 0, false
}

// Message is the human text the API sends with a reason.
func (r Reason) Message() string {
	switch r {
	case Verified:
		return "identity verified"
	case NoSecret:
		return "strict identity is on but the project has no identity secret; rotate one in Settings → Identity"
	case MissingToken:
		return "identityToken is required: sign the userId on your backend and send the token with the event"
	case MissingUserID:
		return "userId is required to verify identityToken"
	case UnsupportedScheme:
		return `identityToken uses a scheme this project does not accept: "hmac_v1:" tokens or JWTs signed with HS256, as the project's accepted schemes allow`
	case MalformedToken:
		return `identityToken must be "hmac_v1:" followed by 64 lowercase hex digits, or a compact HS256 JWT with a "sub" claim (and "exp" within the project's maximum lifetime, if it sets one)`
	case RotatedSecret:
		return "identityToken was signed with an identity secret that has been rotated out; update SENDORA_IDENTITY_SECRET on your backend"
	case SignatureMismatch:
		return "identityToken does not match userId under the project's identity secret"
	case ExpiredToken:
		return "identityToken is a JWT outside its validity window (exp has passed, or nbf or iat is ahead, beyond 60 s of clock skew); issue a fresh token"
	case UserMismatch:
		return "identityToken is a valid JWT for another user: its sub claim is not the event's userId"
	}
	return "unknown reason"
}

// Sign returns the hmac_v1 token for userID, byte for byte what the reference
// Node signer in DESIGN.md produces.
func Sign(secret Secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret.reveal()))
	m.Write([]byte(userID))
	return tokenPrefix + hex.EncodeToString(m.Sum(nil))
}

// ParseToken checks a token's form and decodes its MAC. It returns Verified
// (meaning "well-formed") with the MAC, or MissingToken, UnsupportedScheme or
// MalformedToken. Only lowercase hex is accepted, as the signer emits, so
// exactly one string is the token for a (secret, userId).
//
// UnsupportedScheme needs something that looks like a scheme before the
// first ':' (letters, digits, '_', '-', '.', '+'): "HMAC_V1:…" and
// "hmac_v2:…" name another scheme, but " hmac_v1:…", "Bearer hmac_v1:…" or
// ":…" are a damaged hmac_v1 token, and the hint for malformed_token is the
// one that helps.
func ParseToken(token string) (mac [sha256.Size]byte, r Reason) {
	if token == "" {
		return mac, MissingToken
	}
	scheme, value, ok := strings.Cut(token, ":")
	if !ok || !isScheme(scheme) {
		return mac, MalformedToken
	}
	if scheme != TokenScheme {
		return mac, UnsupportedScheme
	}
	if len(value) != macHexLen {
		return mac, MalformedToken
	}
	for i := 0; i < macHexLen; i += 2 {
		hi, ok1 := fromLowerHex(value[i])
		lo, ok2 := fromLowerHex(value[i+1])
		if !ok1 || !ok2 {
			return [sha256.Size]byte{}, MalformedToken
		}
		mac[i/2] = hi<<4 | lo
	}
	return mac, Verified
}

// isScheme reports whether s can name a token scheme.
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

func fromLowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
