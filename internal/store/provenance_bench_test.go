package store

import (
	"database/sql"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProfileProvenance is SQLite's profile_provenance on an identify
// of six traits into a profile of ten, both calls the upsert makes: the
// row it would insert and the update of the existing one.
func BenchmarkProfileProvenance(b *testing.B) {
	patch := `{"email":"sam1@acme.co","name":"Sam Lee","plan":"enterprise-1","mrr":49.5,"company":{"name":"Acme","size":42},"created_at":"2026-01-05T10:00:00Z"}`
	old := `{"email":"sam1@acme.co","name":"Sam Lee","plan":"startup","mrr":49.5,"company":{"name":"Acme","size":42},"created_at":"2026-01-05T10:00:00Z","a":1,"b":2,"c":3,"d":4}`
	merged := `{"email":"sam1@acme.co","name":"Sam Lee","plan":"enterprise-1","mrr":49.5,"company":{"name":"Acme","size":42},"created_at":"2026-01-05T10:00:00Z","a":1,"b":2,"c":3,"d":4}`
	prov := *profileProvenance(provenanceInput{NewTraits: old, Patch: old, At: 1, By: "m-1", Verification: "verified"})
	b.Run("insert", func(b *testing.B) {
		for b.Loop() {
			profileProvenance(provenanceInput{NewTraits: patch, Patch: patch, At: 2, By: "m-2", Verification: "missing_token"})
		}
	})
	b.Run("update", func(b *testing.B) {
		for b.Loop() {
			profileProvenance(provenanceInput{OldTraits: &old, NewTraits: merged, OldProv: &prov, Patch: patch, At: 2, By: "m-2", Verification: "missing_token"})
		}
	})
}

// legacyUpsertSQL is the profile upsert before provenance was recorded,
// for BenchmarkProfileMerge's comparison.
const legacyUpsertSQL = `
	INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at)
	VALUES ($1, $2, json_patch('{}', $3), $4, $5)
	ON CONFLICT (project_id, user_id) DO UPDATE SET
		traits = json_patch(profiles.traits, $3),
		last_verified = excluded.last_verified,
		updated_at = excluded.updated_at`

// BenchmarkProfileMerge merges 500 identifies into existing profiles in
// one transaction on SQLite, with provenance (mergeProfiles) and without
// (the upsert before it), and reports the CPU time per identify: what
// provenance adds to the group commit. Run with -count to alternate them.
func BenchmarkProfileMerge(b *testing.B) {
	s, err := Open(b.Context(), b.TempDir()+"/"+FileName)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, err := s.CreateProject(b.Context(), "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	legacy, err := s.w.Prepare(legacyUpsertSQL)
	if err != nil {
		b.Fatal(err)
	}
	defer legacy.Close()
	const size = 500
	events := make([]EventRow, size)
	identifies := make([]int, size)
	n := 0
	next := func() {
		for i := range events {
			n++
			plan := "startup"
			if n%10 == 0 {
				plan = "enterprise-" + strconv.Itoa(n%3)
			}
			v := "verified"
			if n%5 == 0 {
				v = "missing_token"
			}
			events[i] = EventRow{ProjectID: p.ID, MessageID: "m-" + strconv.Itoa(n), Type: "identify", UserID: "user_" + strconv.Itoa(n*7919%10_000),
				ReceivedAt: time.Now(), Verification: v,
				Traits: []byte(`{"email":"sam` + strconv.Itoa(n%10_000) + `@acme.co","name":"Sam Lee","plan":"` + plan +
					`","mrr":49.5,"company":{"name":"Acme","size":42},"created_at":"2026-01-05T10:00:00Z"}`)}
			identifies[i] = i
		}
	}
	run := func(b *testing.B, merge func(tx *sql.Tx) error) {
		for range 20 { // every profile exists
			next()
			if err := s.tx(b.Context(), merge); err != nil {
				b.Fatal(err)
			}
		}
		n0, cpu0 := n, cpuTimeInternal()
		for b.Loop() {
			next()
			if err := s.tx(b.Context(), merge); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTimeInternal()-cpu0).Nanoseconds())/float64(n-n0), "cpu-ns/identify")
	}
	b.Run("provenance", func(b *testing.B) {
		run(b, func(tx *sql.Tx) error { return s.mergeProfiles(b.Context(), tx, events, identifies) })
	})
	b.Run("before", func(b *testing.B) {
		run(b, func(tx *sql.Tx) error {
			st := tx.Stmt(legacy)
			for i := range events {
				e := &events[i]
				if _, err := st.Exec(e.ProjectID, e.UserID, string(e.Traits), e.Verification == "verified", ms(e.ReceivedAt)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func cpuTimeInternal() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
