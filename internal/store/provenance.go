package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sendora/sendora/internal/jsonx"
)

// Trait provenance: which event set each trait of a profile, and whether
// a less trusted event changed a trait a more trusted one had set (a
// poisoned profile).
//
// Every identify merges its traits into profiles.traits (RFC 7396) and, in
// the same statement, records per top-level trait key an
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
// objects, values in "was" are JSON strings), so the statement that writes
// it counts it with length and replace, which both databases have.
//
// The rules are implemented twice: here in Go, registered as SQLite's
// profile_provenance function (it runs inside the group commit's statement,
// on the row SQLite has just read), and as the PL/pgSQL function of the same
// name in the PostgreSQL migrations (a loop for the usual identify, 00007;
// set operations for large ones, 00006). All produce the same text for the
// same input; provenance_test.go holds them to it.

// updateProfileSQL merges traits into an existing profile with RFC 7396
// JSON merge patch semantics (new keys are added, existing ones replaced, a
// null removes a key) and records the provenance of each trait the event
// wrote. json_patch is SQLite's own; the PostgreSQL migrations define
// json_patch and profile_provenance to behave the same. The merge is
// handed to profile_provenance, which compares each written key's value
// before and after it. It reads the row it updates as locked by the
// update, so concurrent instances never lose an update.
//
// $1 project, $2 userId, $3 traits, $4 verified, $5 receivedAt (ms),
// $6 messageId, $7 verification, $8 signed keys (a JSON array, or NULL),
// $9 the signed keys whose values are objects, each set to null (a JSON
// object, or NULL): applied first, so a signed object replaces the
// profile's value whole instead of merging into it (RFC 7396 merges
// objects), and no key an earlier, less trusted event put inside it stays
// under a trait recorded as signed.
const updateProfileSQL = `UPDATE profiles SET ` + mergeSetSQL + ` WHERE project_id = $1 AND user_id = $2`

// upsertProfileSQL creates the profile, or, when another transaction (an
// instance on the same PostgreSQL) created it since the update found
// nothing, merges into it as updateProfileSQL does. Same arguments.
const upsertProfileSQL = `
	INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at, provenance, flagged)
	SELECT $1, $2, n.t, $4, $5, profile_provenance(NULL, n.t, NULL, $3, $5, $6, $7, $8), 0 FROM (
		SELECT json_patch('{}', $3) AS t LIMIT 1) AS n WHERE true
	ON CONFLICT (project_id, user_id) DO UPDATE SET ` + mergeSetSQL

// mergeSetSQL sets the merged traits, the provenance and its flag count from
// the profile's row and the arguments. The merge and the provenance are
// each computed once (the LIMITs keep both databases from inlining the
// subqueries, which would repeat their functions per reference).
const mergeSetSQL = `(traits, provenance, flagged, last_verified, updated_at) = (
		SELECT q.t, q.p, coalesce((length(q.p) - length(replace(q.p, '"flagged":true', ''))) / 14, 0),
			CAST($4 AS BOOLEAN), CAST($5 AS BIGINT) FROM (
			SELECT m.t, profile_provenance(profiles.traits, m.t, profiles.provenance, $3, $5, $6, $7, $8) AS p FROM (
				SELECT json_patch(CASE WHEN CAST($9 AS TEXT) IS NULL THEN profiles.traits ELSE json_patch(profiles.traits, $9) END, $3) AS t
				LIMIT 1) AS m LIMIT 1) AS q)`

