package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// cmdSign prints the identity token a customer's backend would make for
// a userId: hmac_v1 by default, an HS256 JWT with --jwt. It is for trying
// things out and for support, never for production signing: the secret
// belongs on the backend.
func cmdSign(_ context.Context, e env, args []string) error {
	f := newFlags(e, "sign", "sign --user ID [--jwt [--ttl 1h] [--trait KEY=VALUE]...]   (secret from SENDORA_IDENTITY_SECRET)")
	user := f.fs.String("user", "", "the userId to sign, exactly as the SDK sends it")
	asJWT := f.bool("jwt", false, "print an HS256 JWT (sub, iat, exp and traits) instead of an hmac_v1 token")
	ttl := f.fs.Duration("ttl", time.Hour, "with --jwt: how long the token is valid; exp is now plus this")
	var traits traitList
	f.fs.Var(&traits, "trait", "with --jwt: a signed trait, KEY=VALUE for a string or KEY:=JSON for any JSON value (99, true, {...}); repeatable")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("sign", args, 0, ""); err != nil {
		return err
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case !set["user"]:
		return usagef("sign: --user is required")
	case !*asJWT && (set["ttl"] || set["trait"]):
		return usagef("sign: --ttl and --trait need --jwt")
	case *asJWT && *user == "":
		return usagef("sign: --jwt needs a non-empty --user (the sub claim)")
	case *ttl <= 0:
		return usagef("sign: --ttl must be positive, e.g. 15m or 1h")
	}
	raw := e.getenv("SENDORA_IDENTITY_SECRET")
	if raw == "" {
		return fmt.Errorf("sign: SENDORA_IDENTITY_SECRET is not set")
	}
	secret, err := identity.ParseSecret(raw)
	if err != nil {
		return fmt.Errorf("sign: SENDORA_IDENTITY_SECRET: %w", err)
	}
	if !*asJWT {
		fmt.Fprintln(e.stdout, identity.Sign(secret, *user))
		return nil
	}
	now := time.Now()
	tok, err := identity.SignJWT(secret, identity.JWTClaims{Subject: *user, IssuedAt: now, ExpiresAt: now.Add(*ttl), Traits: traits.object()})
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if len(tok) > identity.MaxTokenLength {
		return fmt.Errorf("sign: the token is %d bytes, over the %d the server accepts: sign fewer or shorter traits", len(tok), identity.MaxTokenLength)
	}
	fmt.Fprintln(e.stdout, tok)
	return nil
}

// traitList collects --trait flags in order, each a key and a JSON value.
type traitList struct {
	keys   []string
	values []json.RawMessage
}

func (l *traitList) String() string { return strings.Join(l.keys, ",") }

// Set reads KEY=VALUE (VALUE is a string) or KEY:=JSON, as httpie does.
func (l *traitList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE or KEY:=JSON, got %q", s)
	}
	var val json.RawMessage
	if key, isJSON := strings.CutSuffix(k, ":"); isJSON {
		k = key
		if !json.Valid([]byte(v)) {
			return fmt.Errorf("trait %q: %q is not JSON (a string is KEY=VALUE, or KEY:='\"quoted\"')", k, v)
		}
		val = json.RawMessage(v)
	} else {
		val, _ = json.Marshal(v)
	}
	if k == "" {
		return fmt.Errorf("want KEY=VALUE or KEY:=JSON with a non-empty KEY, got %q", s)
	}
	for _, have := range l.keys {
		if have == k {
			return fmt.Errorf("trait %q given twice", k)
		}
	}
	l.keys, l.values = append(l.keys, k), append(l.values, val)
	return nil
}

// object is the traits as a JSON object, in the order given; nil when none.
func (l *traitList) object() json.RawMessage {
	if len(l.keys) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range l.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(l.values[i])
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
