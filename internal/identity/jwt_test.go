package identity_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sendora/sendora/internal/identity"
)

// b64 is base64url without padding, as JWTs encode their segments.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawJWT builds a token from the header and claims exactly as written
// (duplicated keys, odd spacing and all) and signs it with HMAC-SHA256
// under key, independently of the code under test.
func rawJWT(header, claims, key string) string {
	return macJWT(sha256.New, header, claims, key)
}

func macJWT(h func() hash.Hash, header, claims, key string) string {
	input := b64(header) + "." + b64(claims)
	m := hmac.New(h, []byte(key))
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

// unix is t0 plus d in JWT seconds.
func unix(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }

// jwtKeyrings are the keyrings of the JWT tables: the same three secrets
// as the hmac_v1 tables, under each per-project setting.
type jwtKeyrings struct {
	cur, prev, retired, other identity.Secret
	until                     time.Time
	full, jwtOnly, maxLife    *identity.Keyring
	hmacOnly                  *identity.Keyring
	empty                     *identity.Keyring
}

func newJWTKeyrings(t testing.TB) jwtKeyrings {
	k := jwtKeyrings{
		cur: mustSecret(t, curValue), prev: mustSecret(t, prevValue),
		retired: mustSecret(t, retiredValue), other: mustSecret(t, otherValue),
		until: t0.Add(time.Hour),
	}
	keys := []key{
		{secret: k.cur, status: identity.StatusCurrent},
		{secret: k.prev, status: identity.StatusPrevious, until: k.until},
		{secret: k.retired, status: identity.StatusRetired},
	}
	k.full = newKeyring(t, true, keys...)
	k.jwtOnly = newKeyringWith(t, func(st *identity.State) { st.Schemes = identity.AcceptJWTOnly }, keys...)
	k.maxLife = newKeyringWith(t, func(st *identity.State) { st.MaxLifetime = time.Hour }, keys...)
	k.hmacOnly = newKeyringWith(t, func(st *identity.State) { st.Schemes = identity.AcceptHMACOnly }, keys...)
	k.empty = newKeyring(t, true)
	return k
}

// newKeyringWith is newKeyring with the State's settings changed by set.
func newKeyringWith(t testing.TB, set func(*identity.State), keys ...key) *identity.Keyring {
	t.Helper()
	sealer := identity.NewSealer(identity.NewMasterKey())
	st := identity.State{ProjectID: 7, Strict: true}
	for i, k := range keys {
		st.Keys = append(st.Keys, identity.SealedKey{
			Version: len(keys) - i, Status: k.status, Sealed: sealer.SealSecret(st.ProjectID, k.secret), ValidUntil: k.until,
		})
	}
	set(&st)
	kr, err := identity.NewKeyring(st, sealer)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

// jwtCase is one row of the JWT tables. stricter, when set, says why this
// server refuses a token that golang-jwt's own Parser (pinned to HS256,
// the oracle of TestJWTAgreesWithLibrary) would accept.
type jwtCase struct {
	name     string
	kr       *identity.Keyring
	userID   string
	token    string
	now      time.Time
	want     identity.Reason
	stricter string
}

// skipsNewlines: encoding/base64 skips '\r' and '\n', so golang-jwt
// accepts a token with line breaks anywhere in it; a token is one string.
const skipsNewlines = "golang-jwt decodes with encoding/base64, which skips line breaks"

// jwtCases is the hostile table: every reason, and the tricks played on
// JWT verifiers.
func jwtCases(t testing.TB) []jwtCase {
	k := newJWTKeyrings(t)
	cur, prev, retired, other := k.cur.Reveal(), k.prev.Reveal(), k.retired.Reveal(), k.other.Reveal()
	const user = "u_123"
	good := `{"sub":"u_123","iat":` + unix(0) + `,"exp":` + unix(time.Hour) + `}`
	valid := rawJWT(hs256, good, cur)
	input, sig, _ := strings.Cut(valid, ".")
	input2, sig, _ := strings.Cut(sig, ".")
	input += "." + input2
	withClaim := func(extra string) string { // good's claims plus more
		return rawJWT(hs256, strings.TrimSuffix(good, "}")+","+extra+"}", cur)
	}
	nested := func(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }
	// longToken pads an unknown claim so the token is exactly n bytes.
	longToken := func(n int) string {
		base := withClaim(`"pad":""`)
		pad := (n - len(base)) * 3 / 4
		for {
			tok := withClaim(`"pad":"` + strings.Repeat("x", pad) + `"`)
			switch {
			case len(tok) == n:
				return tok
			case len(tok) < n:
				pad++
			default:
				// base64 grows in steps of 4 for 3 bytes: trim via the
				// header's spacing instead.
				for sp := 0; sp < 4; sp++ {
					tok := rawJWT(`{"alg":"HS256"`+strings.Repeat(" ", sp)+`}`, strings.TrimSuffix(good, "}")+`,"pad":"`+strings.Repeat("x", pad-1)+`"}`, cur)
					if len(tok) == n {
						return tok
					}
				}
				pad--
				if pad < 0 {
					t.Fatalf("cannot make a token of %d bytes", n)
				}
			}
		}
	}
	lastFlipped := func(s string) string { // same 256 bits, non-zero unused bits
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(chars, s[len(s)-1])
		return s[:len(s)-1] + string(chars[i|1])
	}
	now := t0
	cs := []jwtCase{
		// verified
		{name: "minimal: alg and sub", kr: k.full, token: rawJWT(`{"alg":"HS256"}`, `{"sub":"u_123"}`, cur), want: identity.Verified},
		{name: "typ, iat, exp", token: valid, want: identity.Verified},
		{name: "previous secret inside its overlap", token: rawJWT(hs256, good, prev), want: identity.Verified},
		{name: "previous secret just before the overlap ends", token: rawJWT(hs256, good, prev), now: k.until.Add(-time.Second), want: identity.Verified},
		{name: "traits", token: withClaim(`"traits":{"plan":"startup","mrr":99}`), want: identity.Verified},
		{name: "traits null: no traits, as an event's", token: withClaim(`"traits":null`), want: identity.Verified},
		{name: "traits nest 32 levels", token: withClaim(`"traits":` + nested(32)), want: identity.Verified},
		{name: "pretty-printed header and claims", token: rawJWT("{\n  \"alg\": \"HS256\",\n  \"typ\": \"JWT\"\n}\n", "{\r\n\t\"sub\" : \"u_123\" ,\n\t\"exp\" : "+unix(time.Hour)+"\n}", cur), want: identity.Verified},
		{name: "escaped key: \\u0073ub is sub, as JSON.parse reads it", token: rawJWT(hs256, `{"\u0073ub":"u_123"}`, cur), want: identity.Verified},
		{name: "escaped sub value", token: rawJWT(hs256, `{"sub":"u\u005f123"}`, cur), want: identity.Verified},
		{name: "surrogate pair escape in sub", userID: "🎉", token: rawJWT(hs256, `{"sub":"\ud83c\udf89"}`, cur), want: identity.Verified},
		{name: "kid, jku, x5u are ignored: the keys are the project's", token: rawJWT(`{"alg":"HS256","kid":"../../../dev/null","jku":"https://attacker.example/jwks.json","x5u":"https://attacker.example/c.pem"}`, good, cur), want: identity.Verified},
		{name: "jwk in the header is ignored", token: rawJWT(`{"alg":"HS256","jwk":{"kty":"oct","k":"`+b64("attacker")+`"}}`, good, cur), want: identity.Verified},
		{name: "b64 true is the default", token: rawJWT(`{"alg":"HS256","b64":true}`, good, cur), want: identity.Verified},
		{name: "SUB beside sub: keys are exact, as in JavaScript", token: rawJWT(hs256, `{"sub":"u_123","SUB":"victim","Sub":"victim"}`, cur), want: identity.Verified},
		{name: "iss, aud, jti are not checked", token: withClaim(`"iss":"x","aud":["other"],"jti":"1"`), want: identity.Verified},
		{name: "fractional exp", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(time.Hour)+`.5}`, cur), want: identity.Verified},
		{name: "exp 59 s ago: inside the leeway", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-59*time.Second)+`}`, cur), want: identity.Verified},
		{name: "nbf 59 s ahead: inside the leeway", token: rawJWT(hs256, `{"sub":"u_123","nbf":`+unix(59*time.Second)+`}`, cur), want: identity.Verified},
		{name: "iat 59 s ahead: inside the leeway", token: rawJWT(hs256, `{"sub":"u_123","iat":`+unix(59*time.Second)+`}`, cur), want: identity.Verified},
		{name: "exp in year 9999", token: rawJWT(hs256, `{"sub":"u_123","exp":253402300799}`, cur), want: identity.Verified},
		{name: "exp as 1.7e9 in exponent form", token: rawJWT(hs256, `{"sub":"u_123","exp":1.8e9}`, cur), want: identity.Verified},
		{name: "exactly MaxTokenLength bytes", token: longToken(identity.MaxTokenLength), want: identity.Verified},
		{name: "max lifetime: exp 1 h ahead", kr: k.maxLife, token: valid, want: identity.Verified},
		{name: "max lifetime: exp 1 h 60 s ahead (leeway)", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(time.Hour+time.Minute)+`}`, cur), want: identity.Verified},
		{name: "jwt only: a JWT", kr: k.jwtOnly, token: valid, want: identity.Verified},
		{name: "hmac_v1 and jwt: an hmac_v1 token's MAC over a userId shaped like header.claims is that JWT's signature", token: input + "." + hmacV1Sig(k.cur, input), want: identity.Verified},
		{name: "unicode userId", userID: "ユーザー👩‍💻", token: rawJWT(hs256, `{"sub":"ユーザー👩‍💻"}`, cur), want: identity.Verified},
		{name: "userId of one space", userID: " ", token: rawJWT(hs256, `{"sub":" "}`, cur), want: identity.Verified},

		// no_secret, missing_token, missing_user_id
		{name: "empty token", token: "", want: identity.MissingToken},
		{name: "no secret", kr: k.empty, token: valid, want: identity.NoSecret},
		{name: "no secret, empty userId", kr: k.empty, userID: "-", token: valid, want: identity.NoSecret},
		{name: "empty userId", userID: "-", token: valid, want: identity.MissingUserID},
		{name: "empty userId, alg none", userID: "-", token: rawJWT(`{"alg":"none"}`, good, ""), want: identity.MissingUserID},

		// unsupported_scheme
		{name: "alg none, empty signature", token: b64(`{"alg":"none"}`) + "." + b64(good) + ".", want: identity.UnsupportedScheme},
		{name: "alg None", token: b64(`{"alg":"None"}`) + "." + b64(good) + ".", want: identity.UnsupportedScheme},
		{name: "alg NONE", token: b64(`{"alg":"NONE"}`) + "." + b64(good) + ".", want: identity.UnsupportedScheme},
		{name: "alg none with the right HMAC", token: rawJWT(`{"alg":"none"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "alg none, garbage claims: unsupported wins", token: b64(`{"alg":"none"}`) + ".!!!.", want: identity.UnsupportedScheme},
		{name: "alg empty", token: rawJWT(`{"alg":""}`, good, cur), want: identity.UnsupportedScheme},
		{name: "alg hs256 (case)", token: rawJWT(`{"alg":"hs256"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "alg HS256 with a space", token: rawJWT(`{"alg":"HS256 "}`, good, cur), want: identity.UnsupportedScheme},
		{name: "RS256, HMAC under the secret as its public key", token: rawJWT(`{"alg":"RS256"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "ES256, HMAC under the secret", token: rawJWT(`{"alg":"ES256"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "PS256", token: rawJWT(`{"alg":"PS256"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "EdDSA", token: rawJWT(`{"alg":"EdDSA"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "HS384 under the secret", token: macJWT(sha512.New384, `{"alg":"HS384"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "HS512 under the secret", token: macJWT(sha512.New, `{"alg":"HS512"}`, good, cur), want: identity.UnsupportedScheme},
		{name: "crit names an extension", token: rawJWT(`{"alg":"HS256","crit":["exp"],"exp":1}`, good, cur), want: identity.UnsupportedScheme, stricter: "RFC 7515 §4.1.11: a crit the verifier does not implement makes the JWS invalid; golang-jwt ignores crit"},
		{name: "b64 false (unencoded payload)", token: rawJWT(`{"alg":"HS256","b64":false,"crit":["b64"]}`, good, cur), want: identity.UnsupportedScheme, stricter: "RFC 7797 changes the signing input; golang-jwt does not implement it"},
		{name: "jwt only: an hmac_v1 token", kr: k.jwtOnly, token: identity.Sign(k.cur, user), want: identity.UnsupportedScheme},
		{name: "jwt only: a malformed hmac_v1 token", kr: k.jwtOnly, token: "hmac_v1:zz", want: identity.UnsupportedScheme},
		{name: "hmac_v1 only: a JWT", kr: k.hmacOnly, token: valid, want: identity.UnsupportedScheme, stricter: "the project accepts hmac_v1 tokens only"},
		{name: "hmac_v1 only: a malformed JWT", kr: k.hmacOnly, token: "a.b.c", want: identity.UnsupportedScheme},
		{name: "hmac_v1 only: a JWT over MaxTokenLength", kr: k.hmacOnly, token: longToken(identity.MaxTokenLength + 1), want: identity.UnsupportedScheme, stricter: "the project accepts hmac_v1 tokens only"},
		{name: "hmac_v1 only: an hmac_v1 token's MAC over header.claims as a JWT", kr: k.hmacOnly, token: input + "." + hmacV1Sig(k.cur, input), want: identity.UnsupportedScheme, stricter: "the project accepts hmac_v1 tokens only"},
		{name: "jwt: prefix", token: "jwt:" + valid, want: identity.UnsupportedScheme},
		{name: "Bearer: prefix", token: "Bearer:" + valid, want: identity.UnsupportedScheme},

		// malformed_token: the form
		{name: "two segments", token: input, want: identity.MalformedToken},
		{name: "four segments", token: valid + "." + sig, want: identity.MalformedToken},
		{name: "five segments (JWE)", token: b64(`{"alg":"dir","enc":"A256GCM"}`) + "..aaaa.bbbb.cccc", want: identity.MalformedToken},
		{name: "empty segments", token: "..", want: identity.MalformedToken},
		{name: "empty header", token: "." + b64(good) + "." + sig, want: identity.MalformedToken},
		{name: "empty claims", token: b64(hs256) + ".." + sig, want: identity.MalformedToken},
		{name: "empty signature", token: input + ".", want: identity.MalformedToken},
		{name: "signature one character short", token: input + "." + sig[:42], want: identity.MalformedToken},
		{name: "signature one character long", token: valid + "A", want: identity.MalformedToken},
		{name: "signature of 31 bytes", token: input + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 31)), want: identity.MalformedToken},
		{name: "signature with non-zero unused bits", token: input + "." + lastFlipped(sig), want: identity.MalformedToken, stricter: "one signature, one encoding: the same 256 bits written another way is not the token that was signed"},
		{name: "padding = on the signature", token: valid + "=", want: identity.MalformedToken},
		{name: "padding = on the header", token: base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256"} `)) + "." + b64(good) + "." + sig, want: identity.MalformedToken},
		{name: "standard base64 (+ and /)", token: strings.NewReplacer("-", "+", "_", "/").Replace(valid), want: identity.MalformedToken},
		{name: "leading space", token: " " + valid, want: identity.MalformedToken},
		{name: "trailing space", token: valid + " ", want: identity.MalformedToken},
		{name: "trailing newline", token: valid + "\n", want: identity.MalformedToken, stricter: skipsNewlines},
		{name: "newline inside a segment", token: valid[:10] + "\n" + valid[10:], want: identity.MalformedToken, stricter: skipsNewlines},
		{name: "CR LF inside the signature", token: valid[:len(valid)-5] + "\r\n" + valid[len(valid)-5:], want: identity.MalformedToken, stricter: skipsNewlines},
		{name: "space around a dot", token: strings.Replace(valid, ".", " .", 1), want: identity.MalformedToken},
		{name: "Bearer prefix", token: "Bearer " + valid, want: identity.MalformedToken},
		{name: "one byte over MaxTokenLength", token: longToken(identity.MaxTokenLength + 1), want: identity.MalformedToken, stricter: "MaxTokenLength"},
		{name: "a megabyte of dots and letters", token: strings.Repeat("a", 1<<20) + "..", want: identity.MalformedToken},

		// malformed_token: the header
		{name: "header not base64", token: "!!!." + b64(good) + "." + sig, want: identity.MalformedToken},
		{name: "header not JSON", token: rawJWT(`alg=HS256`, good, cur), want: identity.MalformedToken},
		{name: "header a JSON array", token: rawJWT(`["HS256"]`, good, cur), want: identity.MalformedToken},
		{name: "header a JSON string", token: rawJWT(`"HS256"`, good, cur), want: identity.MalformedToken},
		{name: "header without alg", token: rawJWT(`{"typ":"JWT"}`, good, cur), want: identity.MalformedToken},
		{name: "alg a number", token: rawJWT(`{"alg":256}`, good, cur), want: identity.MalformedToken},
		{name: "alg null", token: rawJWT(`{"alg":null}`, good, cur), want: identity.MalformedToken},
		{name: "alg an array", token: rawJWT(`{"alg":["HS256"]}`, good, cur), want: identity.MalformedToken},
		{name: "alg twice: HS256 then none", token: rawJWT(`{"alg":"HS256","alg":"none"}`, good, cur), want: identity.MalformedToken},
		{name: "alg twice: none then HS256", token: rawJWT(`{"alg":"none","alg":"HS256"}`, good, cur), want: identity.MalformedToken, stricter: "a duplicated name means different things to different parsers (RFC 7515 §4: MUST reject or use the last)"},
		{name: "alg twice, once escaped", token: rawJWT(`{"alg":"HS256","\u0061lg":"none"}`, good, cur), want: identity.MalformedToken},
		{name: "header with trailing garbage", token: rawJWT(`{"alg":"HS256"}x`, good, cur), want: identity.MalformedToken},
		{name: "header not UTF-8", token: rawJWT("{\"alg\":\"HS256\",\"x\":\"\xff\"}", good, cur), want: identity.MalformedToken, stricter: "JSON text is UTF-8 (RFC 8259 §8.1)"},

		// malformed_token: the claims
		{name: "claims not base64", token: b64(hs256) + ".!!!." + sig, want: identity.MalformedToken},
		{name: "claims not JSON", token: rawJWT(hs256, `sub=u_123`, cur), want: identity.MalformedToken},
		{name: "claims a JSON array", token: rawJWT(hs256, `[{"sub":"u_123"}]`, cur), want: identity.MalformedToken},
		{name: "claims null", token: rawJWT(hs256, `null`, cur), want: identity.MalformedToken},
		{name: "claims a number", token: rawJWT(hs256, `123`, cur), want: identity.MalformedToken},
		{name: "no sub", token: rawJWT(hs256, `{"exp":`+unix(time.Hour)+`}`, cur), want: identity.MalformedToken, stricter: "sub is required"},
		{name: "only Sub", token: rawJWT(hs256, `{"Sub":"u_123"}`, cur), want: identity.MalformedToken, stricter: "sub is required"},
		{name: "sub empty", token: rawJWT(hs256, `{"sub":""}`, cur), want: identity.MalformedToken},
		{name: "sub null", token: rawJWT(hs256, `{"sub":null}`, cur), want: identity.MalformedToken},
		{name: "sub a number", userID: "123", token: rawJWT(hs256, `{"sub":123}`, cur), want: identity.MalformedToken},
		{name: "sub true", userID: "true", token: rawJWT(hs256, `{"sub":true}`, cur), want: identity.MalformedToken},
		{name: "sub an array", token: rawJWT(hs256, `{"sub":["u_123"]}`, cur), want: identity.MalformedToken},
		{name: "sub an object", token: rawJWT(hs256, `{"sub":{"id":"u_123"}}`, cur), want: identity.MalformedToken},
		{name: "sub twice: mine then the victim's", userID: "victim", token: rawJWT(hs256, `{"sub":"u_123","sub":"victim"}`, cur), want: identity.MalformedToken, stricter: "duplicated claims: encoding/json and JSON.parse keep the last, a hand-built claims string may mean the first"},
		{name: "sub twice: the victim's then mine", token: rawJWT(hs256, `{"sub":"victim","sub":"u_123"}`, cur), want: identity.MalformedToken, stricter: "duplicated claims"},
		{name: "sub twice, once escaped", token: rawJWT(hs256, `{"sub":"u_123","s\u0075b":"u_123"}`, cur), want: identity.MalformedToken, stricter: "duplicated claims"},
		{name: "sub a lone surrogate", userID: "\ufffd", token: rawJWT(hs256, `{"sub":"\ud800"}`, cur), want: identity.MalformedToken, stricter: "\\ud800 names no character; encoding/json reads it as U+FFFD"},
		{name: "sub with a raw control character", token: rawJWT(hs256, "{\"sub\":\"u_\x01123\"}", cur), want: identity.MalformedToken},
		{name: "sub not UTF-8", userID: "u_\ufffd", token: rawJWT(hs256, "{\"sub\":\"u_\xff\"}", cur), want: identity.MalformedToken, stricter: "JSON text is UTF-8"},
		{name: "exp a string", token: rawJWT(hs256, `{"sub":"u_123","exp":"`+unix(time.Hour)+`"}`, cur), want: identity.MalformedToken},
		{name: "exp null", token: rawJWT(hs256, `{"sub":"u_123","exp":null}`, cur), want: identity.MalformedToken, stricter: "a NumericDate is a number"},
		{name: "exp true", token: rawJWT(hs256, `{"sub":"u_123","exp":true}`, cur), want: identity.MalformedToken},
		{name: "exp an object", token: rawJWT(hs256, `{"sub":"u_123","exp":{"$gt":0}}`, cur), want: identity.MalformedToken},
		{name: "exp 1e400 (beyond float64)", token: rawJWT(hs256, `{"sub":"u_123","exp":1e400}`, cur), want: identity.MalformedToken},
		{name: "exp 1e300", token: rawJWT(hs256, `{"sub":"u_123","exp":1e300}`, cur), want: identity.MalformedToken, stricter: "NumericDates past year 9999 would overflow time.Time"},
		{name: "exp after year 9999", token: rawJWT(hs256, `{"sub":"u_123","exp":253402300800}`, cur), want: identity.MalformedToken, stricter: "year 9999"},
		{name: "exp -1e300", token: rawJWT(hs256, `{"sub":"u_123","exp":-1e300}`, cur), want: identity.MalformedToken},
		{name: "exp 2^63", token: rawJWT(hs256, `{"sub":"u_123","exp":9223372036854775808}`, cur), want: identity.MalformedToken, stricter: "year 9999"},
		{name: "exp twice", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`,"exp":`+unix(time.Hour)+`}`, cur), want: identity.MalformedToken, stricter: "duplicated claims"},
		{name: "nbf a string", token: rawJWT(hs256, `{"sub":"u_123","nbf":"0"}`, cur), want: identity.MalformedToken},
		{name: "iat a string", token: rawJWT(hs256, `{"sub":"u_123","iat":"0"}`, cur), want: identity.MalformedToken},
		{name: "traits an array", token: withClaim(`"traits":["plan","startup"]`), want: identity.MalformedToken, stricter: "traits must be an object"},
		{name: "traits a string", token: withClaim(`"traits":"{\"plan\":\"startup\"}"`), want: identity.MalformedToken, stricter: "traits must be an object"},

		{name: "traits a number", token: withClaim(`"traits":1`), want: identity.MalformedToken, stricter: "traits must be an object"},
		{name: "traits twice", token: withClaim(`"traits":{"plan":"free"},"traits":{"plan":"enterprise"}`), want: identity.MalformedToken, stricter: "duplicated claims"},
		{name: "traits twice, once null", token: withClaim(`"traits":{"plan":"free"},"traits":null`), want: identity.MalformedToken, stricter: "duplicated claims"},
		{name: "a trait twice", token: withClaim(`"traits":{"plan":"free","plan":"enterprise"}`), want: identity.MalformedToken, stricter: "signed traits override the event's key by key: each key once"},
		{name: "a trait twice, once escaped", token: withClaim(`"traits":{"plan":"free","pl\u0061n":"enterprise"}`), want: identity.MalformedToken, stricter: "each trait once"},
		{name: "traits nest 33 levels", token: withClaim(`"traits":` + nested(33)), want: identity.MalformedToken, stricter: "MaxTraitsDepth, as an event's traits"},
		{name: "a trait value holding U+0000", token: withClaim(`"traits":{"plan":"a\u0000b"}`), want: identity.MalformedToken, stricter: "no U+0000, as in an event's traits: no store keeps it alike"},
		{name: "a nested trait key holding U+0000", token: withClaim(`"traits":{"a":{"\u0000":1}}`), want: identity.MalformedToken, stricter: "no U+0000, as in an event's traits"},
		{name: "a trait value with a lone surrogate", token: withClaim(`"traits":{"plan":"\ud800"}`), want: identity.MalformedToken, stricter: "strings are character strings, as in an event's traits"},
		{name: "a nested lone low surrogate", token: withClaim(`"traits":{"a":["\udc00"]}`), want: identity.MalformedToken, stricter: "strings are character strings, as in an event's traits"},
		{name: "an escaped backslash before u0000 is text", token: withClaim(`"traits":{"plan":"\\u0000"}`), want: identity.Verified},
		{name: "an unknown claim nests 40 levels", token: withClaim(`"x":` + nested(40)), want: identity.MalformedToken, stricter: "claims nest at most 33 levels"},
		{name: "claims with trailing garbage", token: rawJWT(hs256, good+"x", cur), want: identity.MalformedToken},
		{name: "claims with a raw control character", token: rawJWT(hs256, "{\"sub\":\"u_123\",\"x\":\"\x00\"}", cur), want: identity.MalformedToken},
		{name: "max lifetime: exp 1 h 61 s ahead", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(time.Hour+61*time.Second)+`}`, cur), want: identity.MalformedToken, stricter: "the project's maximum lifetime"},
		{name: "max lifetime: exp a year ahead", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(365*24*time.Hour)+`}`, cur), want: identity.MalformedToken, stricter: "the project's maximum lifetime"},
		{name: "max lifetime: no exp", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123"}`, cur), want: identity.MalformedToken, stricter: "a maximum lifetime requires exp"},
		{name: "max lifetime: forged with exp far ahead: malformed wins", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(48*time.Hour)+`}`, other), want: identity.MalformedToken},

		// rotated_secret
		{name: "retired secret", token: rawJWT(hs256, good, retired), want: identity.RotatedSecret},
		{name: "previous secret at the end of its overlap", token: rawJWT(hs256, good, prev), now: k.until, want: identity.RotatedSecret},
		{name: "retired secret, expired, another user: rotated wins", userID: "victim", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`}`, retired), want: identity.RotatedSecret},

		// signature_mismatch
		{name: "another secret", token: rawJWT(hs256, good, other), want: identity.SignatureMismatch},
		{name: "the secret without sis_", token: rawJWT(hs256, good, strings.TrimPrefix(cur, "sis_")), want: identity.SignatureMismatch},
		{name: "an empty key (kid pointing at /dev/null)", token: rawJWT(`{"alg":"HS256","kid":"../../../dev/null"}`, good, ""), want: identity.SignatureMismatch},
		{name: "signed with the key in its own jwk header", token: rawJWT(`{"alg":"HS256","jwk":{"kty":"oct","k":"`+b64("attacker")+`"}}`, good, "attacker"), want: identity.SignatureMismatch},
		{name: "signed with a key from its jku", token: rawJWT(`{"alg":"HS256","jku":"https://attacker.example/jwks.json","kid":"a"}`, good, "attacker-key-attacker-key-attacker-key"), want: identity.SignatureMismatch},
		{name: "signed with the secret's fingerprint", token: rawJWT(hs256, good, k.cur.Fingerprint()), want: identity.SignatureMismatch},
		{name: "claims swapped after signing", userID: "victim", token: b64(hs256) + "." + b64(`{"sub":"victim"}`) + "." + sig, want: identity.SignatureMismatch},
		{name: "header swapped after signing", token: b64(`{"alg":"HS256"}`) + "." + b64(good) + "." + sig, want: identity.SignatureMismatch},
		{name: "one signature bit flipped", token: input + "." + flipFirstChar(sig), want: identity.SignatureMismatch},
		{name: "all-zero signature", token: input + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)), want: identity.SignatureMismatch},
		{name: "the hmac_v1 MAC of the userId as a signature", token: input + "." + hmacV1Sig(k.cur, user), want: identity.SignatureMismatch},
		{name: "forged and expired: mismatch wins", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`}`, other), want: identity.SignatureMismatch},
		{name: "forged for another user: mismatch wins", userID: "victim", token: rawJWT(hs256, good, other), want: identity.SignatureMismatch},

		// expired_token
		{name: "exp 61 s ago", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-61*time.Second)+`}`, cur), want: identity.ExpiredToken},
		{name: "exp exactly 60 s ago", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-60*time.Second)+`}`, cur), want: identity.ExpiredToken},
		{name: "exp 0 (1970)", token: rawJWT(hs256, `{"sub":"u_123","exp":0}`, cur), want: identity.ExpiredToken, stricter: "golang-jwt's MapClaims reads an exp of 0 as no exp; it is 1970-01-01"},
		{name: "exp negative", token: rawJWT(hs256, `{"sub":"u_123","exp":-1}`, cur), want: identity.ExpiredToken},
		{name: "nbf 61 s ahead", token: rawJWT(hs256, `{"sub":"u_123","nbf":`+unix(61*time.Second)+`}`, cur), want: identity.ExpiredToken},
		{name: "iat 61 s ahead", token: rawJWT(hs256, `{"sub":"u_123","iat":`+unix(61*time.Second)+`}`, cur), want: identity.ExpiredToken},
		{name: "previous secret in its overlap, expired", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`}`, prev), want: identity.ExpiredToken},
		{name: "expired and another user: expired wins", userID: "victim", token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`}`, cur), want: identity.ExpiredToken},
		{name: "max lifetime: expired", kr: k.maxLife, token: rawJWT(hs256, `{"sub":"u_123","exp":`+unix(-time.Hour)+`}`, cur), want: identity.ExpiredToken},

		// user_mismatch
		{name: "another user's token", userID: "u_124", token: valid, want: identity.UserMismatch},
		{name: "userId differs in case", userID: "U_123", token: valid, want: identity.UserMismatch},
		{name: "userId with a trailing space", userID: "u_123 ", token: valid, want: identity.UserMismatch},
		{name: "sub with a trailing space", token: rawJWT(hs256, `{"sub":"u_123 "}`, cur), want: identity.UserMismatch},
		{name: "NFC userId, NFD sub", userID: "jos\u00e9", token: rawJWT(hs256, `{"sub":"jose\u0301"}`, cur), want: identity.UserMismatch},
		{name: "NFD userId, NFC sub", userID: "jose\u0301", token: rawJWT(hs256, `{"sub":"jos\u00e9"}`, cur), want: identity.UserMismatch},
		{name: "fullwidth digits", userID: "u_123", token: rawJWT(hs256, `{"sub":"u_１２３"}`, cur), want: identity.UserMismatch},
	}
	for i := range cs {
		c := &cs[i]
		if c.kr == nil {
			c.kr = k.full
		}
		if c.now.IsZero() {
			c.now = now
		}
		switch c.userID {
		case "":
			c.userID = user
		case "-":
			c.userID = ""
		}
	}
	return cs
}

