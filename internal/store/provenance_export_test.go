package store

import (
	"context"
	"database/sql"
)

// ProvenanceCallsForTest returns how many times SQLite has run
// profile_provenance in this process.
func ProvenanceCallsForTest() int64 { return provenanceCalls.Load() }

// ExecForTest runs a statement on the writer, for tests that set up rows
// the API cannot make (a profile stored before provenance was recorded, a
// table of millions of events).
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, query, args...)
}

// QueryForTest runs a query on the readers (EXPLAIN of the pages' queries).
func (s *Store) QueryForTest(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.r.QueryContext(ctx, query, args...)
}

// ProfileProvenanceForTest runs the database's profile_provenance.
func (s *Store) ProfileProvenanceForTest(ctx context.Context, oldTraits, newTraits, oldProv *string, patch string, at int64, by, verification string, signed *string) (*string, error) {
	var out sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT profile_provenance($1, $2, $3, $4, $5, $6, $7, $8)`,
		oldTraits, newTraits, oldProv, patch, at, by, verification, signed).Scan(&out)
	if err != nil || !out.Valid {
		return nil, err
	}
	return &out.String, nil
}

// EventsQueryForTest is the SQL Events runs for one window.
func EventsQueryForTest(f EventFilter, from, before int64) (string, []any) {
	return eventsQuery(f, from, before)
}

// ProfilesQueryForTest is the SQL Profiles runs.
func ProfilesQueryForTest(f ProfileFilter) (string, []any) { return profilesQuery(f) }

// UpsertProfileForTest runs the profile upsert alone for e, as the writer
// does when the update found no profile, whether or not one exists now
// (another instance may have created it in between).
func (s *Store) UpsertProfileForTest(ctx context.Context, e EventRow) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.upsertProfile).ExecContext(ctx, e.ProjectID, e.UserID, string(e.Traits), e.Verification == "verified",
			ms(e.ReceivedAt), e.MessageID, e.Verification, nil, nil)
		return err
	})
}

// ProfileProvenanceSetsForTest runs PostgreSQL's profile_provenance_sets,
// the path profile_provenance takes for large inputs, on any input.
func (s *Store) ProfileProvenanceSetsForTest(ctx context.Context, oldTraits, newTraits, oldProv *string, patch string, at int64, by, verification string, signed *string) (*string, error) {
	var out sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT profile_provenance_sets($1, $2, $3, $4, $5, $6, $7, $8)`,
		oldTraits, newTraits, oldProv, patch, at, by, verification, signed).Scan(&out)
	if err != nil || !out.Valid {
		return nil, err
	}
	return &out.String, nil
}
