package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// The jwt scheme: identityToken may be a compact JWT (RFC 7519) signed with
// HS256 under the identity secret (the key is the whole "sis_…" string, as
// for hmac_v1). Claims: "sub" (required) is the exact userId; "exp",
// "nbf" and "iat" are honoured with JWTLeeway; "traits" (optional) is a
// JSON object of signed traits. Other claims ("iss", "aud", "jti", …) and
// header parameters ("typ", "kid", "jku", "x5u", "jwk", …) are ignored: the
// keys are always the project's own secrets, never named by the token.
//
// How a token is checked, and why not with jwt.Parser alone:
//
//  1. parseJWT reads the token strictly (length, base64url, the header's
//     alg, the claims' types) and returns a reason in the contract's
//     order: unsupported_scheme (alg is not HS256) before malformed_token.
//     jwt.Parser decodes the claims before it looks at alg, and reports a
//     refused alg with the same error as a bad signature, so it cannot give
//     that order.
//  2. The signature is checked with the keyring's pooled HMAC-SHA256
//     states (current, previous, retired), as hmac_v1 tokens are: the
//     library builds a new HMAC for every key and every token, which with
//     its header map and claims decoding cost 12 µs a token here, four
//     times the budget (docs/BENCHMARKS.md).
//  3. The time and subject rules are the library's own: jwt.Validator with
//     WithLeeway(JWTLeeway), WithIssuedAt and WithSubject(userID) validates
//     the decoded jwtClaims, and jwtReason maps its errors to reasons.
//
// The tests hold this path to the library's: every token verified here
// also passes jwt.Parser pinned with WithValidMethods([]string{"HS256"})
// and the same options (TestJWTAgreesWithLibrary, FuzzJWT).

// JWTLeeway is the clock skew allowed when checking a JWT's exp, nbf and
// iat, and its exp against a maximum lifetime.
const JWTLeeway = 60 * time.Second

// MaxTokenLength bounds identityToken. A longer token is malformed_token,
// refused before any decoding (a longer one with another scheme's prefix
// stays unsupported_scheme). 8 KiB holds a JWT with a few hundred bytes of
// traits many times over; an event is at most 32 KiB.
const MaxTokenLength = 8 << 10

// MaxTraitsDepth bounds the nesting of a JWT's traits, as the wire
// contract bounds an event's traits: the object itself is level 1.
const MaxTraitsDepth = 32

// jwtAlg is the one alg accepted.
var jwtAlg = jwt.SigningMethodHS256.Alg()

// maxNumericDate is 9999-12-31T23:59:59Z, the contract's last year; a
// NumericDate beyond it (either sign) is malformed rather than saturated.
const maxNumericDate = 253402300799

// jwtClaims are the claims of an identity JWT, read by decode. It
// implements jwt.Claims, so the library's Validator checks its times and
// subject.
type jwtClaims struct {
	sub                    []byte
	exp, nbf, iat          jwt.NumericDate
	hasExp, hasNbf, hasIat bool
	traits                 []byte // the raw object, nil when absent
}

// Claim bits for duplicate detection.
const (
	claimSub = 1 << iota
	claimExp
	claimNbf
	claimIat
	claimTraits
)

