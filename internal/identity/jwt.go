package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sendora/sendora/internal/jsonx"
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
//     its header map and claims decoding cost 12 µs or more a token here,
//     four times the budget (BenchmarkGolangJWTParse, docs/BENCHMARKS.md).
//  3. The time rules are the library's own: jwt.Validator with
//     WithLeeway(JWTLeeway) and WithIssuedAt validates the decoded
//     jwtClaims, and jwtReason maps its errors to reasons; then sub must
//     be exactly the userId.
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

// jwtClaims are the claims of an identity JWT, read by decodeClaims. It
// implements jwt.Claims (and json.Unmarshaler) so that the library's
// Parser can decode into it: the tests' oracle. Verification hands the
// library's Validator the jwtTimes alone.
type jwtClaims struct {
	sub []byte
	// exp, nbf and iat in whole seconds: the library truncates NumericDates
	// to seconds (jwt.TimePrecision), and numericDate floors them alike.
	exp, nbf, iat          int64
	hasExp, hasNbf, hasIat bool
	traits                 []byte // the raw object, nil when absent
}

// jwtTimes are a token's exp, nbf and iat as the library's Validator reads
// them. They are built from the seconds rather than copied from the
// claims: escape analysis does not tell a struct's fields apart, so handing
// a copy of the claims to the Validator (an interface: it escapes) would
// move the token's bytes, which the claims alias, to the heap.
type jwtTimes struct {
	exp, nbf, iat          jwt.NumericDate
	hasExp, hasNbf, hasIat bool
}

func (c *jwtClaims) times() jwtTimes {
	return jwtTimes{
		exp: jwt.NumericDate{Time: time.Unix(c.exp, 0)}, hasExp: c.hasExp,
		nbf: jwt.NumericDate{Time: time.Unix(c.nbf, 0)}, hasNbf: c.hasNbf,
		iat: jwt.NumericDate{Time: time.Unix(c.iat, 0)}, hasIat: c.hasIat,
	}
}

// Claim bits for duplicate detection.
const (
	claimSub = 1 << iota
	claimExp
	claimNbf
	claimIat
	claimTraits
)

// decodeClaims reads the claims from the decoded payload b, keeping
// slices of b. Keys are matched exactly (see jsonscan.go). It fails on anything but a JSON object in valid UTF-8 with a non-empty
// string "sub"; on a non-numeric or out-of-range exp, nbf or iat; on
// traits that are neither an object nor null (null is no traits), nest
// deeper than MaxTraitsDepth, repeat a key or hold a string that is no
// character string (an escaped lone surrogate) or holds U+0000, as an
// event's traits may not; and on any of these claims appearing twice.
//
// It returns the claims rather than filling a *jwtClaims, so that the
// claims, which alias b, can stay on the caller's stack with b.
func decodeClaims(b []byte) (c jwtClaims, ok bool) {
	if !utf8.Valid(b) {
		return c, false
	}
	sc, ok := newObjectScanner(b)
	if !ok {
		return c, false
	}
	seen := 0
	for {
		rawKey, done, ok := sc.key()
		if done || !ok {
			return c, ok && sc.rest() && seen&claimSub != 0
		}
		key, ok := unquote(rawKey)
		if !ok {
			return c, false
		}
		var bit int
		switch {
		case string(key) == "sub":
			bit = claimSub
		case string(key) == "exp":
			bit = claimExp
		case string(key) == "nbf":
			bit = claimNbf
		case string(key) == "iat":
			bit = claimIat
		case string(key) == "traits":
			bit = claimTraits
		}
		if seen&bit != 0 {
			return c, false
		}
		seen |= bit
		if bit == claimTraits {
			if c.traits, ok = scanTraits(&sc); !ok {
				return c, false
			}
			continue
		}
		val, ok := sc.value(maxJSONDepth - 1) // the claims object is level 1
		if !ok {
			return c, false
		}
		switch bit {
		case claimSub:
			if c.sub, ok = unquote(val); !ok || len(c.sub) == 0 {
				return c, false
			}
		case claimExp:
			c.exp, ok = numericDate(val)
			c.hasExp = true
		case claimNbf:
			c.nbf, ok = numericDate(val)
			c.hasNbf = true
		case claimIat:
			c.iat, ok = numericDate(val)
			c.hasIat = true
		}
		if !ok {
			return c, false
		}
	}
}

