package identity_test

import (
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// FuzzVerify feeds Verify arbitrary tokens, and the correct token edited by
// arbitrary byte operations (edit), for arbitrary userIds. Nothing may
// panic; a token verifies only if it is exactly the current or the
// in-overlap previous secret's token for that userId; rotated_secret only
// for exactly the retired secret's token; and the verdicts follow
// ParseToken (for tokens not shaped like a JWT) and the order of
// precedence.
//
// The seed corpus is in testdata/fuzz/FuzzVerify; run with
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 1m ./internal/identity/
func FuzzVerify(f *testing.F) {
	cur, prev, retired := mustSecret(f, curValue), mustSecret(f, prevValue), mustSecret(f, retiredValue)
	now := t0
	kr := newKeyring(f, true,
		key{secret: cur, status: identity.StatusCurrent},
		key{secret: prev, status: identity.StatusPrevious, until: now.Add(time.Hour)},
		key{secret: retired, status: identity.StatusRetired},
	)
	f.Add("u_123", identity.Sign(cur, "u_123"), []byte{})
	f.Add("u_123", "", []byte{5, 1})

	f.Fuzz(func(t *testing.T, userID, token string, edit []byte) {
		check := func(tok string) {
			r := kr.Verify(userID, tok, now)
			good := tok == identity.Sign(cur, userID) || tok == identity.Sign(prev, userID)
			switch {
			case tok == "":
				if r != identity.MissingToken {
					t.Fatalf("Verify(%q, %q) = %s, want missing_token", userID, tok, r)
				}
			case userID == "":
				if r != identity.MissingUserID {
					t.Fatalf("Verify(%q, %q) = %s, want missing_user_id", userID, tok, r)
				}
			case (r == identity.Verified) != good:
				t.Fatalf("Verify(%q, %q) = %s; the correct tokens are %s and %s", userID, tok, r, identity.Sign(cur, userID), identity.Sign(prev, userID))
			case r == identity.RotatedSecret && tok != identity.Sign(retired, userID):
				t.Fatalf("Verify(%q, %q) = rotated_secret for a token no retired secret made", userID, tok)
			}
			// ParseToken reads hmac_v1 tokens; JWT-shaped ones have their
			// own reader (FuzzJWT).
			if _, pr := identity.ParseToken(tok); tok != "" && userID != "" && pr != identity.Verified && r != pr && identity.SchemeOf(tok) != identity.SchemeJWT {
				t.Fatalf("Verify(%q, %q) = %s, but ParseToken says %s", userID, tok, r, pr)
			}
		}
		check(token)
		check(applyEdit(identity.Sign(cur, userID), edit))
	})
}

// applyEdit changes s by the operations edit encodes, two bytes each: a
// position, then an operation in the top two bits and an operand in the
// rest: XOR a byte, delete it, insert one, or flip its letter case.
func applyEdit(s string, edit []byte) string {
	b := []byte(s)
	for i := 0; i+1 < len(edit); i += 2 {
		pos := int(edit[i]) % (len(b) + 1)
		operand := edit[i+1] & 0x3f
		switch op := edit[i+1] >> 6; {
		case op == 2:
			b = append(b[:pos], append([]byte{0x20 + operand}, b[pos:]...)...)
		case pos == len(b):
			continue
		case op == 0:
			b[pos] ^= operand
		case op == 1:
			b = append(b[:pos], b[pos+1:]...)
		case op == 3:
			b[pos] ^= 0x20
		}
	}
	return string(b)
}