// decode reads the claims from the decoded payload b, keeping slices of b.
// It fails on anything but a JSON object in valid UTF-8 with a non-empty
// string "sub"; on a non-numeric or out-of-range exp, nbf or iat; on
// traits that are neither an object nor null (null is no traits), nest
// deeper than MaxTraitsDepth or repeat a key; and on any of these claims
// appearing twice.
func (c *jwtClaims) decode(b []byte) bool {
	if !utf8.Valid(b) || !validJSON(b, maxJSONDepth) {
		return false
	}
	r, ok := newObjectReader(b)
	if !ok {
		return false
	}
	seen := 0
	for {
		rawKey, val, more := r.next()
		if !more {
			break
		}
		key, ok := unquote(rawKey)
		if !ok {
			return false
		}
		var bit int
		switch {
		case string(key) == "sub":
			bit = claimSub
			if c.sub, ok = unquote(val); !ok || len(c.sub) == 0 {
				return false
			}
		case string(key) == "exp":
			bit = claimExp
			if c.exp, ok = numericDate(val); !ok {
				return false
			}
			c.hasExp = true
		case string(key) == "nbf":
			bit = claimNbf
			if c.nbf, ok = numericDate(val); !ok {
				return false
			}
			c.hasNbf = true
		case string(key) == "iat":
			bit = claimIat
			if c.iat, ok = numericDate(val); !ok {
				return false
			}
			c.hasIat = true
		case string(key) == "traits":
			bit = claimTraits
			if string(val) == "null" {
				// Absent, as an event's "traits": null is: signers
				// serialise a nil map or None so.
				break
			}
			if len(val) == 0 || val[0] != '{' {
				return false
			}
			if _, depth := valueEnd(val, 0); depth > MaxTraitsDepth || !keysUnique(val) {
				return false
			}
			c.traits = val
		default:
			continue
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return seen&claimSub != 0
}

// UnmarshalJSON decodes claims as decode does, from a copy of b. It lets
// jwt.Parser decode into jwtClaims, which the tests use as the oracle.
func (c *jwtClaims) UnmarshalJSON(b []byte) error {
	*c = jwtClaims{}
	if !c.decode(bytes.Clone(b)) {
		return errBadClaims
	}
	return nil
}

var errBadClaims = errors.New("identity: claims are not a JSON object with a string sub, numeric times and object traits")

// numericDate reads a JWT NumericDate: a JSON number (not a string holding
// one, which encoding/json would accept into json.Number) of seconds
// within ±maxNumericDate, converted as the library converts it.
func numericDate(val []byte) (jwt.NumericDate, bool) {
	if len(val) == 0 || val[0] != '-' && (val[0] < '0' || val[0] > '9') {
		return jwt.NumericDate{}, false
	}
	f, err := strconv.ParseFloat(string(val), 64)
	if err != nil || math.Abs(f) > maxNumericDate {
		return jwt.NumericDate{}, false
	}
	sec, frac := math.Modf(f)
	return *jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), true
}

func (c *jwtClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.date(c.hasExp, &c.exp) }
func (c *jwtClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.date(c.hasNbf, &c.nbf) }
func (c *jwtClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.date(c.hasIat, &c.iat) }
func (c *jwtClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *jwtClaims) GetSubject() (string, error)                  { return string(c.sub), nil }
func (c *jwtClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func (c *jwtClaims) date(has bool, d *jwt.NumericDate) (*jwt.NumericDate, error) {
	if !has {
		return nil, nil
	}
	return d, nil
}

// validate applies the library's rules for exp, nbf and iat (with
// JWTLeeway) and sub (exactly userID) at time now.
func (c *jwtClaims) validate(userID string, now time.Time) error {
	return jwt.NewValidator(
		jwt.WithLeeway(JWTLeeway),
		jwt.WithIssuedAt(),
		jwt.WithSubject(userID),
		jwt.WithTimeFunc(func() time.Time { return now }),
	).Validate(c)
}

// jwtReason maps an error of golang-jwt (its Validator here, its Parser in
// the tests) to the contract's reason. Checks run in the contract's order,
// so a token both expired and for another user is expired_token.
func jwtReason(err error) Reason {
	switch {
	case err == nil:
		return Verified
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// the alg names no method the library has, or none at all
		return UnsupportedScheme
	case errors.Is(err, jwt.ErrTokenMalformed),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrInvalidType):
		return MalformedToken
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return SignatureMismatch
	case errors.Is(err, jwt.ErrTokenExpired),
		errors.Is(err, jwt.ErrTokenNotValidYet),
		errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ExpiredToken
	case errors.Is(err, jwt.ErrTokenInvalidSubject):
		return UserMismatch
	}
	// Audience, issuer and id are never asked for; anything else the
	// library may add later refuses the token.
	return MalformedToken
}

// parsedJWT is a token that parseJWT found well-formed.
type parsedJWT struct {
	signingInput string // header.payload, what the signature covers
	sig          [sha256.Size]byte
	claims       jwtClaims
}

// parseJWT checks a JWT-shaped token's form: at most MaxTokenLength bytes,
// three unpadded base64url segments in canonical form, a header that is a
// JSON object whose alg is exactly "HS256" (else unsupported_scheme, as is
// a "crit" header or "b64": false: extensions this server does not
// implement), claims that decode, and a 32-byte signature. It returns
// Verified (meaning well-formed), UnsupportedScheme or MalformedToken.
func parseJWT(token string) (p parsedJWT, r Reason) {
	if len(token) > MaxTokenLength {
		return p, MalformedToken
	}
	h, rest, _ := strings.Cut(token, ".")
	c, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return p, MalformedToken
	}

	var small [256]byte
	hb := small[:]
	if n := decodedLen(len(h)); n > len(hb) {
		hb = make([]byte, n)
	}
	n, ok := b64Decode(hb, h)
	if !ok || n == 0 {
		return p, MalformedToken
	}
	if r := checkHeader(hb[:n]); r != Verified {
		return p, r
	}

	payload := make([]byte, decodedLen(len(c)))
	if n, ok = b64Decode(payload, c); !ok || !p.claims.decode(payload[:n]) {
		return parsedJWT{}, MalformedToken
	}
	if len(s) != sigB64Len {
		return parsedJWT{}, MalformedToken
	}
	if n, ok = b64Decode(p.sig[:], s); !ok || n != sha256.Size {
		return parsedJWT{}, MalformedToken
	}
	p.signingInput = token[:len(h)+1+len(c)]
	return p, Verified
}