// scanTraits reads the traits claim's value at sc: an object nesting at
// most MaxTraitsDepth levels with each key once, returned raw; or null,
// which is no traits (nil), as an event's "traits": null is: signers
// serialise a nil map or None so. The keys are collected as the object is
// validated, in one pass.
func scanTraits(sc *objectScanner) ([]byte, bool) {
	v := &sc.v
	if v.literal("null") {
		return nil, true
	}
	start := v.i
	if !v.eat('{') {
		return nil, false
	}
	obj := objectScanner{v: jsonValidator{b: v.b, i: v.i}}
	var kb [128]byte
	var ke [keySetSmall]int32
	keys := keySet{buf: kb[:0], ends: ke[:0]}
	for {
		rawKey, done, ok := obj.key()
		if !ok {
			return nil, false
		}
		if done {
			break
		}
		k, ok := unquote(rawKey)
		if !ok {
			return nil, false
		}
		if _, ok := obj.value(MaxTraitsDepth - 1); !ok {
			return nil, false
		}
		keys = keys.add(k)
	}
	if !keys.unique() {
		return nil, false
	}
	v.i = obj.v.i
	raw := v.b[start:v.i]
	// The rules of an event's own traits, which the signed ones are
	// merged into: every string a character string (no escaped lone
	// surrogate) without U+0000, which no store keeps alike.
	if !jsonx.ValidText(raw) || jsonx.HasNUL(raw) {
		return nil, false
	}
	return raw, true
}

// UnmarshalJSON decodes claims as decodeClaims does, from a copy of b. It lets
// jwt.Parser decode into jwtClaims, which the tests use as the oracle.
func (c *jwtClaims) UnmarshalJSON(b []byte) error {
	var ok bool
	if *c, ok = decodeClaims(bytes.Clone(b)); !ok {
		return errBadClaims
	}
	return nil
}

var errBadClaims = errors.New("identity: claims are not a JSON object with a string sub, numeric times and object traits")

// numericDate reads a JWT NumericDate: a JSON number (not a string holding
// one, which encoding/json would accept into json.Number) of seconds
// within ±maxNumericDate, floored to whole seconds as the library
// truncates it.
func numericDate(val []byte) (int64, bool) {
	if len(val) == 0 || val[0] != '-' && (val[0] < '0' || val[0] > '9') {
		return 0, false
	}
	if len(val) <= 12 { // whole seconds, the common form: no float parsing
		var sec int64
		for _, d := range val {
			if d < '0' || d > '9' {
				sec = -1
				break
			}
			sec = sec*10 + int64(d-'0')
		}
		if sec >= 0 {
			return sec, sec <= maxNumericDate
		}
	}
	f, err := strconv.ParseFloat(string(val), 64)
	if err != nil || math.Abs(f) > maxNumericDate {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// The jwt.Claims methods. jwtTimes serves the Validator; jwtClaims serves
// the library's Parser, which the tests use as the oracle.
func (c *jwtTimes) GetExpirationTime() (*jwt.NumericDate, error) { return date(c.hasExp, &c.exp) }
func (c *jwtTimes) GetNotBefore() (*jwt.NumericDate, error)      { return date(c.hasNbf, &c.nbf) }
func (c *jwtTimes) GetIssuedAt() (*jwt.NumericDate, error)       { return date(c.hasIat, &c.iat) }
func (c *jwtTimes) GetIssuer() (string, error)                   { return "", nil }
func (c *jwtTimes) GetSubject() (string, error)                  { return "", nil }
func (c *jwtTimes) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func (c *jwtClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	t := c.times()
	return t.GetExpirationTime()
}

func (c *jwtClaims) GetNotBefore() (*jwt.NumericDate, error) {
	t := c.times()
	return t.GetNotBefore()
}

func (c *jwtClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	t := c.times()
	return t.GetIssuedAt()
}

func (c *jwtClaims) GetIssuer() (string, error)             { return "", nil }
func (c *jwtClaims) GetSubject() (string, error)            { return string(c.sub), nil }
func (c *jwtClaims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

func date(has bool, d *jwt.NumericDate) (*jwt.NumericDate, error) {
	if !has {
		return nil, nil
	}
	return d, nil
}

// validate applies the library's rules for exp, nbf and iat (with
// JWTLeeway) at time now, then checks that sub is exactly userID: the
// reason, in the contract's order (expired_token before user_mismatch).
func (c *jwtClaims) validate(userID string, now time.Time) Reason {
	times := c.times()
	if r := jwtReason(validatorAt(now).Validate(&times)); r != Verified {
		return r
	}
	if string(c.sub) != userID {
		return UserMismatch
	}
	return Verified
}

// validatorAt returns golang-jwt's Validator (JWTLeeway, iat checked) for
// the second now is in. Building one per token cost five allocations and
// a tenth of the budget, so one is kept per second: NumericDates are whole
// seconds (the library truncates them, numericDate too), and for a whole
// second t, now < t exactly when now's second < t, so the second gives
// the verdicts now would.
func validatorAt(now time.Time) *jwt.Validator {
	sec := now.Unix()
	if sv := validators.Load(); sv != nil && sv.sec == sec {
		return sv.v
	}
	at := time.Unix(sec, 0)
	v := jwt.NewValidator(jwt.WithLeeway(JWTLeeway), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return at }))
	validators.Store(&secondValidator{sec: sec, v: v})
	return v
}

type secondValidator struct {
	sec int64
	v   *jwt.Validator
}

var validators atomic.Pointer[secondValidator]

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
func parseJWT(token string, scratch []byte) (p parsedJWT, r Reason) {
	if len(token) > MaxTokenLength {
		return p, MalformedToken
	}
	h, rest, _ := strings.Cut(token, ".")
	c, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return p, MalformedToken
	}
	// The token's bytes (encoding/base64 decodes from []byte), then room
	// for the decoded claims: in scratch when they fit (the caller's stack),
	// else one allocation. The claims alias it.
	var buf []byte
	if need := len(token) + b64url.DecodedLen(len(c)); need <= len(scratch) {
		buf = scratch[:need]
	} else {
		buf = make([]byte, need)
	}
	copy(buf, token)
	hs, cs, ss := buf[:len(h)], buf[len(h)+1:len(h)+1+len(c)], buf[len(token)-len(s):len(token)]
	payload := buf[len(token):]

	// The headers the common libraries write are checked by their text,
	// which checkHeader would accept (TestJWTHeaderFastPath).
	if h != headerHS256JWT && h != headerHS256 {
		var small [256]byte
		hb := small[:]
		if n := b64url.DecodedLen(len(h)); n > len(hb) {
			hb = make([]byte, n)
		}
		n, ok := decodeSegment(hb, hs)
		if !ok || n == 0 {
			return p, MalformedToken
		}
		if r := checkHeader(hb[:n]); r != Verified {
			return p, r
		}
	}
	n, ok := decodeSegment(payload, cs)
	if !ok {
		return parsedJWT{}, MalformedToken
	}
	if p.claims, ok = decodeClaims(payload[:n]); !ok {
		return parsedJWT{}, MalformedToken
	}
	if len(ss) != sigB64Len {
		return parsedJWT{}, MalformedToken
	}
	if n, ok = decodeSegment(p.sig[:], ss); !ok || n != sha256.Size {
		return parsedJWT{}, MalformedToken
	}
	p.signingInput = token[:len(h)+1+len(c)]
	return p, Verified
}

