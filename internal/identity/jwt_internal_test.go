package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// TestJWTReasonMapping: each error golang-jwt gives, produced by the
// library itself on a real token, maps to one reason in jwtReason.
func TestJWTReasonMapping(t *testing.T) {
	key := []byte("sis_t80oypZReuGs6fZ4PGdh3zC4E8UO49yIHkqr_h52fRI")
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	sign := func(alg jwt.SigningMethod, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(alg, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parse := func(token string, k []byte, opts ...jwt.ParserOption) error {
		opts = append([]jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(JWTLeeway),
			jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now })}, opts...)
		_, err := jwt.NewParser(opts...).ParseWithClaims(token, &jwtClaims{}, func(*jwt.Token) (any, error) { return k, nil })
		return err
	}
	validate := func(c jwtClaims, opts ...jwt.ParserOption) error {
		opts = append([]jwt.ParserOption{jwt.WithLeeway(JWTLeeway), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now })}, opts...)
		return jwt.NewValidator(opts...).Validate(&c)
	}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	unknownAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XY999"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u"}`)) + ".AAAA"
	for _, tt := range []struct {
		name string
		err  error
		want Reason
		is   error // the library's error the case stands for
	}{
		{"verified", parse(sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u"}), key), Verified, nil},
		{"alg the library does not know", parse(unknownAlg, key), UnsupportedScheme, jwt.ErrTokenUnverifiable},
		{"two segments", parse("a.b", key), MalformedToken, jwt.ErrTokenMalformed},
		{"claims that do not decode", parse(sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": 1}), key), MalformedToken, jwt.ErrTokenMalformed},
		{"exp required and missing", validate(jwtClaims{sub: []byte("u")}, jwt.WithExpirationRequired()), MalformedToken, jwt.ErrTokenRequiredClaimMissing},
		{"exp of the wrong type (MapClaims)", jwt.NewValidator().Validate(jwt.MapClaims{"exp": "soon"}), MalformedToken, jwt.ErrInvalidType},
		{"another key", parse(sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u"}), []byte("sis_other")), SignatureMismatch, jwt.ErrTokenSignatureInvalid},
		{"expired", validate(jwtClaims{sub: []byte("u"), exp: at(-2 * time.Minute), hasExp: true}), ExpiredToken, jwt.ErrTokenExpired},
		{"not valid yet", validate(jwtClaims{sub: []byte("u"), nbf: at(2 * time.Minute), hasNbf: true}), ExpiredToken, jwt.ErrTokenNotValidYet},
		{"issued in the future", validate(jwtClaims{sub: []byte("u"), iat: at(2 * time.Minute), hasIat: true}), ExpiredToken, jwt.ErrTokenUsedBeforeIssued},
		{"another subject", validate(jwtClaims{sub: []byte("u")}, jwt.WithSubject("v")), UserMismatch, jwt.ErrTokenInvalidSubject},
		{"expired and another subject: expired first", validate(jwtClaims{sub: []byte("u"), exp: at(-time.Hour), hasExp: true}, jwt.WithSubject("v")), ExpiredToken, jwt.ErrTokenInvalidSubject},
		{"an audience never asked for", validate(jwtClaims{sub: []byte("u")}, jwt.WithAudience("x")), MalformedToken, jwt.ErrTokenRequiredClaimMissing},
		{"an error the library may add", errors.New("something new"), MalformedToken, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.is != nil && !errors.Is(tt.err, tt.is) {
				t.Fatalf("the library said %v, not %v: the case does not test what it says", tt.err, tt.is)
			}
			if tt.want == Verified && tt.err != nil {
				t.Fatalf("the library said %v", tt.err)
			}
			if got := jwtReason(tt.err); got != tt.want {
				t.Errorf("jwtReason(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

// validJSON reports whether b is one JSON value with white space around
// it, nesting at most maxDepth arrays and objects: the validator on a
// whole text, to compare with json.Valid.
func validJSON(b []byte, maxDepth int) bool {
	v := jsonValidator{b: b}
	v.space()
	if !v.value(maxDepth) {
		return false
	}
	v.space()
	return v.i == len(b)
}

// scanMembers reads the object in b with objectScanner, as decodeClaims
// does: its members' decoded keys and raw values, or false.
func scanMembers(b []byte, depth int) (keys []string, vals []string, ok bool) {
	sc, ok := newObjectScanner(b)
	if !ok {
		return nil, nil, false
	}
	for {
		rawKey, done, ok := sc.key()
		if !ok {
			return nil, nil, false
		}
		if done {
			return keys, vals, sc.rest()
		}
		k, ok := unquote(rawKey)
		if !ok {
			return nil, nil, false
		}
		v, ok := sc.value(depth - 1)
		if !ok {
			return nil, nil, false
		}
		keys, vals = append(keys, string(k)), append(vals, string(v))
	}
}

// FuzzJSONScan holds the strict JSON readers to encoding/json: the
// validator agrees with json.Valid (within the depth bound); objectScanner
// accepts exactly the valid objects and sees the members json.Unmarshal
// sees; objectReader walks them alike; and unquote decodes strings as
// encoding/json does, except for what it refuses (escaped lone
// surrogates, which encoding/json turns into U+FFFD).
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"sub" : "u\u0041", "x":[1,{"y":"\"}"}], "n":-1.5e+3} `, `[]`, `"\ud800"`,
		`{"a":"\ud83c\udf89"}`, `{"a":tru}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`,
		`{"a" 1}`, `{,}`, `{"a":1,}`, `[1,]`, `nul`, `{"a":[[[[[]]]]]}`, `"\u00e9\/\b\f\n\r\t"`, "\xff", `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		depth := 0
		for _, c := range b {
			if c == '[' || c == '{' {
				depth++
			}
		}
		if got, want := validJSON(b, depth+1), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
		if depth > 0 && validJSON(b, 0) && json.Valid(b) && bytes.ContainsAny(bytes.TrimLeft(b, " \t\r\n")[:1], "[{") {
			t.Fatalf("validJSON(%q, 0) accepted a container", b)
		}
		if !json.Valid(b) || !utf8.Valid(b) {
			return
		}
		// strings
		var want string
		if trimmed := bytes.TrimSpace(b); json.Unmarshal(b, &want) == nil && trimmed[0] == '"' { // not null
			got, ok := unquote(trimmed)
			switch {
			case !ok && !bytes.Contains(trimmed, []byte(`\u`)):
				t.Fatalf("unquote(%q) refused what encoding/json reads as %q", trimmed, want)
			case ok && string(got) != want:
				t.Fatalf("unquote(%q) = %q, encoding/json says %q", trimmed, got, want)
			case ok && !utf8.Valid(got):
				t.Fatalf("unquote(%q) = %q: not UTF-8", trimmed, got)
			}
		}
		// objects: the members, in order, with exact keys
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(b, &m) == nil && m != nil
		keys, vals, scanned := scanMembers(b, depth+1)
		if scanned != isObject && !bytes.Contains(b, []byte(`\u`)) {
			t.Fatalf("objectScanner on %q: %v; encoding/json reads an object: %v", b, scanned, isObject)
		}
		if scanned {
			last := map[string]string{}
			for i, k := range keys {
				last[k] = vals[i]
			}
			for k, v := range m {
				if last[k] != string(v) {
					t.Fatalf("object %q: objectScanner reads member %q as %q, encoding/json %q", b, k, last[k], v)
				}
			}
		}
		if !isObject {
			return
		}
		r, ok := newObjectReader(b)
		if !ok {
			t.Fatalf("newObjectReader(%q) refused an object", b)
		}
		last := map[string]string{}
		for {
			key, val, more := r.next()
			if !more {
				break
			}
			k, ok := unquote(key)
			if !ok {
				if !bytes.Contains(key, []byte(`\u`)) {
					t.Fatalf("key %q of %q does not unquote", key, b)
				}
				return
			}
			if !json.Valid(val) {
				t.Fatalf("member %q of %q has value %q: not JSON", k, b, val)
			}
			last[string(k)] = string(val)
		}
		if len(last) != len(m) {
			t.Fatalf("object %q: the reader saw keys %v, encoding/json %d", b, last, len(m))
		}
		for k, v := range m {
			if last[k] != string(v) {
				t.Fatalf("object %q: member %q is %q, encoding/json says %q", b, k, last[k], v)
			}
		}
		if keysUnique(b) && len(m) != countMembers(b) {
			t.Fatalf("keysUnique(%q) but encoding/json merged keys", b)
		}
	})
}

func countMembers(b []byte) int {
	r, _ := newObjectReader(b)
	n := 0
	for {
		if _, _, more := r.next(); !more {
			return n
		}
		n++
	}
}

// TestJWTHeaderFastPath: the header segments parseJWT accepts by their
// text decode to headers checkHeader accepts.
func TestJWTHeaderFastPath(t *testing.T) {
	for seg, text := range map[string]string{headerHS256JWT: `{"alg":"HS256","typ":"JWT"}`, headerHS256: `{"alg":"HS256"}`} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil || string(b) != text {
			t.Errorf("%s decodes to %q, %v; want %s", seg, b, err, text)
		}
		if r := checkHeader(b); r != Verified {
			t.Errorf("checkHeader(%s) = %s", b, r)
		}
	}
}

// TestValidatorAtSecond: the validator kept per second gives the verdict
// a validator at the exact time would, around every boundary (exp, nbf
// and iat with the leeway, at fractions of a second on both sides).
func TestValidatorAtSecond(t *testing.T) {
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	claimsAt := base.Unix()
	for _, c := range []jwtClaims{
		{sub: []byte("u"), exp: claimsAt, hasExp: true},
		{sub: []byte("u"), nbf: claimsAt, hasNbf: true},
		{sub: []byte("u"), iat: claimsAt, hasIat: true},
	} {
		for off := -62 * time.Second; off <= 62*time.Second; off += 250 * time.Millisecond {
			for _, frac := range []time.Duration{0, time.Nanosecond, 999999999} {
				now := base.Add(off + frac)
				exact := jwt.NewValidator(jwt.WithLeeway(JWTLeeway), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now })).Validate(&c)
				if got, want := jwtReason(validatorAt(now).Validate(&c)), jwtReason(exact); got != want {
					t.Errorf("claims %+v at %v: %s, the exact time says %s", c, off+frac, got, want)
				}
			}
		}
	}
}

// TestNumericDateAsTheLibrary: numericDate reads a NumericDate to the
// second the library's own NumericDate does.
func TestNumericDateAsTheLibrary(t *testing.T) {
	for _, v := range []string{"0", "-0", "1", "1.5", "-1.5", "-0.5", "0.0000001", "1700000000.999999", "1764000000",
		"1e9", "1.8e9", "1E9", "2.5e-1", "253402300799", "-253402300799", "253402300798.75", "12345678901", "123456789012"} {
		got, ok := numericDate([]byte(v))
		var want jwt.NumericDate
		if err := json.Unmarshal([]byte(v), &want); err != nil || !ok || got != want.Unix() {
			t.Errorf("numericDate(%s) = %d, %v; the library reads %d (%v)", v, got, ok, want.Unix(), err)
		}
	}
	for _, v := range []string{`"1"`, "true", "null", "{}", "[]", "1e400", "253402300800", "-253402300800", "1e300", "9223372036854775808", ""} {
		if got, ok := numericDate([]byte(v)); ok {
			t.Errorf("numericDate(%s) = %d, want refused", v, got)
		}
	}
}
