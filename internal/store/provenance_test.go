package store_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// identify is one identify event of a provenance scenario.
type identify struct {
	v      string // verification: "verified" or a reason
	traits string
	signed []string
}

// traitWant is what a trait's provenance must read after a step:
// "<value> by <messageId> <verification>[ signed][ removed]" and, when
// flagged, " FLAGGED was <messageId> <verification>[ signed] <value or removed>".
// A value set before provenance was recorded reads "<value> unknown".
type traitWant map[string]string

func describe(t store.Trait) string {
	v := t.Value
	if !t.Known {
		return v + " unknown"
	}
	s := fmt.Sprintf("%s by %s %s", v, t.Source.MessageID, t.Source.Verification)
	if t.Source.Signed {
		s += " signed"
	}
	if t.Source.Removed {
		s = strings.TrimPrefix(s+" removed", " ")
	}
	if t.Flagged {
		s += fmt.Sprintf(" FLAGGED was %s %s", t.Was.MessageID, t.Was.Verification)
		if t.Was.Signed {
			s += " signed"
		}
		if t.Was.Removed {
			s += " removed"
		} else {
			s += " " + t.Was.Value
		}
	}
	return s
}

// provenanceCases are sequences of identifies of one user; after each step
// (a batch of one event), every trait's provenance and the profile's flag
// count must read as given.
var provenanceCases = []struct {
	name  string
	steps []identify
	want  []traitWant // per step
	flags []int       // per step
}{
	{
		name: "report-only poisons a verified trait, twice, then a verified write clears it",
		steps: []identify{
			{"verified", `{"plan":"free","email":"a@b.c"}`, nil},
			{"missing_token", `{"plan":"pro"}`, nil},
			{"signature_mismatch", `{"plan":"enterprise","email":"a@b.c"}`, nil},
			{"verified", `{"plan":"enterprise"}`, nil},
		},
		want: []traitWant{
			{"plan": `"free" by m0 verified`, "email": `"a@b.c" by m0 verified`},
			{"plan": `"pro" by m1 missing_token FLAGGED was m0 verified "free"`, "email": `"a@b.c" by m0 verified`},
			{"plan": `"enterprise" by m2 signature_mismatch FLAGGED was m0 verified "free"`, "email": `"a@b.c" by m0 verified`},
			{"plan": `"enterprise" by m3 verified`, "email": `"a@b.c" by m0 verified`},
		},
		flags: []int{0, 1, 1, 0},
	},
	{
		name: "the same value sent again without a token changes nothing",
		steps: []identify{
			{"verified", `{"plan":"free","tags":[1,2],"n":1.50}`, nil},
			{"missing_token", `{ "plan" : "free", "tags" : [ 1, 2 ], "n" : 1.50 }`, nil},
		},
		want: []traitWant{
			{"plan": `"free" by m0 verified`, "tags": `[1,2] by m0 verified`, "n": `1.50 by m0 verified`},
			{"plan": `"free" by m0 verified`, "tags": `[1,2] by m0 verified`, "n": `1.50 by m0 verified`},
		},
		flags: []int{0, 0},
	},
	{
		name: "a report-only null removing a verified trait is flagged and remembered",
		steps: []identify{
			{"verified", `{"plan":"pro","mrr":99}`, nil},
			{"missing_token", `{"mrr":null}`, nil},
			{"missing_token", `{"mrr":0}`, nil},
		},
		want: []traitWant{
			{"plan": `"pro" by m0 verified`, "mrr": `99 by m0 verified`},
			{"plan": `"pro" by m0 verified`, "mrr": `by m1 missing_token removed FLAGGED was m0 verified 99`},
			{"plan": `"pro" by m0 verified`, "mrr": `0 by m2 missing_token FLAGGED was m0 verified 99`},
		},
		flags: []int{0, 1, 1},
	},
	{
		name: "a verified removal is remembered, so re-adding it without a token is flagged",
		steps: []identify{
			{"verified", `{"admin":true}`, nil},
			{"verified", `{"admin":null}`, nil},
			{"no_secret", `{"admin":true}`, nil},
		},
		want: []traitWant{
			{"admin": `true by m0 verified`},
			{"admin": `by m1 verified removed`},
			{"admin": `true by m2 no_secret FLAGGED was m1 verified removed`},
		},
		flags: []int{0, 0, 1},
	},
	{
		name: "unverified keys added and removed leave nothing behind",
		steps: []identify{
			{"missing_token", `{"junk1":1,"junk2":2}`, nil},
			{"missing_token", `{"junk1":null,"junk2":null,"never":null}`, nil},
		},
		want:  []traitWant{{"junk1": `1 by m0 missing_token`, "junk2": `2 by m0 missing_token`}, {}},
		flags: []int{0, 0},
	},
	{
		name: "signed traits outrank verified ones",
		steps: []identify{
			{"verified", `{"plan":"pro","email":"x@y.z"}`, []string{"plan"}},
			{"verified", `{"plan":"enterprise","email":"new@y.z"}`, nil},
			{"missing_token", `{"plan":"free"}`, nil},
			{"verified", `{"plan":"pro"}`, []string{"plan"}},
		},
		want: []traitWant{
			{"plan": `"pro" by m0 verified signed`, "email": `"x@y.z" by m0 verified`},
			{"plan": `"enterprise" by m1 verified FLAGGED was m0 verified signed "pro"`, "email": `"new@y.z" by m1 verified`},
			{"plan": `"free" by m2 missing_token FLAGGED was m0 verified signed "pro"`, "email": `"new@y.z" by m1 verified`},
			{"plan": `"pro" by m3 verified signed`, "email": `"new@y.z" by m1 verified`},
		},
		flags: []int{0, 1, 1, 0},
	},
	{
		name: "signed keys of an event that did not verify count for nothing",
		steps: []identify{
			{"verified", `{"plan":"pro"}`, nil},
			{"expired_token", `{"plan":"max"}`, []string{"plan"}},
		},
		want: []traitWant{
			{"plan": `"pro" by m0 verified`},
			{"plan": `"max" by m1 expired_token FLAGGED was m0 verified "pro"`},
		},
		flags: []int{0, 1},
	},
	{
		name: "a verified confirmation takes over a report-only value and clears its flag",
		steps: []identify{
			{"missing_token", `{"plan":"free"}`, nil},
			{"verified", `{"plan":"free"}`, nil},
			{"missing_token", `{"plan":"pro"}`, nil},
			{"verified", `{"plan":"pro"}`, nil},
		},
		want: []traitWant{
			{"plan": `"free" by m0 missing_token`},
			{"plan": `"free" by m1 verified`},
			{"plan": `"pro" by m2 missing_token FLAGGED was m1 verified "free"`},
			{"plan": `"pro" by m3 verified`},
		},
		flags: []int{0, 0, 1, 0},
	},
	{
		name: "nested objects compare as a whole",
		steps: []identify{
			{"verified", `{"address":{"city":"Paris","zip":"75001"}}`, nil},
			{"missing_token", `{"address":{"city":"Paris"}}`, nil},
			{"missing_token", `{"address":{"zip":null}}`, nil},
		},
		want: []traitWant{
			{"address": `{"city":"Paris","zip":"75001"} by m0 verified`},
			{"address": `{"city":"Paris","zip":"75001"} by m0 verified`},
			{"address": `{"city":"Paris"} by m2 missing_token FLAGGED was m0 verified {"city":"Paris","zip":"75001"}`},
		},
		flags: []int{0, 0, 1},
	},
	{
		name: "a key repeated in one event is merged in order",
		steps: []identify{
			{"verified", `{"plan":"free"}`, nil},
			{"missing_token", `{"plan":"pro","plan":"free"}`, nil},
			{"missing_token", `{"plan":null,"plan":"x"}`, nil},
		},
		want: []traitWant{
			{"plan": `"free" by m0 verified`},
			{"plan": `"free" by m0 verified`},
			{"plan": `"x" by m2 missing_token FLAGGED was m0 verified "free"`},
		},
		flags: []int{0, 0, 1},
	},
	{
		name: "keys that need escaping",
		steps: []identify{
			{"verified", `{"a\"b":1,"\u00e9\n":2,"<script>":3,"\u0061":4}`, nil},
			{"missing_token", `{"a\"b":5,"é\n":6,"a":7}`, nil},
		},
		want: []traitWant{
			{"a\"b": `1 by m0 verified`, "é\n": `2 by m0 verified`, "<script>": `3 by m0 verified`, "a": `4 by m0 verified`},
			{"a\"b": `5 by m1 missing_token FLAGGED was m0 verified 1`, "é\n": `6 by m1 missing_token FLAGGED was m0 verified 2`,
				"<script>": `3 by m0 verified`, "a": `7 by m1 missing_token FLAGGED was m0 verified 4`},
		},
		flags: []int{0, 3},
	},
}

func TestProvenanceRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for ci, c := range provenanceCases {
			user := fmt.Sprintf("u%d", ci)
			for si, st := range c.steps {
				at := base.Add(time.Duration(si) * time.Minute)
				ev := store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprintf("c%d-m%d", ci, si), Type: "identify", UserID: user,
					Timestamp: at, ReceivedAt: at, Verification: st.v, Traits: []byte(st.traits), SignedTraits: st.signed}
				if err := s.WriteBatch(ctx, &store.Batch{Events: []store.EventRow{ev}}, nil); err != nil {
					t.Fatalf("%s step %d: %v", c.name, si, err)
				}
				pr, err := s.Profile(ctx, p.ID, user)
				if err != nil {
					t.Fatal(err)
				}
				traits, err := pr.TraitList()
				if err != nil {
					t.Fatalf("%s step %d: %v", c.name, si, err)
				}
				got := traitWant{}
				for _, tr := range traits {
					got[tr.Key] = strings.ReplaceAll(describe(tr), fmt.Sprintf("c%d-", ci), "")
				}
				for k, w := range c.want[si] {
					if got[k] != w {
						t.Errorf("%s step %d: %q = %s\n want %s", c.name, si, k, got[k], w)
					}
				}
				for k, g := range got {
					if _, ok := c.want[si][k]; !ok {
						t.Errorf("%s step %d: unexpected trait %q = %s", c.name, si, k, g)
					}
				}
				if pr.Flagged != c.flags[si] {
					t.Errorf("%s step %d: flagged = %d, want %d\nprovenance %s", c.name, si, pr.Flagged, c.flags[si], pr.Provenance)
				}
			}
		}
	})
}