// sigB64Len is the length of an HMAC-SHA256 in unpadded base64url.
const sigB64Len = (sha256.Size*8 + 5) / 6

// checkHeader reads a JOSE header: alg must be the string "HS256";
// "crit" (critical extensions, none of which this server implements) or
// "b64" other than true (RFC 7797's unencoded payload) are
// unsupported_scheme; a header that is not a JSON object, lacks alg, has
// a non-string alg or repeats alg, crit or b64 is malformed_token.
func checkHeader(b []byte) Reason {
	if !utf8.Valid(b) || !validJSON(b, maxJSONDepth) {
		return MalformedToken
	}
	rd, ok := newObjectReader(b)
	if !ok {
		return MalformedToken
	}
	var alg []byte
	var sawAlg, crit, sawB64, b64False bool
	for {
		rawKey, val, more := rd.next()
		if !more {
			break
		}
		key, ok := unquote(rawKey)
		if !ok {
			return MalformedToken
		}
		switch {
		case string(key) == "alg":
			if sawAlg {
				return MalformedToken
			}
			sawAlg = true
			if alg, ok = unquote(val); !ok {
				return MalformedToken // not a string
			}
		case string(key) == "crit":
			if crit {
				return MalformedToken
			}
			crit = true
		case string(key) == "b64":
			if sawB64 {
				return MalformedToken
			}
			sawB64, b64False = true, string(val) != "true"
		}
	}
	switch {
	case !sawAlg:
		return MalformedToken
	case string(alg) != jwtAlg, crit, b64False:
		return UnsupportedScheme
	}
	return Verified
}

// keysUnique reports whether the object obj has no two members with the
// same key (after unescaping) and every key decodes.
func keysUnique(obj []byte) bool {
	r, ok := newObjectReader(obj)
	if !ok {
		return false
	}
	var small [16][]byte
	keys := small[:0]
	var set map[string]struct{} // past len(small) keys
	for {
		rawKey, _, more := r.next()
		if !more {
			return true
		}
		k, ok := unquote(rawKey)
		if !ok {
			return false
		}
		if set != nil {
			if _, dup := set[string(k)]; dup {
				return false
			}
			set[string(k)] = struct{}{}
			continue
		}
		for _, x := range keys {
			if bytes.Equal(x, k) {
				return false
			}
		}
		keys = append(keys, k)
		if len(keys) == len(small) {
			set = make(map[string]struct{}, 2*len(small))
			for _, x := range keys {
				set[string(x)] = struct{}{}
			}
		}
	}
}

// b64Alphabet maps a base64url character to its value, 0xff for others.
var b64Alphabet = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(chars) {
		t[chars[i]] = byte(i)
	}
	return t
}()

func decodedLen(n int) int { return n * 6 / 8 }

