package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Trait provenance: which event set each trait of a profile, and whether
// a less trusted event changed a trait a more trusted one had set (a
// poisoned profile).
//
// Every identify merges its traits into profiles.traits (RFC 7396, as
// before) and, in the same statement, records per top-level trait key an
// entry in profiles.provenance, a JSON object:
//
//	{"plan": {"at":1764000000000,"by":"m_1","v":"verified"},
//	 "mrr":  {"at":1764000060000,"by":"m_2","v":"missing_token","flagged":true,
//	          "was":{"at":1764000000000,"by":"m_1","v":"verified","value":"10"}},
//	 "role": {"at":1764000000000,"by":"m_1","v":"verified","removed":true}}
//
// An entry names the event that set the current value: its receive time
// (at, Unix ms), messageId (by) and verification (v: "verified" or the
// reason it would be refused); "signed" when the value came from a
// verified JWT's traits claim; "removed" when the event removed the key
// (a null in its traits). Its trust is 2 when signed, 1 when verified, 0
// otherwise (report-only).
//
// For each distinct top-level key k of an identify's traits, with o and n
// the key's value before and after the merge (either may be absent), e its
// entry before, r the event's trust for k, and base the trusted state e
// displaced (e's "was" when e is flagged, else e itself with the value o):
//
//   - If o and n differ (a value added, replaced or removed; nested objects
//     compare as a whole): the entry becomes this event's. It is flagged
//     when base's trust is above r, keeping base as "was" (so a second
//     untrusted change still points at the last trusted value). An
//     untrusted removal that is not flagged keeps no entry, so untrusted
//     events cannot grow provenance with keys they add and remove.
//   - If nothing changed: an event more trusted than e (at least verified)
//     takes the entry over (a verified confirmation of a report-only value
//     clears its flag); otherwise e stays. A null for an absent key never
//     creates an entry.
//
// So a flag stays until an event at least as trusted as the displaced one
// writes the key again. A trusted removal leaves a "removed" entry, so an
// untrusted event re-adding the key is flagged too. Values compare as
// minified JSON text: the same value sent in the same form is unchanged;
// 1.0 replacing 1 counts as a change (never a missed one). Keys absent from
// provenance hold values set before provenance was recorded
// (profiles.provenance is NULL for profiles untouched since).
//
// profiles.flagged counts the flagged entries: the marker "flagged":true
// can appear in the text only as an entry's field (trait keys map to
// objects, values in "was" are JSON strings), so the upsert counts it with
// length and replace, which both databases have.
//
// The rules are implemented twice: here in Go, registered as SQLite's
// profile_provenance function (it runs inside the group commit's statement,
// on the row SQLite has just read), and as the PL/pgSQL function of the same
// name in the PostgreSQL migration. Both produce the same text for the same
// input; provenance_test.go holds them to it.

// upsertProfileSQL merges traits into the profile with RFC 7396 JSON merge
// patch semantics (new keys are added, existing ones replaced, a null
// removes a key) and records the provenance of each trait the event wrote.
// json_patch is SQLite's own; the PostgreSQL migrations define json_patch
// and profile_provenance to behave the same. The merge is MATERIALIZED once
// and handed to profile_provenance, which compares each written key's
// value before and after it. On a conflict the SET reads the row as locked
// by the upsert, so concurrent instances never lose an update.
//
// $1 project, $2 userId, $3 traits, $4 verified, $5 receivedAt (ms),
// $6 messageId, $7 verification, $8 signed keys (a JSON array, or NULL).
const upsertProfileSQL = `
	WITH n AS MATERIALIZED (SELECT json_patch('{}', $3) AS t)
	INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at, provenance, flagged)
	SELECT $1, $2, n.t, $4, $5, profile_provenance(NULL, n.t, NULL, $3, $5, $6, $7, $8), 0 FROM n WHERE true
	ON CONFLICT (project_id, user_id) DO UPDATE SET (traits, provenance, flagged, last_verified, updated_at) = (
		WITH m AS MATERIALIZED (SELECT json_patch(profiles.traits, $3) AS t),
		q AS MATERIALIZED (SELECT m.t, profile_provenance(profiles.traits, m.t, profiles.provenance, $3, $5, $6, $7, $8) AS p FROM m)
		SELECT q.t, q.p, coalesce((length(q.p) - length(replace(q.p, '"flagged":true', ''))) / 14, 0), $4, $5 FROM q)`