// randomTraits makes an identify's traits from a small set of keys and
// values, so values repeat (unchanged writes), nest, get removed by nulls,
// repeat a key, and come with white space PostgreSQL keeps and SQLite drops.
func randomTraits(r *rand.Rand) string {
	keys := []string{"plan", "mrr", "email", "tags", "address", "é", `a\"b`, "x y", "<b>"}
	values := []string{`"free"`, `"pro"`, `1`, `1.0`, `99`, `true`, `null`, `null`, `[1,2]`, `[ 1, 2 ]`, `{}`,
		`{"city":"Lyon","zip":"69001"}`, `{"city":"Lyon"}`, `{"zip":null}`, `{ "city" : "Paris" , "geo" : { "lat" : 1 } }`,
		`{"geo":{"lat":null,"lng":2}}`, `"x\u00e9"`, `"\"quoted\""`}
	n := r.IntN(4)
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteString(", "[:1+r.IntN(2)])
		}
		fmt.Fprintf(&b, `"%s":%s`, keys[r.IntN(len(keys))], values[r.IntN(len(values))])
	}
	b.WriteByte('}')
	return b.String()
}

// TestProvenanceSameOnBothDatabases sends the same random identifies (many
// users, several commits, several identifies of a user per commit) to
// SQLite and PostgreSQL: provenance must be the same text, flags the same
// count and traits the same JSON.
func TestProvenanceSameOnBothDatabases(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	ctx := context.Background()
	sq, pg := storetest.SQLite.New(t), storetest.Postgres.New(t)
	psq, ppg := storetest.Project(t, sq, "web"), storetest.Project(t, pg, "web")
	r := rand.New(rand.NewPCG(14, 2))
	verifications := []string{"verified", "verified", "missing_token", "signature_mismatch", "no_secret"}
	signable := []string{"plan", "mrr", "address", `a"b`}
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	const users = 60
	id := 0
	for commit := range 25 {
		var evs []store.EventRow
		for range 40 {
			at := base.Add(time.Duration(id) * time.Second)
			ev := store.EventRow{MessageID: fmt.Sprintf("m%d", id), Type: "identify", UserID: fmt.Sprintf("u%02d", r.IntN(users)),
				Timestamp: at, ReceivedAt: at, Verification: verifications[r.IntN(len(verifications))], Traits: []byte(randomTraits(r))}
			if r.IntN(3) == 0 {
				ev.SignedTraits = []string{signable[r.IntN(len(signable))]}
			}
			evs = append(evs, ev)
			id++
		}
		for _, side := range []struct {
			s *store.Store
			p store.Project
		}{{sq, psq}, {pg, ppg}} {
			batch := slices.Clone(evs)
			for i := range batch {
				batch[i].ProjectID = side.p.ID
			}
			if err := side.s.WriteBatch(ctx, &store.Batch{Events: batch}, nil); err != nil {
				t.Fatalf("commit %d on %s: %v", commit, side.s.Dialect(), err)
			}
		}
	}
	flagged := 0
	for u := range users {
		user := fmt.Sprintf("u%02d", u)
		a, errA := sq.Profile(ctx, psq.ID, user)
		b, errB := pg.Profile(ctx, ppg.ID, user)
		if errA != nil || errB != nil {
			if (errA == nil) != (errB == nil) {
				t.Errorf("%s: sqlite %v, postgres %v", user, errA, errB)
			}
			continue
		}
		if string(a.Provenance) != string(b.Provenance) {
			t.Errorf("%s: provenance differs\nsqlite   %s\npostgres %s", user, a.Provenance, b.Provenance)
		}
		if a.Flagged != b.Flagged {
			t.Errorf("%s: flagged sqlite %d, postgres %d", user, a.Flagged, b.Flagged)
		}
		if !sameJSON(t, string(a.Traits), string(b.Traits)) {
			t.Errorf("%s: traits differ\nsqlite   %s\npostgres %s", user, a.Traits, b.Traits)
		}
		flagged += a.Flagged
	}
	if flagged == 0 {
		t.Errorf("no trait was flagged: the random identifies do not exercise the rules")
	}
}