// b64Decode decodes unpadded base64url s into dst, which must hold
// decodedLen(len(s)) bytes. It is stricter than encoding/base64, which
// skips '\r' and '\n': only the 64 URL-safe characters, no padding, and the
// unused low bits of the last character zero, so that each byte string
// has exactly one encoding and a token cannot be altered without changing
// what it decodes to.
func b64Decode(dst []byte, s string) (int, bool) {
	if len(s)%4 == 1 || len(dst) < decodedLen(len(s)) {
		return 0, false
	}
	n := 0
	for ; len(s) >= 4; s = s[4:] {
		a, b, c, d := b64Alphabet[s[0]], b64Alphabet[s[1]], b64Alphabet[s[2]], b64Alphabet[s[3]]
		if (a|b|c|d)&0xc0 != 0 { // 0xff: not in the alphabet
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(s) {
	case 2: // one byte, 4 unused bits
		a, b := b64Alphabet[s[0]], b64Alphabet[s[1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3: // two bytes, 2 unused bits
		a, b, c := b64Alphabet[s[0]], b64Alphabet[s[1]], b64Alphabet[s[2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return n, true
}

// verifyJWT fills res for a JWT-shaped token: its form (parseJWT), the
// keyring's maximum lifetime, its signature, then the library's time and
// subject rules.
func (kr *Keyring) verifyJWT(res *Result, userID, token string, now time.Time) {
	p, r := parseJWT(token)
	if r != Verified {
		res.Reason = r
		return
	}
	if kr.MaxLifetime > 0 && (!p.claims.hasExp || p.claims.exp.After(now.Add(kr.MaxLifetime+JWTLeeway))) {
		res.Reason = MalformedToken
		return
	}
	kr.match(res, p.signingInput, &p.sig, now)
	if res.Reason != Verified {
		return
	}
	res.Reason = jwtReason(p.claims.validate(userID, now))
	if res.Reason == Verified && p.claims.traits != nil {
		res.Traits = p.claims.traits
	}
}

// JWTClaims are the claims SignJWT puts in a token.
type JWTClaims struct {
	Subject   string          // the userId; required
	IssuedAt  time.Time       // zero: no iat
	NotBefore time.Time       // zero: no nbf
	ExpiresAt time.Time       // zero: no exp (refused where a maximum lifetime is set)
	Traits    json.RawMessage // a JSON object of signed traits, or nil
}

// SignJWT returns a compact HS256 JWT of c under secret, made by
// golang-jwt as any customer's backend would make one.
func SignJWT(secret Secret, c JWTClaims) (string, error) {
	if secret.IsZero() {
		return "", errors.New("identity: sign JWT: no secret")
	}
	if c.Subject == "" {
		return "", errors.New("identity: sign JWT: the subject (userId) is empty")
	}
	m := jwt.MapClaims{"sub": c.Subject}
	for name, t := range map[string]time.Time{"iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.ExpiresAt} {
		if !t.IsZero() {
			m[name] = jwt.NewNumericDate(t)
		}
	}
	if c.Traits != nil {
		if !json.Valid(c.Traits) || !bytes.HasPrefix(bytes.TrimLeft(c.Traits, " \t\r\n"), []byte("{")) || !keysUnique(c.Traits) {
			return "", errors.New("identity: sign JWT: traits must be a JSON object with distinct keys")
		}
		m["traits"] = c.Traits
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString([]byte(secret.reveal()))
	if err != nil {
		return "", fmt.Errorf("identity: sign JWT: %w", err)
	}
	return tok, nil
}

// JWTInfo is what a JWT says about itself, unverified: for the token
// checker to show next to the verdict. It holds no secret.
type JWTInfo struct {
	Alg       string
	Subject   string
	IssuedAt  time.Time // zero when absent, as are NotBefore and ExpiresAt
	NotBefore time.Time
	ExpiresAt time.Time
	Traits    json.RawMessage
}

// InspectJWT decodes token without verifying it. The Reason is Verified
// when the token is well-formed (its signature and times unchecked),
// otherwise UnsupportedScheme or MalformedToken as verification would
// report them; Alg is filled whenever the header decodes.
func InspectJWT(token string) (JWTInfo, Reason) {
	var info JWTInfo
	if SchemeOf(token) != SchemeJWT {
		return info, MalformedToken
	}
	if h, _, _ := strings.Cut(token, "."); len(h) <= MaxTokenLength {
		hb := make([]byte, decodedLen(len(h)))
		if n, ok := b64Decode(hb, h); ok && utf8.Valid(hb[:n]) {
			var hdr struct {
				Alg any `json:"alg"`
			}
			if json.Unmarshal(hb[:n], &hdr) == nil {
				info.Alg, _ = hdr.Alg.(string)
			}
		}
	}
	p, r := parseJWT(token)
	if r != Verified {
		return info, r
	}
	c := &p.claims
	info.Subject, info.Traits = string(c.sub), json.RawMessage(c.traits)
	if c.hasIat {
		info.IssuedAt = c.iat.Time
	}
	if c.hasNbf {
		info.NotBefore = c.nbf.Time
	}
	if c.hasExp {
		info.ExpiresAt = c.exp.Time
	}
	return info, Verified
}
