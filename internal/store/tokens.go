package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TokenUse is what an event's identity token was, for the per-minute token
// counters (token_counts): never the token itself.
type TokenUse struct {
	// Scheme is "hmac_v1" or "jwt"; "" when the event carried no token of
	// a scheme the server knows, which is not counted.
	Scheme string
	// KeyVersion is the version of the secret whose signature the token
	// carries (whether or not it verified: a rotated-out secret's too); 0
	// when none matched.
	KeyVersion int
	// Lifetime is a verified JWT's lifetime class
	// (identity.ClassOfLifetime); "" otherwise.
	Lifetime string
}

// tokenKey names one row of token_counts.
type tokenKey struct {
	project  int64
	minute   int64
	scheme   string
	version  int
	verified bool
	lifetime string
}

type tokenCount struct {
	n      int64
	lastAt int64 // ms
}

// tokenCounts collects the token counters of one commit. Few distinct keys
// come up in a commit (one per project, minute, scheme and secret), so a
// slice searched linearly beats a map and allocates nothing for events
// without a token.
type tokenCounts []tokenRow

type tokenRow struct {
	k tokenKey
	c tokenCount
}

// add counts e, an inserted event received in minute, if it carried a token.
func (tc tokenCounts) add(e *EventRow, minute int64) tokenCounts {
	if e.Token.Scheme == "" {
		return tc
	}
	k := tokenKey{e.ProjectID, minute, e.Token.Scheme, e.Token.KeyVersion, e.Verification == "verified", e.Token.Lifetime}
	at := ms(e.ReceivedAt)
	for i := range tc {
		if tc[i].k == k {
			tc[i].c.n++
			tc[i].c.lastAt = max(tc[i].c.lastAt, at)
			return tc
		}
	}
	return append(tc, tokenRow{k, tokenCount{1, at}})
}

const addTokenCountSQL = `
	INSERT INTO token_counts (project_id, minute, scheme, key_version, verified, lifetime, n, last_at, shard)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (project_id, minute, scheme, key_version, verified, lifetime, shard) DO UPDATE SET
		n = token_counts.n + excluded.n,
		last_at = CASE WHEN excluded.last_at > token_counts.last_at THEN excluded.last_at ELSE token_counts.last_at END`

// addTokenCounts adds tc to token_counts in tx, in key order, so that
// instances adding to the same counters lock their rows in one order and
// never deadlock.
func (s *Store) addTokenCounts(ctx context.Context, tx *sql.Tx, tc tokenCounts) error {
	if len(tc) == 0 {
		return nil
	}
	slices.SortFunc(tc, func(a, b tokenRow) int {
		x, y := a.k, b.k
		return cmp.Or(cmp.Compare(x.project, y.project), cmp.Compare(x.minute, y.minute), strings.Compare(x.scheme, y.scheme),
			cmp.Compare(x.version, y.version), cmpBool(x.verified, y.verified), strings.Compare(x.lifetime, y.lifetime))
	})
	for _, r := range tc {
		k := r.k
		if _, err := tx.ExecContext(ctx, addTokenCountSQL, k.project, k.minute, k.scheme, k.version, k.verified, k.lifetime, r.c.n, r.c.lastAt, s.countShard); err != nil {
			return fmt.Errorf("count tokens: %w", err)
		}
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// signedTraitsArg is the signed_traits column of e: a JSON array of its
// signed trait keys, or NULL.
func signedTraitsArg(e *EventRow) any {
	if len(e.SignedTraits) == 0 {
		return nil
	}
	b, err := json.Marshal(e.SignedTraits)
	if err != nil { // strings always marshal
		return nil
	}
	return string(b)
}

// TokenTotal is the count of a project's stored events with tokens of one
// kind over a span of time.
type TokenTotal struct {
	Scheme     string // "hmac_v1" or "jwt"
	KeyVersion int    // the secret whose signature the tokens carry; 0: none matched
	Verified   bool
	Lifetime   string // verified JWTs: the lifetime class
	N          int64
	LastAt     time.Time // the last such event's receive time
}

// TokenTotals sums a project's token counters from the minute holding since
// onwards by scheme, secret, verification and lifetime class.
func (s *Store) TokenTotals(ctx context.Context, projectID int64, since time.Time) ([]TokenTotal, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT scheme, key_version, verified, lifetime, CAST(SUM(n) AS BIGINT), MAX(last_at) FROM token_counts
		WHERE project_id = $1 AND minute >= $2
		GROUP BY scheme, key_version, verified, lifetime
		ORDER BY scheme, key_version, verified, lifetime`, projectID, MinuteOf(since))
	if err != nil {
		return nil, fmt.Errorf("store: token totals of project %d: %w", projectID, err)
	}
	defer rows.Close()
	var out []TokenTotal
	for rows.Next() {
		var t TokenTotal
		var last int64
		if err := rows.Scan(&t.Scheme, &t.KeyVersion, &t.Verified, &t.Lifetime, &t.N, &last); err != nil {
			return nil, fmt.Errorf("store: token totals of project %d: %w", projectID, err)
		}
		t.LastAt = fromMS(last)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: token totals of project %d: %w", projectID, err)
	}
	return out, nil
}

// TokenSchemeSeen reports whether the project stored an event whose token
// had scheme from the minute holding since onwards.
func (s *Store) TokenSchemeSeen(ctx context.Context, projectID int64, scheme string, since time.Time) (bool, error) {
	var seen bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM token_counts WHERE project_id = $1 AND minute >= $2 AND scheme = $3)`,
		projectID, MinuteOf(since), scheme).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("store: tokens of scheme %s in project %d: %w", scheme, projectID, err)
	}
	return seen, nil
}