// TestProvenanceOnePassPerIdentify: each identify runs profile_provenance
// once (the update hands it the merged traits and counts the flags from its
// result; a new profile's insert runs it once, the update before it found
// no row).
func TestProvenanceOnePassPerIdentify(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	p := storetest.Project(t, s, "web")
	now := time.Now()
	var evs []store.EventRow
	for i := range 50 {
		evs = append(evs, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint("m", i), Type: "identify", UserID: fmt.Sprint("u", i%5),
			Timestamp: now, ReceivedAt: now, Verification: []string{"verified", "missing_token"}[i%2], Traits: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	before := store.ProvenanceCallsForTest()
	if err := s.WriteBatch(ctx, &store.Batch{Events: evs}, nil); err != nil {
		t.Fatal(err)
	}
	if got := store.ProvenanceCallsForTest() - before; got != 50 {
		t.Errorf("profile_provenance ran %d times for 50 identifies of 5 users, want 50", got)
	}
}

// TestProvenanceOfProfilesStoredBefore: a profile written before provenance
// was recorded keeps its values as "unknown" until an event changes them.
func TestProvenanceOfProfilesStoredBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		if _, err := s.ExecForTest(ctx, `INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at) VALUES ($1, 'old', $2, $3, 1)`,
			p.ID, `{"plan":"pro","email":"o@x.y","gone":1}`, true); err != nil {
			t.Fatal(err)
		}
		pr, err := s.Profile(ctx, p.ID, "old")
		if err != nil {
			t.Fatal(err)
		}
		traits, err := pr.TraitList()
		if err != nil || len(traits) != 3 || traits[0].Known || pr.Provenance != nil {
			t.Fatalf("a profile stored before provenance: %+v, %v", traits, err)
		}
		at := time.Now()
		for i, ev := range []identify{
			{"missing_token", `{"plan":"free","email":"o@x.y","gone":null}`, nil}, // a change, an unchanged value, an untrusted removal
			{"verified", `{"email":"o@x.y"}`, nil},                                // a trusted confirmation
		} {
			row := store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint("m", i), Type: "identify", UserID: "old", Timestamp: at, ReceivedAt: at,
				Verification: ev.v, Traits: []byte(ev.traits)}
			if err := s.WriteBatch(ctx, &store.Batch{Events: []store.EventRow{row}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		pr, _ = s.Profile(ctx, p.ID, "old")
		traits, _ = pr.TraitList()
		got := map[string]string{}
		for _, tr := range traits {
			got[tr.Key] = describe(tr)
		}
		want := map[string]string{"plan": `"free" by m0 missing_token`, "email": `"o@x.y" by m1 verified`}
		if !maps.Equal(got, want) || pr.Flagged != 0 {
			t.Errorf("traits = %v (flagged %d), want %v", got, pr.Flagged, want)
		}
	})
}

// TestProfileProvenanceFunctionSameOnBothDatabases calls profile_provenance
// itself with inputs the write path never makes (NULLs, a patch or traits
// that are not objects, entries edited by hand) besides ordinary ones: the
// Go function on SQLite and both paths of PostgreSQL's (the loop for the
// usual identify, the set operations for large ones) must answer the same.
func TestProfileProvenanceFunctionSameOnBothDatabases(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	sq, pg := storetest.SQLite.New(t), storetest.Postgres.New(t)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	signed := str(`["plan","a\"b"]`)
	entries := []*string{nil, str(`{}`), str(`[1]`), str(`{"plan":1}`), str(`{"plan":{"v":"verified"}}`),
		str(`{"plan":{"at":"x","by":7,"v":"verified","signed":true}}`),
		str(`{"plan":{"at":5,"by":"m","v":"verified","flagged":true}}`),
		str(`{"plan":{"at":5,"by":"m","v":"x","flagged":true,"was":{"at":1,"by":"m0","v":"verified","value":"1"}},"other":{"at":1,"by":"o","v":"verified"}}`),
		str(`{"plan":{"at":5,"by":"m","v":"verified","removed":true},"a\"b":{"at":1,"by":"o","v":"verified","signed":true}}`)}
	traits := []*string{nil, str(`{}`), str(`{"plan":"free","a\"b":1}`), str(`[1,2]`), str(`{"plan":{"x":1}}`)}
	patches := []string{`{}`, `[1]`, `null`, `{"plan":"pro"}`, `{"plan":null}`, `{"plan":"free","a\"b":null}`, `{"plan":{"x":1}}`, `{"new":1,"plan":"x","new":null}`}
	n := 0
	for _, old := range traits {
		for _, patch := range patches {
			target := `{}`
			if old != nil {
				target = *old
			}
			merged, err := sq.JSONPatchForTest(ctx, target, patch)
			if err != nil {
				t.Fatal(err)
			}
			for _, prov := range entries {
				for _, v := range []string{"verified", "missing_token"} {
					for _, sig := range []*string{nil, signed} {
						a, errA := sq.ProfileProvenanceForTest(ctx, old, &merged, prov, patch, 42, "m\"42", v, sig)
						b, errB := pg.ProfileProvenanceForTest(ctx, old, &merged, prov, patch, 42, "m\"42", v, sig)
						c, errC := pg.ProfileProvenanceSetsForTest(ctx, old, &merged, prov, patch, 42, "m\"42", v, sig)
						if errA != nil || errB != nil || errC != nil {
							t.Fatalf("profile_provenance(%v, %s, %v, %s): sqlite %v, postgres %v, %v", deref(old), merged, deref(prov), patch, errA, errB, errC)
						}
						if deref(a) != deref(b) || deref(a) != deref(c) {
							t.Errorf("profile_provenance(%s, %s, %s, %s, %s, signed %s):\nsqlite          %s\npostgres        %s\npostgres (sets) %s",
								deref(old), merged, deref(prov), patch, v, deref(sig), deref(a), deref(b), deref(c))
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d calls compared", n)
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// TestProfileUpsertMergesAProfileCreatedMeanwhile: when the update finds no
// profile but another instance creates it before the insert, the upsert
// merges into it with the same provenance as the update would.
func TestProfileUpsertMergesAProfileCreatedMeanwhile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		now := time.Now()
		row := func(id, v, traits string) store.EventRow {
			return store.EventRow{ProjectID: p.ID, MessageID: id, Type: "identify", UserID: "u", Timestamp: now, ReceivedAt: now, Verification: v, Traits: []byte(traits)}
		}
		if err := s.UpsertProfileForTest(ctx, row("m0", "verified", `{"plan":"free","email":"a@b.c"}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.UpsertProfileForTest(ctx, row("m1", "missing_token", `{"plan":"pro","email":"a@b.c"}`)); err != nil {
			t.Fatal(err)
		}
		pr, err := s.Profile(ctx, p.ID, "u")
		if err != nil {
			t.Fatal(err)
		}
		traits, _ := pr.TraitList()
		got := map[string]string{}
		for _, tr := range traits {
			got[tr.Key] = describe(tr)
		}
		want := map[string]string{"plan": `"pro" by m1 missing_token FLAGGED was m0 verified "free"`, "email": `"a@b.c" by m0 verified`}
		if !maps.Equal(got, want) || pr.Flagged != 1 || pr.LastVerified {
			t.Errorf("after the upsert's update: %v, flagged %d, last verified %v; want %v", got, pr.Flagged, pr.LastVerified, want)
		}
	})
}

// TestProvenanceUnderConcurrentInstances: two instances on one PostgreSQL
// database merge identifies of the same users at once, each setting keys
// of its own: no update is lost, in the traits or in their provenance, and
// nothing deadlocks. (SQLite has one server per data directory.)
func TestProvenanceUnderConcurrentInstances(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		other := storetest.Reopen(t, s)
		const users, rounds = 20, 15
		errs := make(chan error, 2)
		for inst, st := range []*store.Store{s, other} {
			go func() {
				for r := range rounds {
					var evs []store.EventRow
					for u := range users {
						at := time.Now()
						evs = append(evs, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprintf("i%d-r%d-u%d", inst, r, u), Type: "identify",
							UserID: fmt.Sprintf("u%02d", (u*7+inst*3+r)%users), Timestamp: at, ReceivedAt: at,
							Verification: []string{"verified", "missing_token"}[inst], Traits: []byte(fmt.Sprintf(`{"i%d_r%d":%d}`, inst, r, u))})
					}
					if err := st.WriteBatch(ctx, &store.Batch{Events: evs}, nil); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		keys := 0
		for u := range users {
			pr, err := s.Profile(ctx, p.ID, fmt.Sprintf("u%02d", u))
			if err != nil {
				t.Fatal(err)
			}
			traits, err := pr.TraitList()
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range traits {
				if !tr.Known || tr.Flagged {
					t.Errorf("u%02d %s: %s", u, tr.Key, describe(tr))
				}
			}
			keys += len(traits)
		}
		if keys != 2*users*rounds {
			t.Errorf("%d traits with provenance, want %d: updates were lost", keys, 2*users*rounds)
		}
	}(t, storetest.Postgres.New(t))
}

// TestProvenanceUnderHostileTraits: what a hostile SDK can put in traits
// within the event limits (32 KiB, 32 levels) — thousands of keys, the
// deepest nesting, one huge value, keys that look like provenance's own
// fields — is merged and its provenance recorded and flagged exactly, the
// same text on both databases.
func TestProvenanceUnderHostileTraits(t *testing.T) {
	var many, manyForged strings.Builder
	many.WriteByte('{')
	manyForged.WriteByte('{')
	for i := range 2500 {
		if i > 0 {
			many.WriteByte(',')
			manyForged.WriteByte(',')
		}
		fmt.Fprintf(&many, `"k%d":%d`, i, i)
		fmt.Fprintf(&manyForged, `"k%d":-%d`, i, i)
	}
	many.WriteByte('}')
	manyForged.WriteByte('}')
	deep, deeper := `{"leaf":1}`, `{"leaf":2}`
	for range 30 {
		deep, deeper = `{"d":`+deep+`}`, `{"d":`+deeper+`}`
	}
	huge := `"` + strings.Repeat("x", 30_000) + `"`
	cases := []struct {
		name             string
		verified, forged string
		flagged          int
	}{
		{"2,500 keys", many.String(), manyForged.String(), 2500},
		{"32 levels", `{"deep":` + deep + `}`, `{"deep":` + deeper + `}`, 1},
		{"a 30 KB value", `{"bio":` + huge + `}`, `{"bio":"short"}`, 1},
		{"keys named like provenance's fields", `{"flagged":true,"was":{"flagged":true},"at":1,"by":"x","v":"verified"}`,
			`{"flagged":false,"was":null,"at":2,"by":"y","v":"no"}`, 5},
	}
	texts := map[string][]string{}
	now := time.Now()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		for i, c := range cases {
			user := fmt.Sprint("u", i)
			for j, ev := range []store.EventRow{
				{MessageID: fmt.Sprint("good-", i), Verification: "verified", Traits: []byte(c.verified)},
				{MessageID: fmt.Sprint("evil-", i), Verification: "missing_token", Traits: []byte(c.forged)},
			} {
				ev.ProjectID, ev.Type, ev.UserID, ev.Timestamp, ev.ReceivedAt = p.ID, "identify", user, now, now
				if err := s.WriteBatch(ctx, &store.Batch{Events: []store.EventRow{ev}}, nil); err != nil {
					t.Fatalf("%s, event %d: %v", c.name, j, err)
				}
			}
			pr, err := s.Profile(ctx, p.ID, user)
			if err != nil {
				t.Fatal(err)
			}
			traits, err := pr.TraitList()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			flagged := 0
			for _, tr := range traits {
				if tr.Flagged {
					flagged++
					if tr.Was.MessageID != fmt.Sprint("good-", i) || tr.Source.MessageID != fmt.Sprint("evil-", i) {
						t.Errorf("%s: %s flagged with %+v", c.name, tr.Key, tr)
					}
				}
			}
			if flagged != c.flagged || pr.Flagged != c.flagged {
				t.Errorf("%s: %d traits flagged (column %d), want %d", c.name, flagged, pr.Flagged, c.flagged)
			}
			if c.name == "a 30 KB value" && traits[0].Was.Value != huge {
				t.Errorf("%s: the replaced value kept is %d bytes, want the %d sent", c.name, len(traits[0].Was.Value), len(huge))
			}
			texts[c.name] = append(texts[c.name], string(pr.Provenance))
		}
	})
	for name, ts := range texts {
		if len(ts) == 2 && ts[0] != ts[1] {
			t.Errorf("%s: provenance differs between SQLite and PostgreSQL", name)
		}
	}
}

// TestProvenancePathsAgreeOnRandomInputs feeds the same random profiles,
// provenance and identifies to SQLite's profile_provenance and to both of
// PostgreSQL's paths (whichever its size picks, and the set operations
// whatever the size): the same text every time.
func TestProvenancePathsAgreeOnRandomInputs(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip(storetest.SkipReason)
	}
	sq, pg := storetest.SQLite.New(t), storetest.Postgres.New(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(14, 7))
	verifications := []string{"verified", "verified", "missing_token", "no_secret"}
	signedKeys := []string{`["plan"]`, `["plan","mrr","a\"b"]`, `[]`}
	for i := range 400 {
		// A profile built by SQLite's own merge and provenance from a few
		// earlier identifies, so entries carry flags and priors.
		traits, prov := "{}", (*string)(nil)
		for j := range r.IntN(5) {
			patch := randomTraits(r)
			merged, err := sq.JSONPatchForTest(ctx, traits, patch)
			if err != nil {
				t.Fatal(err)
			}
			v := verifications[r.IntN(len(verifications))]
			prov, err = sq.ProfileProvenanceForTest(ctx, &traits, &merged, prov, patch, int64(j), fmt.Sprint("m", j), v, nil)
			if err != nil {
				t.Fatal(err)
			}
			traits = merged
		}
		patch := randomTraits(r)
		merged, err := sq.JSONPatchForTest(ctx, traits, patch)
		if err != nil {
			t.Fatal(err)
		}
		v := verifications[r.IntN(len(verifications))]
		sig := &signedKeys[r.IntN(len(signedKeys))]
		a, errA := sq.ProfileProvenanceForTest(ctx, &traits, &merged, prov, patch, 99, "m99", v, sig)
		b, errB := pg.ProfileProvenanceForTest(ctx, &traits, &merged, prov, patch, 99, "m99", v, sig)
		c, errC := pg.ProfileProvenanceSetsForTest(ctx, &traits, &merged, prov, patch, 99, "m99", v, sig)
		if errA != nil || errB != nil || errC != nil {
			t.Fatalf("case %d: %v %v %v", i, errA, errB, errC)
		}
		if deref(a) != deref(b) || deref(a) != deref(c) {
			t.Errorf("case %d: traits %s, provenance %s, patch %s (%s):\nsqlite          %s\npostgres        %s\npostgres (sets) %s",
				i, traits, deref(prov), patch, v, deref(a), deref(b), deref(c))
		}
	}
}
