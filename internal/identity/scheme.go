package identity

import (
	"errors"
	"strings"
)

// Scheme is the kind of an identity token, as recognised from its shape.
type Scheme uint8

// The token schemes.
const (
	// SchemeUnknown: no token, a token of another scheme ("hmac_v2:…"),
	// or one that has the shape of neither.
	SchemeUnknown Scheme = iota
	// SchemeHMACv1: "hmac_v1:" and a MAC of the userId.
	SchemeHMACv1
	// SchemeJWT: a compact JWT (three segments separated by dots, no
	// "scheme:" prefix), whatever its alg.
	SchemeJWT
)

// String returns the scheme's wire name: "hmac_v1", "jwt", or "unknown".
func (s Scheme) String() string {
	switch s {
	case SchemeHMACv1:
		return TokenScheme
	case SchemeJWT:
		return "jwt"
	}
	return "unknown"
}

// SchemeOf says which scheme token claims to be, from its shape alone: it
// decodes nothing. A token with a "scheme:" prefix is hmac_v1 or unknown
// (a JWT's base64url segments never hold a ':'); one without a prefix and
// with exactly two dots is a JWT, well-formed or not.
func SchemeOf(token string) Scheme {
	if scheme, _, ok := strings.Cut(token, ":"); ok {
		if scheme == TokenScheme {
			return SchemeHMACv1
		}
		return SchemeUnknown
	}
	if strings.Count(token, ".") == 2 {
		return SchemeJWT
	}
	return SchemeUnknown
}

// SchemePolicy is which token schemes a project accepts.
type SchemePolicy uint8

// The policies an admin can choose. The zero value is the default.
const (
	// AcceptHMACAndJWT accepts hmac_v1 tokens and HS256 JWTs (the default).
	AcceptHMACAndJWT SchemePolicy = iota
	// AcceptJWTOnly refuses hmac_v1 tokens with unsupported_scheme, so
	// every verified event carries an expiring token.
	AcceptJWTOnly
	// AcceptHMACOnly refuses JWTs with unsupported_scheme. hmac_v1 and
	// jwt share the secret and the MAC: an hmac_v1 token a backend issues
	// for a userId its user chose, shaped like a JWT's header.claims, is
	// that JWT's signature. A project that does not use JWTs closes that
	// door with this policy (docs/SECURITY.md).
	AcceptHMACOnly
)

// Policies lists every policy, the default first.
var Policies = []SchemePolicy{AcceptHMACAndJWT, AcceptJWTOnly, AcceptHMACOnly}

// String returns the policy as the CLI and the store spell it:
// "hmac_v1,jwt", "jwt" or "hmac_v1".
func (p SchemePolicy) String() string {
	switch p {
	case AcceptJWTOnly:
		return "jwt"
	case AcceptHMACOnly:
		return TokenScheme
	}
	return "hmac_v1,jwt"
}

// Accepts reports whether tokens of scheme s may verify under p.
func (p SchemePolicy) Accepts(s Scheme) bool {
	switch s {
	case SchemeJWT:
		return p != AcceptHMACOnly
	case SchemeHMACv1:
		return p != AcceptJWTOnly
	}
	return false
}

// ErrBadSchemes refuses a scheme list that is not one of the policies.
var ErrBadSchemes = errors.New(`accepted schemes must be "hmac_v1,jwt", "jwt" or "hmac_v1"`)

// ParseSchemePolicy reads a comma-separated scheme list ("hmac_v1,jwt",
// "jwt,hmac_v1", "jwt", "hmac_v1"; spaces around names are ignored). Names
// are exact: "JWT" is refused, as is a name given twice or an empty list.
func ParseSchemePolicy(s string) (SchemePolicy, error) {
	var hmacV1, jwt bool
	for name := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(name) {
		case TokenScheme:
			if hmacV1 {
				return 0, ErrBadSchemes
			}
			hmacV1 = true
		case "jwt":
			if jwt {
				return 0, ErrBadSchemes
			}
			jwt = true
		default:
			return 0, ErrBadSchemes
		}
	}
	switch {
	case hmacV1 && jwt:
		return AcceptHMACAndJWT, nil
	case jwt:
		return AcceptJWTOnly, nil
	case hmacV1:
		return AcceptHMACOnly, nil
	}
	return 0, ErrBadSchemes
}
