package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Profile is the traits identify events merged for one user.
type Profile struct {
	UserID       string
	Traits       []byte // a JSON object
	LastVerified bool   // whether the last identify carried a verified token
	UpdatedAt    time.Time
	// Provenance is the raw provenance object (provenance.go); nil when the
	// profile was not written since provenance began to be recorded.
	Provenance []byte
	// Flagged is how many traits are flagged: set by an event less trusted
	// than the one whose value it replaced.
	Flagged int
}

// Profile returns the profile of (project, userID).
func (s *Store) Profile(ctx context.Context, projectID int64, userID string) (Profile, error) {
	p := Profile{UserID: userID}
	if !s.canHold(userID) {
		return p, fmt.Errorf("store: profile of %q in project %d: %w", userID, projectID, ErrNotFound)
	}
	var updated int64
	var prov sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT traits, last_verified, updated_at, provenance, flagged FROM profiles WHERE project_id = $1 AND user_id = $2`,
		projectID, userID).Scan(&p.Traits, &p.LastVerified, &updated, &prov, &p.Flagged)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("store: profile of %q in project %d: %w", userID, projectID, err)
	}
	p.UpdatedAt = fromMS(updated)
	if prov.Valid {
		p.Provenance = []byte(prov.String)
	}
	return p, nil
}

// TraitSource is the event that set a trait's value (or removed it).
type TraitSource struct {
	At           time.Time // when the event was received
	MessageID    string
	Verification string // "verified" or the reason it would be refused
	Signed       bool   // the value came from a verified JWT's traits claim
	Removed      bool   // the event removed the trait
}

// Trust is 2 for a signed value, 1 for a verified event, 0 for report-only.
func (t TraitSource) Trust() int {
	switch {
	case t.Signed:
		return 2
	case t.Verification == "verified":
		return 1
	}
	return 0
}

// TraitPrior is the trusted state a flagged write replaced.
type TraitPrior struct {
	TraitSource
	Value string // the value it had, as minified JSON; "" when Removed
}

// Trait is one top-level trait of a profile with its provenance.
type Trait struct {
	Key   string
	Value string // minified JSON text; "" when Removed
	// Known is false for a value set before provenance was recorded.
	Known  bool
	Source TraitSource
	// Flagged: a less trusted event changed (or removed) the value Was.
	Flagged bool
	Was     TraitPrior
}

// TraitList returns the profile's traits in their order with their provenance,
// followed by the removed traits whose removal is remembered (by a trusted
// event, or flagged).
func (p Profile) TraitList() ([]Trait, error) {
	entries := map[string]Trait{}
	var removed []string
	if p.Provenance != nil {
		var err error
		ok := eachMember(string(p.Provenance), func(key, _, raw string) {
			if err != nil {
				return
			}
			var e struct {
				At      int64  `json:"at"`
				By      string `json:"by"`
				V       string `json:"v"`
				Signed  bool   `json:"signed"`
				Removed bool   `json:"removed"`
				Flagged bool   `json:"flagged"`
				Was     *struct {
					At      int64  `json:"at"`
					By      string `json:"by"`
					V       string `json:"v"`
					Signed  bool   `json:"signed"`
					Removed bool   `json:"removed"`
					Value   string `json:"value"`
				} `json:"was"`
			}
			if err = json.Unmarshal([]byte(raw), &e); err != nil {
				return
			}
			t := Trait{Key: key, Known: true, Flagged: e.Flagged,
				Source: TraitSource{At: fromMS(e.At), MessageID: e.By, Verification: e.V, Signed: e.Signed, Removed: e.Removed}}
			if e.Was != nil {
				t.Was = TraitPrior{TraitSource{fromMS(e.Was.At), e.Was.By, e.Was.V, e.Was.Signed, e.Was.Removed}, e.Was.Value}
			}
			if e.Removed {
				removed = append(removed, key)
			}
			entries[key] = t
		})
		if err == nil && !ok {
			err = errors.New("not an object")
		}
		if err != nil {
			return nil, fmt.Errorf("store: provenance of %q: %w", p.UserID, err)
		}
	}
	var out []Trait
	present := map[string]bool{}
	if !eachMember(string(p.Traits), func(key, _, raw string) {
		present[key] = true
		t, ok := entries[key]
		if !ok {
			t = Trait{Key: key}
		}
		t.Value = minifyJSON(raw) // PostgreSQL keeps the white space of arrays as sent
		t.Source.Removed = false
		out = append(out, t)
	}) {
		return nil, fmt.Errorf("store: traits of %q are not a JSON object", p.UserID)
	}
	for _, k := range removed {
		if !present[k] {
			out = append(out, entries[k])
		}
	}
	return out, nil
}

// ProfileFilter selects a page of a project's profiles, in userId order
// (byte by byte, on both databases).
type ProfileFilter struct {
	ProjectID int64
	Prefix    string // only userIds starting with it
	After     string // only userIds after it (the previous page's last)
	Flagged   bool   // only profiles with flagged traits
	Limit     int
}

// ProfileSummary is one row of the profiles list.
type ProfileSummary struct {
	UserID       string
	UpdatedAt    time.Time
	LastVerified bool
	Flagged      int
	Recorded     bool // provenance is recorded
}

// Profiles returns a page of a project's profiles. Every page is one range
// of the primary key (project_id, user_id), or of the small partial index
// of flagged profiles: its cost does not grow with the number of profiles.
func (s *Store) Profiles(ctx context.Context, f ProfileFilter) ([]ProfileSummary, error) {
	if !s.canHold(f.Prefix) || !s.canHold(f.After) {
		return nil, nil
	}
	q, args := profilesQuery(f)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: profiles of project %d: %w", f.ProjectID, err)
	}
	defer rows.Close()
	var out []ProfileSummary
	for rows.Next() {
		var p ProfileSummary
		var updated int64
		if err := rows.Scan(&p.UserID, &updated, &p.LastVerified, &p.Flagged, &p.Recorded); err != nil {
			return nil, fmt.Errorf("store: profiles of project %d: %w", f.ProjectID, err)
		}
		p.UpdatedAt = fromMS(updated)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: profiles of project %d: %w", f.ProjectID, err)
	}
	return out, nil
}

// profilesQuery is the SQL of one page of Profiles.
func profilesQuery(f ProfileFilter) (string, []any) {
	lo, hi := f.Prefix, prefixEnd(f.Prefix)
	q := `SELECT user_id, updated_at, last_verified, flagged, provenance IS NOT NULL FROM profiles
		WHERE project_id = $1 AND user_id >= $2 AND user_id > $3`
	args := []any{f.ProjectID, lo, f.After}
	if hi != "" {
		args = append(args, hi)
		q += fmt.Sprintf(` AND user_id < $%d`, len(args))
	}
	if f.Flagged {
		q += ` AND flagged > 0`
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(` ORDER BY user_id LIMIT $%d`, len(args))
	return q, args
}

// CountFlaggedProfiles counts a project's profiles with flagged traits, up
// to limit (it reads at most limit rows of the flagged index).
func (s *Store) CountFlaggedProfiles(ctx context.Context, projectID int64, limit int) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM profiles WHERE project_id = $1 AND flagged > 0 LIMIT $2) AS f`,
		projectID, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count flagged profiles of project %d: %w", projectID, err)
	}
	return n, nil
}

// prefixEnd returns the least string above every string that starts with
// prefix, in byte order, as valid UTF-8 (UTF-8 sorts as code points do):
// the prefix with its last character replaced by the next one. "" when
// there is none (an empty prefix, or only U+10FFFF).
func prefixEnd(prefix string) string {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-size]
		if r == utf8.RuneError && size <= 1 || r == utf8.MaxRune {
			continue
		}
		r++
		if r == 0xD800 { // surrogates are not characters
			r = 0xE000
		}
		return prefix + string(r)
	}
	return ""
}

// canHold reports whether the database can hold text s: PostgreSQL refuses
// NUL characters and invalid UTF-8 in text, so a search for such a value
// (typed into the dashboard) can match nothing there and must not fail.
func (s *Store) canHold(text string) bool {
	return s.d != postgresDialect || utf8.ValidString(text) && !strings.ContainsRune(text, 0)
}
