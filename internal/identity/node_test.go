package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sendora/sendora/internal/identity"
)

// signCase is one input of the reference Node signer and, after it ran,
// its token.
type signCase struct {
	Secret string `json:"secret"`
	UserID string `json:"userId"`
	Note   string `json:"note,omitempty"`
	Token  string `json:"token,omitempty"`
}

// TestSignNodeVectors compares Sign with tokens that the reference signer
// of DESIGN.md section 1 produced under node (testdata/node/sign.mjs; the
// file says how to regenerate). The userIds are decoded from JSON exactly as
// the ingestion API decodes an event's userId.
func TestSignNodeVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/sign_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []signCase
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatalf("sign_vectors.json: %v", err)
	}
	if len(vectors) < 100 {
		t.Fatalf("%d vectors, want the full set (at least 100)", len(vectors))
	}
	notes := map[string]bool{}
	for _, v := range vectors {
		notes[v.Note] = true
		secret := mustSecret(t, v.Secret)
		if got := identity.Sign(secret, v.UserID); got != v.Token {
			t.Errorf("%s: Sign(%q) = %s, node says %s", v.Note, v.UserID, got, v.Token)
			continue
		}
		if v.UserID == "" {
			continue // missing_user_id, whatever the token
		}
		kr := newKeyring(t, true, key{secret: secret, status: identity.StatusCurrent})
		if r := kr.Verify(v.UserID, v.Token, t0); r != identity.Verified {
			t.Errorf("%s: Verify(%q, node's token) = %s, want verified", v.Note, v.UserID, r)
		}
	}
	// The vectors must keep covering what customers send.
	for _, want := range []string{"ascii", "ZWJ emoji sequence", "several combining marks", "one space: looks empty", "tab only", "leading space", "trailing space", "no-break space only", "empty (the server reports missing_user_id, but it signs)"} {
		if !notes[want] {
			t.Errorf("no vector for %q", want)
		}
	}
}

// TestSignMatchesNode runs the reference signer under node, when node is on
// PATH, on fresh random secrets and userIds and compares every token.
func TestSignMatchesNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))

	cases := make([]signCase, 0, 600)
	for i := range cap(cases) {
		secret := identity.NewSecret().Reveal()
		if i%10 == 0 { // the shortest secrets ParseSecret accepts
			secret = secret[:len(identity.SecretPrefix)+32]
		}
		cases = append(cases, signCase{Secret: secret, UserID: randomUserID(rng)})
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/node/sign.mjs")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var signed []signCase
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatalf("node output: %v", err)
	}
	if len(signed) != len(cases) {
		t.Fatalf("node signed %d cases, want %d", len(signed), len(cases))
	}
	for i, c := range cases {
		if signed[i].UserID != c.UserID || signed[i].Secret != c.Secret {
			t.Fatalf("case %d came back as %q, want %q", i, signed[i].UserID, c.UserID)
		}
		if got := identity.Sign(mustSecret(t, c.Secret), c.UserID); got != signed[i].Token {
			t.Errorf("Sign(%q) = %s, node says %s", c.UserID, got, signed[i].Token)
		}
	}
}

// userIDRunes are the characters random userIds are drawn from: ASCII, white
// space and controls, combining marks, several scripts, astral emoji, joiners
// and selectors, and characters JSON encoders treat specially.
var userIDRunes = []rune("abcXYZ019_-@.+:/\\\"' \t\n\r\x00\x1f\x7f" +
	"\u0300\u0301\u0308\u0323\u036f" + // combining marks
	"éßİıЖжمשऄ日本語用户ユーザー한" +
	"\u00a0\u2007\u3000\u200b\u200d\ufe0f\ufeff\u2028\u2029\ufffd" +
	"🎉👩💻🏳🌈👍🏽😀𝄞𐍈")

func randomUserID(rng *rand.Rand) string {
	n := rng.IntN(40)
	if rng.IntN(50) == 0 {
		n = 2000 + rng.IntN(3000)
	}
	var b strings.Builder
	for range n {
		b.WriteRune(userIDRunes[rng.IntN(len(userIDRunes))])
	}
	s := b.String()
	if !utf8.ValidString(s) {
		panic("invalid UTF-8 userId")
	}
	return s
}