// mergeProfiles merges the traits of events[i] for each i of identifies
// into their profiles, recording each trait's provenance, inside the group
// commit's transaction: no read in Go, one statement per identify.
func (s *Store) mergeProfiles(ctx context.Context, tx *sql.Tx, events []EventRow, identifies []int) error {
	profile := tx.StmtContext(ctx, s.upsertProfile)
	for _, i := range identifies {
		e := &events[i]
		traits := e.Traits
		if len(traits) == 0 {
			traits = []byte("{}")
		}
		var signed any // NULL
		if len(e.SignedTraits) > 0 && e.Verification == "verified" {
			b, err := json.Marshal(e.SignedTraits)
			if err != nil {
				return fmt.Errorf("merge profile: %w", err)
			}
			signed = string(b)
		}
		if _, err := profile.ExecContext(ctx, e.ProjectID, e.UserID, string(traits), e.Verification == "verified",
			ms(e.ReceivedAt), e.MessageID, e.Verification, signed); err != nil {
			return fmt.Errorf("merge profile: %w", err)
		}
	}
	return nil
}

// provenanceFlagMarker is the text that marks a flagged entry.
const provenanceFlagMarker = `"flagged":true`

// provenanceInput is one call of profile_provenance.
type provenanceInput struct {
	OldTraits    *string // NULL for a new profile
	NewTraits    string  // json_patch(old traits, patch)
	OldProv      *string // NULL before provenance was recorded
	Patch        string
	At           int64
	By           string
	Verification string
	Signed       *string // a JSON array of keys, or NULL
}

// profileProvenance computes a profile's new provenance text (nil for
// NULL) by the rules above.
func profileProvenance(in provenanceInput) *string {
	patchKeys, ok := objectKeys(in.Patch)
	if !ok || !isObject(in.NewTraits) {
		return in.OldProv
	}
	trust := 0
	var signed map[string]bool
	if in.Verification == "verified" {
		trust = 1
		if in.Signed != nil {
			var keys []string
			if json.Unmarshal([]byte(*in.Signed), &keys) == nil {
				signed = make(map[string]bool, len(keys))
				for _, k := range keys {
					signed[k] = true
				}
			}
		}
	}

	touched := make(map[string]*touchedKey, len(patchKeys))
	order := make([]*touchedKey, 0, len(patchKeys))
	for _, k := range patchKeys {
		if touched[k] == nil {
			t := &touchedKey{key: k}
			touched[k] = t
			order = append(order, t)
		}
	}
	if in.OldTraits != nil {
		eachMember(*in.OldTraits, func(key, _, val string) {
			if t := touched[key]; t != nil {
				t.o, t.hasO = val, true
			}
		})
	}
	eachMember(in.NewTraits, func(key, _, val string) {
		if t := touched[key]; t != nil {
			t.n, t.hasN = val, true
		}
	})
	ev := eventEntry{at: in.At, by: in.By, v: in.Verification}

	var b strings.Builder
	b.Grow(len(in.NewTraits)/2 + 64*len(order))
	b.WriteByte('{')
	first := true
	put := func(keyRaw, entry string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(keyRaw)
		b.WriteByte(':')
		b.WriteString(entry)
	}
	if in.OldProv != nil {
		eachMember(*in.OldProv, func(key, keyRaw, entry string) {
			t := touched[key]
			if t == nil {
				put(keyRaw, entry)
				return
			}
			t.inOld = true
			if next, keep := nextEntry(t, parseEntry(entry), rankFor(trust, signed, key), ev); keep {
				put(keyRaw, next)
			}
		})
	}
	for _, t := range order {
		if t.inOld {
			continue
		}
		if next, keep := nextEntry(t, nil, rankFor(trust, signed, t.key), ev); keep {
			put(quotePG(t.key), next)
		}
	}
	b.WriteByte('}')
	out := b.String()
	return &out
}

