package identity_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// FuzzJWT feeds VerifyToken arbitrary tokens, and a valid JWT for the
// userId edited by arbitrary byte operations (applyEdit), against the
// keyring of the hostile table (current, previous in its overlap,
// retired). Nothing may panic, and golang-jwt's Parser pinned to HS256
// (oracle) is held to the verdicts:
//   - verified here: the Parser verifies it too, under the current or the
//     previous secret, with sub exactly the userId; the traits returned
//     are a JSON object, the token's traits claim;
//   - verified by the Parser under the current secret: verified here, or
//     refused for its form (malformed_token, unsupported_scheme: this
//     reader is stricter, see the hostile table's rows), or expired_token
//     for an exp of 0, which the Parser's MapClaims reads as no exp;
//   - a JWT-shaped token over MaxTokenLength is malformed_token;
//   - Verify and VerifyToken agree, and traits come only with verified.
//
// The seed corpus is in testdata/fuzz/FuzzJWT (the hostile table's
// tokens); run with
//
//	go test -run '^$' -fuzz '^FuzzJWT$' -fuzztime 1m ./internal/identity/
func FuzzJWT(f *testing.F) {
	k := newJWTKeyrings(f)
	kr, now := k.full, t0
	valid := func(userID string) string {
		sub, _ := json.Marshal(userID)
		return rawJWT(hs256, `{"sub":`+string(sub)+`,"iat":`+unix(0)+`,"exp":`+unix(time.Hour)+`,"traits":{"plan":"startup"}}`, k.cur.Reveal())
	}
	f.Add("u_123", valid("u_123"), []byte{})
	f.Add("u_123", "", []byte{40, 0x41, 80, 0x90, 3, 0x5})

	f.Fuzz(func(t *testing.T, userID, token string, edit []byte) {
		check := func(tok string) {
			res := kr.VerifyToken(userID, tok, now)
			if r := kr.Verify(userID, tok, now); r != res.Reason {
				t.Fatalf("Verify = %s, VerifyToken = %s", r, res.Reason)
			}
			if res.Traits != nil && (res.Reason != identity.Verified || !json.Valid(res.Traits) || !bytes.HasPrefix(res.Traits, []byte("{"))) {
				t.Fatalf("VerifyToken(%q, %q) = %s with traits %q", userID, tok, res.Reason, res.Traits)
			}
			if userID == "" || tok == "" || identity.SchemeOf(tok) != identity.SchemeJWT {
				return
			}
			if len(tok) > identity.MaxTokenLength && res.Reason != identity.MalformedToken {
				t.Fatalf("a token of %d bytes: %s", len(tok), res.Reason)
			}
			claims, err := oracle(tok, userID, now, k.cur)
			if res.Reason == identity.Verified {
				if err != nil {
					claims, err = oracle(tok, userID, now, k.prev)
				}
				if err != nil {
					t.Fatalf("VerifyToken(%q, %q) verified; golang-jwt: %v", userID, tok, err)
				}
				if claims["sub"] != userID {
					t.Fatalf("VerifyToken(%q, %q) verified, but golang-jwt reads sub %q", userID, tok, claims["sub"])
				}
				want, _ := json.Marshal(claims["traits"])
				if has := claims["traits"] != nil; has != (res.Traits != nil) || has && !sameJSON(t, res.Traits, want) { // null is no traits
					t.Fatalf("VerifyToken(%q, %q) traits %s, golang-jwt reads %s", userID, tok, res.Traits, want)
				}
				return
			}
			if err == nil {
				switch {
				case res.Reason == identity.MalformedToken, res.Reason == identity.UnsupportedScheme:
				case res.Reason == identity.ExpiredToken && claims["exp"] == float64(0):
				default:
					t.Fatalf("VerifyToken(%q, %q) = %s, but golang-jwt verifies it", userID, tok, res.Reason)
				}
			}
		}
		check(token)
		check(applyEdit(valid(userID), edit))
	})
}