func flipFirstChar(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func hmacV1Sig(s identity.Secret, userID string) string {
	m := hmac.New(sha256.New, []byte(s.Reveal()))
	m.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestJWTReasons runs the hostile table: every reason, in the contract's
// order of precedence, and the tricks played on JWT verifiers.
func TestJWTReasons(t *testing.T) {
	seen := map[identity.Reason]bool{}
	for _, c := range jwtCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := c.kr.VerifyToken(c.userID, c.token, c.now)
			if got.Reason != c.want {
				t.Errorf("VerifyToken(%q, %.80q) = %s, want %s", c.userID, c.token, got.Reason, c.want)
			}
			if r := c.kr.Verify(c.userID, c.token, c.now); r != got.Reason {
				t.Errorf("Verify = %s, VerifyToken = %s", r, got.Reason)
			}
			if got.Reason != identity.Verified && got.Traits != nil {
				t.Errorf("traits %s returned with %s", got.Traits, got.Reason)
			}
		})
		seen[c.want] = true
	}
	for _, r := range append([]identity.Reason{identity.Verified}, identity.Reasons...) {
		if !seen[r] {
			t.Errorf("no JWT case for %s", r)
		}
	}
}

// TestJWTResult checks what VerifyToken reports beside the reason: the
// scheme, the secret that signed, and the signed traits exactly as signed.
func TestJWTResult(t *testing.T) {
	k := newJWTKeyrings(t)
	const traits = `{ "plan" : "startup", "mrr": 99, "nested": {"a": [1, "\u00e9"]} }`
	claims := `{"sub":"u_1","exp":` + unix(time.Hour) + `,"traits":` + traits + `}`
	for _, tt := range []struct {
		name   string
		kr     *identity.Keyring
		token  string
		now    time.Time
		want   identity.Result
		traits string
	}{
		{"current", k.full, rawJWT(hs256, claims, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeJWT, KeyVersion: 3, KeyStatus: identity.StatusCurrent, ExpiresAt: t0.Add(time.Hour)}, traits},
		{"previous in overlap", k.full, rawJWT(hs256, claims, k.prev.Reveal()), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeJWT, KeyVersion: 2, KeyStatus: identity.StatusPrevious, ExpiresAt: t0.Add(time.Hour)}, traits},
		{"jwt in an hmac_v1-only project: neither signer nor traits", k.hmacOnly, rawJWT(hs256, claims, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.UnsupportedScheme, Scheme: identity.SchemeJWT}, ""},
		{"hmac_v1 in an hmac_v1-only project", k.hmacOnly, identity.Sign(k.cur, "u_1"), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeHMACv1, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"previous after overlap", k.full, rawJWT(hs256, `{"sub":"u_1"}`, k.prev.Reveal()), k.until,
			identity.Result{Reason: identity.RotatedSecret, Scheme: identity.SchemeJWT, KeyVersion: 2, KeyStatus: identity.StatusPrevious}, ""},
		{"retired", k.full, rawJWT(hs256, claims, k.retired.Reveal()), t0,
			identity.Result{Reason: identity.RotatedSecret, Scheme: identity.SchemeJWT, KeyVersion: 1, KeyStatus: identity.StatusRetired}, ""},
		{"expired: the signer is known, the traits are not given", k.full, rawJWT(hs256, `{"sub":"u_1","exp":0,"traits":{"plan":"x"}}`, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.ExpiredToken, Scheme: identity.SchemeJWT, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"user mismatch", k.full, rawJWT(hs256, `{"sub":"u_2","traits":{"plan":"x"}}`, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.UserMismatch, Scheme: identity.SchemeJWT, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"forged", k.full, rawJWT(hs256, claims, k.other.Reveal()), t0,
			identity.Result{Reason: identity.SignatureMismatch, Scheme: identity.SchemeJWT}, ""},
		{"no traits", k.full, rawJWT(hs256, `{"sub":"u_1"}`, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeJWT, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"traits null", k.full, rawJWT(hs256, `{"sub":"u_1","traits":null}`, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeJWT, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"alg none", k.full, b64(`{"alg":"none"}`) + "." + b64(claims) + ".", t0,
			identity.Result{Reason: identity.UnsupportedScheme, Scheme: identity.SchemeJWT}, ""},
		{"no secret: the scheme is still known", k.empty, rawJWT(hs256, claims, k.cur.Reveal()), t0,
			identity.Result{Reason: identity.NoSecret, Scheme: identity.SchemeJWT}, ""},
		{"hmac_v1, current", k.full, identity.Sign(k.cur, "u_1"), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeHMACv1, KeyVersion: 3, KeyStatus: identity.StatusCurrent}, ""},
		{"hmac_v1, previous", k.full, identity.Sign(k.prev, "u_1"), t0,
			identity.Result{Reason: identity.Verified, Scheme: identity.SchemeHMACv1, KeyVersion: 2, KeyStatus: identity.StatusPrevious}, ""},
		{"hmac_v1, retired", k.full, identity.Sign(k.retired, "u_1"), t0,
			identity.Result{Reason: identity.RotatedSecret, Scheme: identity.SchemeHMACv1, KeyVersion: 1, KeyStatus: identity.StatusRetired}, ""},
		{"hmac_v1 in a jwt-only project", k.jwtOnly, identity.Sign(k.cur, "u_1"), t0,
			identity.Result{Reason: identity.UnsupportedScheme, Scheme: identity.SchemeHMACv1}, ""},
		{"another scheme", k.full, "hmac_v2:00", t0,
			identity.Result{Reason: identity.UnsupportedScheme, Scheme: identity.SchemeUnknown}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.kr.VerifyToken("u_1", tt.token, tt.now)
			if string(got.Traits) != tt.traits {
				t.Errorf("Traits = %s, want %s", got.Traits, tt.traits)
			}
			got.Traits = nil
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("VerifyToken = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestJWTPrecedence combines every subset of the failure conditions a JWT
// can have and checks that the first in the contract's order wins.
func TestJWTPrecedence(t *testing.T) {
	k := newJWTKeyrings(t)
	const (
		noSecret = 1 << iota
		missingToken
		missingUser
		otherAlg
		badClaims
		rotated
		expired
		otherUser
		all = 1<<iota - 1
	)
	order := []struct {
		bit    int
		reason identity.Reason
	}{
		{noSecret, identity.NoSecret},
		{missingToken, identity.MissingToken},
		{missingUser, identity.MissingUserID},
		{otherAlg, identity.UnsupportedScheme},
		{badClaims, identity.MalformedToken},
		{rotated, identity.RotatedSecret},
		{expired, identity.ExpiredToken},
		{otherUser, identity.UserMismatch},
	}
	for set := 0; set <= all; set++ {
		kr := k.full
		if set&noSecret != 0 {
			kr = k.empty
		}
		user := "u_1"
		if set&missingUser != 0 {
			user = ""
		}
		header := hs256
		if set&otherAlg != 0 {
			header = `{"alg":"HS512"}`
		}
		sub, exp, traits := "u_1", unix(time.Hour), `{"plan":"startup"}`
		if set&otherUser != 0 {
			sub = "u_2"
		}
		if set&expired != 0 {
			exp = unix(-time.Hour)
		}
		if set&badClaims != 0 {
			traits = `["plan"]`
		}
		signer := k.cur
		if set&rotated != 0 {
			signer = k.retired
		}
		token := rawJWT(header, `{"sub":"`+sub+`","exp":`+exp+`,"traits":`+traits+`}`, signer.Reveal())
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
			t.Errorf("conditions %08b: Verify(%q, %q) = %s, want %s", set, user, token, got, want)
		}
	}
}

// oracle verifies token with golang-jwt's own Parser, pinned to HS256
// with the same leeway and rules, under one secret, decoding into
// MapClaims (exact keys, encoding/json's types): an implementation
// independent of this package's parser.
func oracle(token, userID string, now time.Time, secret identity.Secret) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithLeeway(identity.JWTLeeway),
		jwt.WithIssuedAt(),
		jwt.WithSubject(userID),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(secret.Reveal()), nil })
	return claims, err
}

// TestJWTAgreesWithLibrary holds every row of the hostile table signed
// under the current secret to golang-jwt's Parser: what verifies here
// verifies there, and what verifies there verifies here unless the row
// says why this server is stricter.
func TestJWTAgreesWithLibrary(t *testing.T) {
	k := newJWTKeyrings(t)
	for _, c := range jwtCases(t) {
		if c.want == identity.NoSecret || c.userID == "" || c.token == "" || identity.SchemeOf(c.token) != identity.SchemeJWT || c.now != t0 {
			continue
		}
		got := c.kr.Verify(c.userID, c.token, c.now)
		_, err := oracle(c.token, c.userID, c.now, k.cur)
		if err != nil { // the overlap's previous secret verifies too
			_, err = oracle(c.token, c.userID, c.now, k.prev)
		}
		switch {
		case got == identity.Verified && err != nil:
			t.Errorf("%s: verified here, golang-jwt says %v", c.name, err)
		case got != identity.Verified && err == nil && c.stricter == "":
			t.Errorf("%s: %s here, but golang-jwt verifies it and the row gives no reason to be stricter", c.name, got)
		case got == identity.Verified && c.stricter != "":
			t.Errorf("%s: marked stricter, yet verified here", c.name)
		}
	}
}

// TestSignJWT: SignJWT makes tokens that verify, carrying what was asked.
func TestSignJWT(t *testing.T) {
	k := newJWTKeyrings(t)
	tok, err := identity.SignJWT(k.cur, identity.JWTClaims{
		Subject: "ユーザー 1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Traits: []byte(`{"plan":"startup","mrr":99}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	res := k.full.VerifyToken("ユーザー 1", tok, t0)
	if res.Reason != identity.Verified || string(res.Traits) != `{"plan":"startup","mrr":99}` {
		t.Errorf("VerifyToken(SignJWT) = %+v", res)
	}
	if r := k.full.Verify("ユーザー 1", tok, t0.Add(time.Hour+time.Minute)); r != identity.ExpiredToken {
		t.Errorf("after exp + leeway: %s, want expired_token", r)
	}
	info, r := identity.InspectJWT(tok)
	if r != identity.Verified || info.Alg != "HS256" || info.Subject != "ユーザー 1" || !info.IssuedAt.Equal(t0) ||
		!info.ExpiresAt.Equal(t0.Add(time.Hour)) || !info.NotBefore.IsZero() || string(info.Traits) != `{"plan":"startup","mrr":99}` {
		t.Errorf("InspectJWT = %+v, %s", info, r)
	}
	if _, err := oracle(tok, "ユーザー 1", t0, k.cur); err != nil {
		t.Errorf("golang-jwt refuses SignJWT's token: %v", err)
	}
	for _, bad := range []identity.JWTClaims{
		{},
		{Subject: "u", Traits: []byte(`["plan"]`)},
		{Subject: "u", Traits: []byte(`{"a":1,"a":2}`)},
		{Subject: "u", Traits: []byte(`{"a":`)},
	} {
		if tok, err := identity.SignJWT(k.cur, bad); err == nil {
			t.Errorf("SignJWT(%+v) = %q, want an error", bad, tok)
		}
	}
	if _, err := identity.SignJWT(identity.Secret{}, identity.JWTClaims{Subject: "u"}); err == nil {
		t.Error("SignJWT without a secret succeeded")
	}
}

func TestInspectJWT(t *testing.T) {
	cur := mustSecret(t, curValue).Reveal()
	for _, tt := range []struct {
		token string
		alg   string
		want  identity.Reason
	}{
		{b64(`{"alg":"none"}`) + "." + b64(`{"sub":"u"}`) + ".", "none", identity.UnsupportedScheme},
		{rawJWT(`{"alg":"RS256"}`, `{"sub":"u"}`, cur), "RS256", identity.UnsupportedScheme},
		{rawJWT(hs256, `{"sub":1}`, cur), "HS256", identity.MalformedToken},
		{rawJWT(`{"alg":1}`, `{"sub":"u"}`, cur), "", identity.MalformedToken},
		{"hmac_v1:" + strings.Repeat("0", 64), "", identity.MalformedToken},
		{rawJWT(hs256, `{"sub":"u","nbf":5}`, cur), "HS256", identity.Verified},
	} {
		info, r := identity.InspectJWT(tt.token)
		if r != tt.want || info.Alg != tt.alg {
			t.Errorf("InspectJWT(%.60q) = alg %q, %s; want alg %q, %s", tt.token, info.Alg, r, tt.alg, tt.want)
		}
	}
}

func TestSchemeOf(t *testing.T) {
	for tok, want := range map[string]identity.Scheme{
		"":                   identity.SchemeUnknown,
		"hmac_v1:00":         identity.SchemeHMACv1,
		"hmac_v2:00":         identity.SchemeUnknown,
		"a.b.c":              identity.SchemeJWT,
		"..":                 identity.SchemeJWT,
		"a.b":                identity.SchemeUnknown,
		"a.b.c.d":            identity.SchemeUnknown,
		"jwt:a.b.c":          identity.SchemeUnknown,
		"garbage":            identity.SchemeUnknown,
		"hmac_v1:" + "a.b.c": identity.SchemeHMACv1,
	} {
		if got := identity.SchemeOf(tok); got != want {
			t.Errorf("SchemeOf(%q) = %s, want %s", tok, got, want)
		}
	}
	if identity.SchemeJWT.String() != "jwt" || identity.SchemeHMACv1.String() != "hmac_v1" || identity.SchemeUnknown.String() != "unknown" {
		t.Error("scheme names")
	}
}

func TestParseSchemePolicy(t *testing.T) {
	for in, want := range map[string]identity.SchemePolicy{
		"hmac_v1,jwt": identity.AcceptHMACAndJWT, "jwt,hmac_v1": identity.AcceptHMACAndJWT, " jwt , hmac_v1 ": identity.AcceptHMACAndJWT,
		"jwt": identity.AcceptJWTOnly, "hmac_v1": identity.AcceptHMACOnly, " hmac_v1": identity.AcceptHMACOnly,
	} {
		got, err := identity.ParseSchemePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseSchemePolicy(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, err := identity.ParseSchemePolicy(got.String()); err != nil || back != got {
			t.Errorf("ParseSchemePolicy(%q.String()) = %v, %v", in, back, err)
		}
	}
	for _, bad := range []string{"", "hmac_v1,hmac_v1", "jwt,jwt", "hmac_v1,jwt,jwt", "JWT", "HMAC_V1", "hmac_v1;jwt", "jwt,", ",", "none", "hmac_v2"} {
		if got, err := identity.ParseSchemePolicy(bad); err == nil {
			t.Errorf("ParseSchemePolicy(%q) = %v, want an error", bad, got)
		}
	}
	var zero identity.SchemePolicy
	if zero != identity.AcceptHMACAndJWT || !zero.Accepts(identity.SchemeHMACv1) || !zero.Accepts(identity.SchemeJWT) {
		t.Error("the zero policy is not the default: hmac_v1 and jwt")
	}
	if identity.AcceptJWTOnly.Accepts(identity.SchemeHMACv1) || !identity.AcceptJWTOnly.Accepts(identity.SchemeJWT) {
		t.Error("jwt only accepts hmac_v1 or refuses jwt")
	}
	if !identity.AcceptHMACOnly.Accepts(identity.SchemeHMACv1) || identity.AcceptHMACOnly.Accepts(identity.SchemeJWT) {
		t.Error("hmac_v1 only refuses hmac_v1 or accepts jwt")
	}
	for _, p := range identity.Policies {
		if p.Accepts(identity.SchemeUnknown) {
			t.Errorf("%s accepts tokens of no known scheme", p)
		}
	}
}

// TestJWTOneSignatureOneToken: no two different strings verify for one
// set of signed bytes; altering any single character of a verified token
// makes it fail.
func TestJWTOneSignatureOneToken(t *testing.T) {
	k := newJWTKeyrings(t)
	tok := rawJWT(hs256, `{"sub":"u_1","exp":`+unix(time.Hour)+`,"traits":{"plan":"startup"}}`, k.cur.Reveal())
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.= "
	for i := range len(tok) {
		for j := range len(alphabet) {
			if alphabet[j] == tok[i] {
				continue
			}
			mut := tok[:i] + string(alphabet[j]) + tok[i+1:]
			if r := k.full.Verify("u_1", mut, t0); r == identity.Verified {
				t.Fatalf("changing byte %d to %q still verifies: %s", i, alphabet[j], mut)
			}
		}
	}
}

func ExampleSignJWT() {
	secret, _ := identity.ParseSecret("sis_t80oypZReuGs6fZ4PGdh3zC4E8UO49yIHkqr_h52fRI")
	tok, _ := identity.SignJWT(secret, identity.JWTClaims{Subject: "u_123", Traits: []byte(`{"plan":"startup"}`)})
	fmt.Println(tok)
	// Output: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1XzEyMyIsInRyYWl0cyI6eyJwbGFuIjoic3RhcnR1cCJ9fQ.qMgkXgKpXW85e-loTgdDrhQBpbrm-Qt4QxwtvhB8CEk
}

// TestVerifyTokenAllocations: the hmac_v1 path of VerifyToken allocates
// nothing, as Verify did before JWTs; a verified JWT allocates a few small
// objects (the Validator's view of its times, the traits handed back).
func TestVerifyTokenAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so everything allocates")
	}
	k := newJWTKeyrings(t)
	hmacTok := identity.Sign(k.cur, "u_1")
	jwtTok := rawJWT(hs256, `{"sub":"u_1","iat":`+unix(0)+`,"exp":`+unix(time.Hour)+`,"traits":{"plan":"startup"}}`, k.cur.Reveal())
	for _, tt := range []struct {
		name  string
		token string
		max   float64
	}{
		{"hmac_v1, current", hmacTok, 0},
		{"hmac_v1, previous", identity.Sign(k.prev, "u_1"), 0},
		{"hmac_v1, forged", identity.Sign(k.other, "u_1"), 0},
		{"jwt, verified with traits", jwtTok, 4},
		{"jwt, forged", rawJWT(hs256, `{"sub":"u_1"}`, k.other.Reveal()), 1},
	} {
		allocs := testing.AllocsPerRun(1000, func() { k.full.VerifyToken("u_1", tt.token, t0) })
		if allocs > tt.max {
			t.Errorf("%s: %.1f allocations, want at most %.0f", tt.name, allocs, tt.max)
		}
	}
}
