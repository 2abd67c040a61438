package ingest

import (
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/jsonx"
	"github.com/sendora/sendora/internal/store"
)

// Signed traits. A verified JWT may carry a "traits" claim: traits the
// customer's backend vouches for. They win over what the client sent:
//
//   - identify: the event's traits are the client's with each signed key
//     set to its signed value, and signed keys the client did not send
//     added, so the profile merge (and its provenance) records every
//     signed trait, as signed.
//   - track and page: the server stores their traits but never merges them
//     into a profile, so only the keys the client sent are overridden; a
//     signed trait is not added to events that did not carry it (the SDK
//     attaches the token, traits and all, to every event of the user).
//
// A key is matched by its text after unescaping ("pl\u0061n" is "plan"),
// and every client member with a signed key is replaced, so a client
// cannot slip a value past the override by repeating the key. Values are
// replaced whole at the top level, never merged: {"company": {...}} signed
// replaces the client's "company" entirely. The order of the client's
// members is kept; signed keys it did not send follow, in the token's
// order.
//
// hmac_v1 events, and JWTs without traits, never reach this: their traits
// are stored as sent, without being decoded.

// applySignedTraits returns the traits to store for an event of type typ
// whose client traits are client (nil when absent) and whose verified JWT
// signed the object signed, and the keys whose values came from signed,
// in the order they appear in the result. Both are valid JSON objects
// (validated by the decoder and by identity); the result is one too.
func applySignedTraits(typ string, client, signed []byte) ([]byte, []string) {
	identify := typ == "identify"
	if !identify && len(client) == 0 {
		return client, nil
	}
	var small [16]signedMember
	ms := small[:0]
	for m, _ := jsonx.NewMembers(signed); m.Next(); {
		ms = append(ms, signedMember{key: jsonx.Key(m.Key()), raw: m.Member()})
	}
	if len(ms) == 0 {
		return client, nil
	}
	if len(client) == 0 { // identify: the signed traits are the traits
		keys := make([]string, len(ms))
		for i := range ms {
			keys[i] = string(ms[i].key)
		}
		return append([]byte(nil), signed...), keys
	}
	// A map only where a linear search would cost more than building it.
	var index map[string]int
	if len(ms) > 8 {
		index = make(map[string]int, len(ms))
		for i := range ms {
			index[string(ms[i].key)] = i
		}
	}
	find := func(k []byte) int {
		if index != nil {
			if i, ok := index[string(k)]; ok {
				return i
			}
			return -1
		}
		for i := range ms {
			if string(ms[i].key) == string(k) {
				return i
			}
		}
		return -1
	}

	out := make([]byte, 1, len(client)+len(signed))
	out[0] = '{'
	keys := make([]string, 0, len(ms))
	for m, _ := jsonx.NewMembers(client); m.Next(); {
		i := find(jsonx.Key(m.Key()))
		switch {
		case i < 0:
			out = appendMember(out, m.Member())
		case !ms[i].used:
			ms[i].used = true
			out = appendMember(out, ms[i].raw)
			keys = append(keys, string(ms[i].key))
		}
		// else: the client repeated a signed key; that value is dropped
	}
	if identify {
		for i := range ms {
			if !ms[i].used {
				out = appendMember(out, ms[i].raw)
				keys = append(keys, string(ms[i].key))
			}
		}
	}
	if len(keys) == 0 {
		return client, nil // a track or page event without a signed key
	}
	return append(out, '}'), keys
}

// signedMember is one member of a JWT's traits claim.
type signedMember struct {
	key  []byte // unescaped
	raw  []byte // "key": value, as the token wrote it
	used bool
}

// appendMember appends one member to an object being written after its '{'.
func appendMember(out, member []byte) []byte {
	if len(out) > 1 {
		out = append(out, ',')
	}
	return append(out, member...)
}

// tokenUse is what the counters keep of an event's verification: the
// scheme, the secret that signed it, a verified JWT's lifetime class.
func tokenUse(res *identity.Result, at time.Time) store.TokenUse {
	if res.Scheme == identity.SchemeUnknown {
		return store.TokenUse{}
	}
	u := store.TokenUse{Scheme: res.Scheme.String(), KeyVersion: res.KeyVersion}
	if res.Reason == identity.Verified && res.Scheme == identity.SchemeJWT {
		u.Lifetime = identity.ClassOfLifetime(res.ExpiresAt, at)
	}
	return u
}