// The header segments jsonwebtoken, golang-jwt and PyJWT write
// ({"alg":"HS256","typ":"JWT"}) and jose writes ({"alg":"HS256"}).
const (
	headerHS256JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
	headerHS256    = "eyJhbGciOiJIUzI1NiJ9"
)

// b64url decodes JWT segments: unpadded base64url, and strict, so the
// unused low bits of the last character must be zero and each byte string
// has exactly one encoding: a token cannot be altered without changing
// what it decodes to.
var b64url = base64.RawURLEncoding.Strict()

// decodeSegment decodes seg into dst. encoding/base64 skips '\r' and
// '\n' wherever they are; a token is one string, so they are refused.
func decodeSegment(dst, seg []byte) (int, bool) {
	if bytes.IndexByte(seg, '\n') >= 0 || bytes.IndexByte(seg, '\r') >= 0 {
		return 0, false
	}
	n, err := b64url.Decode(dst, seg)
	return n, err == nil
}

// sigB64Len is the length of an HMAC-SHA256 in unpadded base64url.
const sigB64Len = (sha256.Size*8 + 5) / 6

// checkHeader reads a JOSE header: alg must be the string "HS256";
// "crit" (critical extensions, none of which this server implements) or
// "b64" other than true (RFC 7797's unencoded payload) are
// unsupported_scheme; a header that is not a JSON object, lacks alg, has
// a non-string alg or repeats alg, crit or b64 is malformed_token.
func checkHeader(b []byte) Reason {
	if !utf8.Valid(b) {
		return MalformedToken
	}
	sc, ok := newObjectScanner(b)
	if !ok {
		return MalformedToken
	}
	var alg []byte
	var sawAlg, crit, sawB64, b64False bool
	for {
		rawKey, done, ok := sc.key()
		if !ok || done && !sc.rest() {
			return MalformedToken
		}
		if done {
			break
		}
		key, ok := unquote(rawKey)
		if !ok {
			return MalformedToken
		}
		val, ok := sc.value(maxJSONDepth - 1)
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

// keysUnique reports whether the object obj (already validated) has no
// two members with the same key, after unescaping, and every key decodes.
func keysUnique(obj []byte) bool {
	r, ok := newObjectReader(obj)
	if !ok {
		return false
	}
	var kb [128]byte
	var ke [keySetSmall]int32
	keys := keySet{buf: kb[:0], ends: ke[:0]}
	for {
		rawKey, _, more := r.next()
		if !more {
			return keys.unique()
		}
		k, ok := unquote(rawKey)
		if !ok {
			return false
		}
		keys = keys.add(k)
	}
}

// keySet collects an object's keys to find a repeated one. It allocates
// nothing for a few short keys and stays linear for many (a forged token
// can hold about a thousand within MaxTokenLength): the keys lie end to
// end in buf, key i ending at ends[i] (no pointers, so no write barriers
// while they are collected), then go into an open-addressing table of
// indexes hashed with hash/maphash. Callers start it on arrays of their
// own stack: keySet{buf: b[:0], ends: e[:0]} with b a [128]byte and e a
// [keySetSmall]int32; it is passed by value so that they stay there.
type keySet struct {
	buf  []byte
	ends []int32
}

// keySetSmall is how many keys are compared pairwise, with no table.
const keySetSmall = 16

func (s keySet) add(k []byte) keySet {
	s.buf = append(s.buf, k...)
	s.ends = append(s.ends, int32(len(s.buf)))
	return s
}

func (s keySet) key(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.buf[start:s.ends[i]]
}

// unique reports whether no key was added twice.
func (s keySet) unique() bool {
	n := len(s.ends)
	if n <= keySetSmall {
		for i := range n {
			for j := range i {
				if bytes.Equal(s.key(i), s.key(j)) {
					return false
				}
			}
		}
		return true
	}
	size := 1
	for size < 2*n {
		size <<= 1
	}
	table := make([]int32, size) // 1 + the index of the key in that slot
	mask := uint64(size - 1)
	for i := range n {
		k := s.key(i)
		for j := maphash.Bytes(keySeed, k) & mask; ; j = (j + 1) & mask {
			if table[j] == 0 {
				table[j] = int32(i + 1)
				break
			}
			if bytes.Equal(s.key(int(table[j]-1)), k) {
				return false
			}
		}
	}
	return true
}

var keySeed = maphash.MakeSeed()

// verifyJWT fills res for a JWT-shaped token: its form (parseJWT), the
// keyring's maximum lifetime, its signature, then the library's time and
// subject rules.
func (kr *Keyring) verifyJWT(res *Result, userID, token string, now time.Time) {
	var scratch [768]byte // a typical token and its claims
	p, r := parseJWT(token, scratch[:])
	if r != Verified {
		res.Reason = r
		return
	}
	if kr.MaxLifetime > 0 && (!p.claims.hasExp || exceedsLifetime(time.Unix(p.claims.exp, 0), now, kr.MaxLifetime)) {
		res.Reason = MalformedToken
		return
	}
	kr.match(res, p.signingInput, &p.sig, now)
	if res.Reason != Verified {
		return
	}
	res.Reason = p.claims.validate(userID, now)
	if res.Reason != Verified {
		return
	}
	if p.claims.traits != nil {
		res.Traits = bytes.Clone(p.claims.traits) // off the stack
	}
	if p.claims.hasExp {
		res.ExpiresAt = time.Unix(p.claims.exp, 0)
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
		if !json.Valid(c.Traits) || !bytes.HasPrefix(bytes.TrimLeft(c.Traits, " \t\r\n"), []byte("{")) || !keysUnique(c.Traits) ||
			!jsonx.ValidText(c.Traits) || jsonx.HasNUL(c.Traits) {
			return "", errors.New("identity: sign JWT: traits must be a JSON object with distinct keys, its strings valid Unicode without U+0000")
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
		hb := make([]byte, b64url.DecodedLen(len(h)))
		if n, ok := decodeSegment(hb, []byte(h)); ok && utf8.Valid(hb[:n]) {
			var hdr struct {
				Alg any `json:"alg"`
			}
			if json.Unmarshal(hb[:n], &hdr) == nil {
				info.Alg, _ = hdr.Alg.(string)
			}
		}
	}
	p, r := parseJWT(token, nil)
	if r != Verified {
		return info, r
	}
	c := &p.claims
	info.Subject, info.Traits = string(c.sub), json.RawMessage(bytes.Clone(c.traits))
	if c.hasIat {
		info.IssuedAt = time.Unix(c.iat, 0)
	}
	if c.hasNbf {
		info.NotBefore = time.Unix(c.nbf, 0)
	}
	if c.hasExp {
		info.ExpiresAt = time.Unix(c.exp, 0)
	}
	return info, Verified
}