func rankFor(trust int, signed map[string]bool, key string) int {
	if trust == 1 && signed[key] {
		return 2
	}
	return trust
}

// touchedKey is a key the patch writes, with its values before and after.
type touchedKey struct {
	key        string
	o, n       string // raw JSON values
	hasO, hasN bool
	inOld      bool // has an entry in the old provenance
}

// eventEntry is the event writing the profile.
type eventEntry struct {
	at    int64
	by, v string
}

// provEntry is a parsed provenance entry. Its tokens are raw JSON text as the
// entry holds them, so a prior built from them reads as the entry did.
type provEntry struct {
	raw       string
	at, by, v string // raw tokens
	signed    bool
	flagged   bool
	was       string // raw "was" object when flagged
}

func parseEntry(raw string) *provEntry {
	e := &provEntry{raw: raw}
	eachMember(raw, func(key, _, val string) {
		switch key {
		case "at":
			e.at = val
		case "by":
			e.by = val
		case "v":
			e.v = val
		case "signed":
			e.signed = val == "true"
		case "flagged":
			e.flagged = val == "true"
		case "was":
			e.was = val
		}
	})
	return e
}

// rank is an entry's trust: 2 signed, 1 verified, 0 report-only.
func (e *provEntry) rank() int {
	switch {
	case e.signed:
		return 2
	case e.v == `"verified"`:
		return 1
	}
	return 0
}

// nextEntry applies the rules to one key: the key's new entry, or keep
// false for none.
func nextEntry(t *touchedKey, e *provEntry, r int, ev eventEntry) (string, bool) {
	eRank, baseRank := -1, -1
	if e != nil {
		eRank = e.rank()
		baseRank = eRank
		if e.flagged {
			baseRank = parseEntry(e.was).rank()
		}
	}
	changed := t.hasO != t.hasN || t.hasO && t.o != t.n && minifyJSON(t.o) != minifyJSON(t.n)
	was := ""
	if !changed {
		if e == nil && !t.hasN {
			return "", false
		}
		if r < 1 || r <= eRank { // e stays (or there is none)
			if e == nil {
				return "", false
			}
			return e.raw, true
		}
		if e != nil && e.flagged && baseRank > r {
			was = e.was
		}
	} else {
		switch {
		case baseRank > r && e.flagged:
			was = e.was
		case baseRank > r:
			was = priorOf(e, t)
		case !t.hasN && r == 0:
			return "", false
		}
	}
	var b strings.Builder
	b.WriteString(`{"at":`)
	b.WriteString(strconv.FormatInt(ev.at, 10))
	b.WriteString(`,"by":`)
	b.WriteString(quotePG(ev.by))
	b.WriteString(`,"v":`)
	b.WriteString(quotePG(ev.v))
	if r == 2 {
		b.WriteString(`,"signed":true`)
	}
	if !t.hasN {
		b.WriteString(`,"removed":true`)
	}
	if was != "" {
		b.WriteString(`,"flagged":true,"was":`)
		b.WriteString(was)
	}
	b.WriteByte('}')
	return b.String(), true
}

// priorOf is the trusted state an entry held: its event, and the value o
// (or "removed" when the key was absent).
func priorOf(e *provEntry, t *touchedKey) string {
	// An entry the store did not write (edited by hand) may lack a field
	// or hold another type: the prior then reads 0 or "" there, as on
	// PostgreSQL, and stays JSON.
	at, by, v := e.at, e.by, e.v
	if at == "" || at[0] != '-' && (at[0] < '0' || at[0] > '9') {
		at = "0"
	}
	if by == "" || by[0] != '"' {
		by = `""`
	}
	if v == "" || v[0] != '"' {
		v = `""`
	}
	var b strings.Builder
	b.WriteString(`{"at":`)
	b.WriteString(at)
	b.WriteString(`,"by":`)
	b.WriteString(by)
	b.WriteString(`,"v":`)
	b.WriteString(v)
	if e.signed {
		b.WriteString(`,"signed":true`)
	}
	if t.hasO {
		b.WriteString(`,"value":`)
		b.WriteString(quotePG(minifyJSON(t.o)))
	} else {
		b.WriteString(`,"removed":true`)
	}
	b.WriteByte('}')
	return b.String()
}
