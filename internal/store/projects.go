package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Project is one product sending events.
type Project struct {
	ID             int64
	Name           string
	PublicKey      string
	Strict         bool
	AllowedOrigins []string // empty: any origin
	CreatedAt      time.Time
	// PreviousPublicKey is the key a key rotation replaced, which still
	// identifies the project until PreviousKeyUntil (zero: until revoked);
	// "" when only PublicKey works. Project and Projects return it after
	// its time ran out too: WithoutExpiredKey drops it by the caller's clock.
	PreviousPublicKey string
	PreviousKeyUntil  time.Time
}

// WithoutExpiredKey returns p without its previous key when that stopped
// working at now.
func (p Project) WithoutExpiredKey(now time.Time) Project {
	if p.PreviousPublicKey != "" && !p.PreviousKeyUntil.IsZero() && !p.PreviousKeyUntil.After(now) {
		p.PreviousPublicKey, p.PreviousKeyUntil = "", time.Time{}
	}
	return p
}

// PublicKeyPrefix starts every public key.
const PublicKeyPrefix = "pk_live_"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewPublicKey returns "pk_live_" and 32 random base62 characters.
func NewPublicKey() string {
	var b [32]byte
	out := make([]byte, 0, len(PublicKeyPrefix)+len(b))
	out = append(out, PublicKeyPrefix...)
	for len(out) < cap(out) {
		rand.Read(b[:])
		for _, c := range b {
			if c < 248 && len(out) < cap(out) { // 248 = 4*62: no modulo bias
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out)
}

// DefaultProjectName is the project created on first start.
const DefaultProjectName = "default"

// ValidateProjectName checks a project name: 1 to 64 characters of letters,
// digits, '-', '_' or '.'.
func ValidateProjectName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("project name must be 1 to 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("project name %q may only hold letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// CreateProject adds a project with a fresh public key.
func (s *Store) CreateProject(ctx context.Context, name string, now time.Time) (Project, error) {
	return s.createProject(ctx, name, Audit{At: now}, false)
}

// CreateProjectAudited adds a project with a fresh public key and an audit
// entry by a.Actor (at a.At, from a.IP) in the same transaction.
func (s *Store) CreateProjectAudited(ctx context.Context, name string, a Audit) (Project, error) {
	return s.createProject(ctx, name, a, true)
}

func (s *Store) createProject(ctx context.Context, name string, a Audit, audit bool) (Project, error) {
	if err := ValidateProjectName(name); err != nil {
		return Project{}, err
	}
	p := Project{Name: name, PublicKey: NewPublicKey(), CreatedAt: a.At.UTC().Truncate(time.Millisecond)}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO projects (name, public_key, created_at) VALUES ($1, $2, $3) RETURNING id`,
			p.Name, p.PublicKey, ms(p.CreatedAt)).Scan(&p.ID)
		if err != nil {
			return err
		}
		// Servers remember unknown public keys for a few seconds: the change
		// makes them look again.
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		if !audit {
			return nil
		}
		a.Action, a.ProjectID, a.Detail = ActionProjectCreate, p.ID, "name="+p.Name
		return addAudit(ctx, tx, a)
	})
	if s.isUnique(err) {
		return Project{}, fmt.Errorf("store: create project %q: %w", name, ErrConflict)
	}
	if err != nil {
		return Project{}, fmt.Errorf("store: create project %q: %w", name, err)
	}
	return p, nil
}

const projectColumns = `id, name, public_key, strict, allowed_origins, created_at, previous_public_key, previous_key_until`

// scanProject reads projectColumns. A previous key whose time ran out at
// now reads as none; with a zero now, it is returned as stored.
func scanProject(row interface{ Scan(...any) error }, now time.Time) (Project, error) {
	var p Project
	var origins string
	var created int64
	var prev sql.NullString
	var until sql.NullInt64
	if err := row.Scan(&p.ID, &p.Name, &p.PublicKey, &p.Strict, &origins, &created, &prev, &until); err != nil {
		return Project{}, err
	}
	p.AllowedOrigins = strings.Fields(origins)
	p.CreatedAt = fromMS(created)
	if prev.Valid {
		p.PreviousPublicKey = prev.String
		if until.Valid {
			p.PreviousKeyUntil = fromMS(until.Int64)
		}
	}
	if !now.IsZero() {
		p = p.WithoutExpiredKey(now)
	}
	return p, nil
}

// project reads the live (not deleted) project matching where, whose
// arguments are $1 and, for times, $2.
func (s *Store) project(ctx context.Context, where string, args ...any) (Project, error) {
	p, err := scanProject(s.r.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE deleted_at IS NULL AND `+where, args...), time.Time{})
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, ErrNotFound
	}
	return p, err
}

// Project returns the project with the id.
func (s *Store) Project(ctx context.Context, id int64) (Project, error) {
	p, err := s.project(ctx, "id = $1", id)
	if err != nil {
		return p, fmt.Errorf("store: project %d: %w", id, err)
	}
	return p, nil
}

// ProjectByName returns the project with the name.
func (s *Store) ProjectByName(ctx context.Context, name string) (Project, error) {
	p, err := s.project(ctx, "name = $1", name)
	if err != nil {
		return p, fmt.Errorf("store: project %q: %w", name, err)
	}
	return p, nil
}

// ProjectByKey returns the project a public key identifies at now: its
// current key, or the previous one while now is before PreviousKeyUntil (or
// until it is revoked). A revoked or expired key, or one of a deleted
// project, is ErrNotFound.
func (s *Store) ProjectByKey(ctx context.Context, key string, now time.Time) (Project, error) {
	// Two unique indexes, one probe each.
	p, err := scanProject(s.r.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects
		WHERE deleted_at IS NULL AND public_key = $1
		UNION ALL
		SELECT `+projectColumns+` FROM projects
		WHERE deleted_at IS NULL AND previous_public_key = $1 AND (previous_key_until IS NULL OR previous_key_until > $2)`,
		key, ms(now)), now)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("store: project by public key: %w", err)
	}
	return p, nil
}

// Projects lists every project by name.
func (s *Store) Projects(ctx context.Context) ([]Project, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE deleted_at IS NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	defer rows.Close()
	var out []Project
	for rows.Next() {
		p, err := scanProject(rows, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("store: list projects: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetAllowedOrigins restricts the origins browsers may send the project's
// events from; none allows any.
func (s *Store) SetAllowedOrigins(ctx context.Context, id int64, origins []string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE projects SET allowed_origins = $1 WHERE id = $2 AND deleted_at IS NULL`, strings.Join(origins, " "), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bumpChanges(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store: set allowed origins for project %d: %w", id, err)
	}
	return nil
}