// mergeProfiles merges the traits of events[i] for each i of identifies
// into their profiles, recording each trait's provenance, inside the group
// commit's transaction: no read in Go. An identify of an existing profile
// is one UPDATE; one that finds no profile creates it with the upsert (the
// update's row count says which, and the upsert still merges if another
// instance created it in between).
func (s *Store) mergeProfiles(ctx context.Context, tx *sql.Tx, events []EventRow, identifies []int) error {
	update := tx.StmtContext(ctx, s.updateProfile)
	var upsert *sql.Stmt
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
		args := []any{e.ProjectID, e.UserID, string(traits), e.Verification == "verified", ms(e.ReceivedAt), e.MessageID, e.Verification, signed,
			signedObjectsReset(e)}
		res, err := update.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("merge profile: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("merge profile: %w", err)
		} else if n > 0 {
			continue
		}
		if upsert == nil {
			upsert = tx.StmtContext(ctx, s.upsertProfile)
		}
		if _, err := upsert.ExecContext(ctx, args...); err != nil {
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
// NULL) by the rules above. It runs once per identify on the writer, so it
// reads the JSON texts in place and writes the result in one buffer.
func profileProvenance(in provenanceInput) *string {
	if !isObject(in.Patch) || !isObject(in.NewTraits) {
		return in.OldProv
	}
	ks := touchedKeys{list: make([]touchedKey, 0, 8)}
	eachMember(in.Patch, func(key, _, _ string) {
		if ks.find(key) < 0 {
			ks.add(key)
		}
	})
	if in.OldTraits != nil {
		eachMember(*in.OldTraits, func(key, _, val string) {
			if i := ks.find(key); i >= 0 {
				ks.list[i].o, ks.list[i].hasO = val, true
			}
		})
	}
	eachMember(in.NewTraits, func(key, _, val string) {
		if i := ks.find(key); i >= 0 {
			ks.list[i].n, ks.list[i].hasN = val, true
		}
	})
	trust := 0
	if in.Verification == "verified" {
		trust = 1
		var signed []string
		if in.Signed != nil && json.Unmarshal([]byte(*in.Signed), &signed) == nil {
			for _, k := range signed {
				if i := ks.find(k); i >= 0 {
					ks.list[i].signed = true
				}
			}
		}
	}
	ev := eventEntry{at: strconv.FormatInt(in.At, 10), by: quotePG(in.By), v: quotePG(in.Verification)}

	var b strings.Builder
	size := 2 + len(ks.list)*(len(ev.at)+len(ev.by)+len(ev.v)+40)
	if in.OldProv != nil {
		size += len(*in.OldProv)
	}
	b.Grow(size)
	b.WriteByte('{')
	first := true
	put := func(keyRaw, entry string, t *touchedKey) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(keyRaw)
		b.WriteByte(':')
		if t == nil {
			b.WriteString(entry)
		} else {
			writeEntry(&b, t, ev)
		}
	}
	if in.OldProv != nil {
		eachMember(*in.OldProv, func(key, keyRaw, raw string) {
			i := ks.find(key)
			if i < 0 {
				put(keyRaw, raw, nil)
				return
			}
			t := &ks.list[i]
			t.inOld = true
			e := parseEntry(raw)
			switch decide(t, &e, trust) {
			case keepEntry:
				put(keyRaw, raw, nil)
			case newEntry:
				put(keyRaw, "", t)
			}
		})
	}
	for i := range ks.list {
		if t := &ks.list[i]; !t.inOld && decide(t, nil, trust) == newEntry {
			put(quotePG(t.key), "", t)
		}
	}
	b.WriteByte('}')
	out := b.String()
	return &out
}

// touchedKeys are the distinct keys a patch writes, in the order it first
// names them: searched linearly while few (an identify's usual handful),
// through a map past that.
type touchedKeys struct {
	list  []touchedKey
	index map[string]int
}

func (ks *touchedKeys) find(key string) int {
	if ks.index != nil {
		if i, ok := ks.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range ks.list {
		if ks.list[i].key == key {
			return i
		}
	}
	return -1
}

func (ks *touchedKeys) add(key string) {
	ks.list = append(ks.list, touchedKey{key: key})
	switch n := len(ks.list); {
	case n > 16 && ks.index == nil:
		ks.index = make(map[string]int, 2*n)
		for i := range ks.list {
			ks.index[ks.list[i].key] = i
		}
	case ks.index != nil:
		ks.index[key] = n - 1
	}
}

// touchedKey is a key the patch writes, with its values before and after.
type touchedKey struct {
	key        string
	o, n       string // raw JSON values
	hasO, hasN bool
	signed     bool   // the event's verified JWT signed it
	inOld      bool   // has an entry in the old provenance
	r          int    // the event's trust for it (decide)
	was        string // the prior its new entry keeps, if flagged (decide)
}

// eventEntry is the event writing the profile, its fields as JSON tokens.
type eventEntry struct {
	at, by, v string
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

func parseEntry(raw string) provEntry {
	e := provEntry{raw: raw}
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

// What becomes of a written key's entry.
const (
	noEntry   = iota // none (or none any more)
	keepEntry        // the old one stays
	newEntry         // the event's, written by writeEntry
)

// decide applies the rules to one key: e is its entry (nil when none). For
// a new entry it leaves in t the event's trust for the key and the prior a
// flag keeps.
func decide(t *touchedKey, e *provEntry, trust int) int {
	r := trust
	if trust == 1 && t.signed {
		r = 2
	}
	t.r = r
	eRank, baseRank := -1, -1
	if e != nil {
		eRank = e.rank()
		baseRank = eRank
		if e.flagged {
			w := parseEntry(e.was)
			baseRank = w.rank()
		}
	}
	changed := t.hasO != t.hasN || t.hasO && t.o != t.n && minifyJSON(t.o) != minifyJSON(t.n)
	if !changed {
		switch {
		case e == nil && !t.hasN:
			return noEntry
		case r < 1 || r <= eRank: // e stays (or there is none)
			if e == nil {
				return noEntry
			}
			return keepEntry
		case e != nil && e.flagged && baseRank > r:
			t.was = e.was
		}
		return newEntry
	}
	switch {
	case baseRank > r && e.flagged:
		t.was = e.was
	case baseRank > r:
		t.was = priorOf(e, t)
	case !t.hasN && r == 0:
		return noEntry
	}
	return newEntry
}

// writeEntry writes the event's entry for a key decide gave a new one.
func writeEntry(b *strings.Builder, t *touchedKey, ev eventEntry) {
	b.WriteString(`{"at":`)
	b.WriteString(ev.at)
	b.WriteString(`,"by":`)
	b.WriteString(ev.by)
	b.WriteString(`,"v":`)
	b.WriteString(ev.v)
	if t.r == 2 {
		b.WriteString(`,"signed":true`)
	}
	if !t.hasN {
		b.WriteString(`,"removed":true`)
	}
	if t.was != "" {
		b.WriteString(`,"flagged":true,"was":`)
		b.WriteString(t.was)
	}
	b.WriteByte('}')
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

// signedObjectsReset is the $9 of the profile merge for e: a JSON object
// setting to null each signed trait whose value is an object, or nil (NULL)
// when there is none, which is every event but a verified JWT's.
func signedObjectsReset(e *EventRow) any {
	if len(e.SignedTraits) == 0 || e.Verification != "verified" {
		return nil
	}
	b := []byte{'{'}
	for m, _ := jsonx.NewMembers(e.Traits); m.Next(); {
		v := m.Value()
		if len(v) == 0 || v[0] != '{' || !slices.Contains(e.SignedTraits, string(jsonx.Key(m.Key()))) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(append(b, m.Key()...), ":null"...)
	}
	if len(b) == 1 {
		return nil
	}
	return string(append(b, '}'))
}
