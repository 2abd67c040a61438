package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Errors of the project changes, tested with errors.Is.
var (
	// ErrLastProject refuses to delete the only project: ingestion, the CLI's
	// --project default and the dashboard all need one.
	ErrLastProject = errors.New("the last project cannot be deleted")
	// ErrKeyChanged means the project's current public key is no longer the
	// one a rotation was asked against (a resubmitted form, a second admin).
	ErrKeyChanged = errors.New("the current public key changed")
	// ErrCurrentKey refuses to revoke the key a project is reached by: a
	// rotation comes first, so there is always one key that works.
	ErrCurrentKey = errors.New("the current public key cannot be revoked; rotate first, then revoke the old one")
	// ErrNameChanged means a delete was confirmed with another name than the
	// project's (it was renamed since, or the admin typed another).
	ErrNameChanged = errors.New("the name typed is not the project's")
)

// KeepUntilRevoked, as RotatePublicKey's keep, leaves the replaced key
// working until RevokePublicKey.
const KeepUntilRevoked time.Duration = -1

// DefaultKeyKeep is how long a replaced public key keeps working unless an
// admin chooses otherwise, in the dashboard and the CLI.
const DefaultKeyKeep = 24 * time.Hour

// MaxKeyKeep is the longest a replaced key may keep working by itself.
const MaxKeyKeep = 30 * 24 * time.Hour

// MaxAllowedOrigins bounds a project's allowed origins.
const MaxAllowedOrigins = 100

// lockProject reads the live project id and holds its row until tx ends
// (PostgreSQL's row lock; SQLite's BEGIN IMMEDIATE already serializes).
func (s *Store) lockProject(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (Project, error) {
	p, err := scanProject(tx.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = $1 AND deleted_at IS NULL`+s.d.forUpdate, id), now)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	return p, err
}

// RenameProject gives the project a new name; its id, keys, settings and
// data stay. A name another project has is ErrConflict. a says who, when
// and from where, for the audit entry.
func (s *Store) RenameProject(ctx context.Context, id int64, name string, a Audit) (Project, error) {
	if err := ValidateProjectName(name); err != nil {
		return Project{}, err
	}
	var p Project
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.lockProject(ctx, tx, id, a.At); err != nil {
			return err
		}
		if p.Name == name {
			return nil // nothing changes, nothing to audit
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET name = $1 WHERE id = $2`, name, id); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		a.Action, a.ProjectID, a.Detail = ActionProjectRename, id, fmt.Sprintf("from=%s to=%s", p.Name, name)
		p.Name = name
		return addAudit(ctx, tx, a)
	})
	if s.isUnique(err) {
		err = ErrConflict
	}
	if err != nil {
		return Project{}, fmt.Errorf("store: rename project %d to %q: %w", id, name, err)
	}
	return p, nil
}

// NormalizeOrigin returns an origin as browsers send it in the Origin
// header (scheme and host lower-cased, no default port), or an error
// saying what is wrong with it.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	bad := fmt.Errorf("%q is not an origin like https://shop.example.com", o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", bad
	}
	host := strings.ToLower(u.Host)
	for _, c := range host {
		if c > 0x7e {
			return "", fmt.Errorf("%q: write the host as browsers send it, in its xn-- (punycode) form", o)
		}
	}
	if u.Port() != "" {
		if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			host = strings.TrimSuffix(host, ":"+u.Port())
		}
	}
	if len(host) > 253+6 {
		return "", bad
	}
	return u.Scheme + "://" + host, nil
}

// ParseOrigins reads origins separated by white space or commas, as an
// admin types them, normalized and without repeats.
func ParseOrigins(text string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		o, err := NormalizeOrigin(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) > MaxAllowedOrigins {
		return nil, fmt.Errorf("at most %d origins per project", MaxAllowedOrigins)
	}
	return out, nil
}

// ChangeAllowedOrigins sets the origins browsers may send the project's
// events from (none: any), with an audit entry. Callers normalize them
// (ParseOrigins).
func (s *Store) ChangeAllowedOrigins(ctx context.Context, id int64, origins []string, a Audit) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		p, err := s.lockProject(ctx, tx, id, a.At)
		if err != nil {
			return err
		}
		if slices.Equal(p.AllowedOrigins, origins) || (len(p.AllowedOrigins) == 0 && len(origins) == 0) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET allowed_origins = $1 WHERE id = $2`, strings.Join(origins, " "), id); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		a.Action, a.ProjectID = ActionProjectOrigins, id
		a.Detail = "origins=" + originsText(origins) + " (was " + originsText(p.AllowedOrigins) + ")"
		return addAudit(ctx, tx, a)
	})
	if err != nil {
		return fmt.Errorf("store: set allowed origins for project %d: %w", id, err)
	}
	return nil
}

func originsText(o []string) string {
	if len(o) == 0 {
		return "any"
	}
	return strings.Join(o, " ")
}

// RotatePublicKey gives the project a new public key and returns the
// project with it. The replaced key keeps identifying the project for keep
// (0: it stops at once; KeepUntilRevoked: until RevokePublicKey); a key an
// earlier rotation left working stops now, so at most two keys work. When
// fromKey is not "", the rotation happens only if it is still the current
// key (else ErrKeyChanged), so a resubmitted form never rotates twice.
func (s *Store) RotatePublicKey(ctx context.Context, id int64, fromKey string, keep time.Duration, a Audit) (Project, error) {
	if keep > MaxKeyKeep || (keep < 0 && keep != KeepUntilRevoked) {
		return Project{}, fmt.Errorf("store: rotate the public key of project %d: keep %s is not 0, a time up to %s, or until revoked", id, keep, MaxKeyKeep)
	}
	var p Project
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.lockProject(ctx, tx, id, a.At); err != nil {
			return err
		}
		if fromKey != "" && fromKey != p.PublicKey {
			return ErrKeyChanged
		}
		old, ended := p.PublicKey, p.PreviousPublicKey
		p.PublicKey = NewPublicKey()
		var prev sql.NullString
		var until sql.NullInt64
		p.PreviousPublicKey, p.PreviousKeyUntil = "", time.Time{}
		oldFate := "stopped at once"
		switch {
		case keep == KeepUntilRevoked:
			prev = sql.NullString{String: old, Valid: true}
			p.PreviousPublicKey = old
			oldFate = "works until revoked"
		case keep > 0:
			prev = sql.NullString{String: old, Valid: true}
			p.PreviousPublicKey, p.PreviousKeyUntil = old, a.At.Add(keep).UTC().Truncate(time.Millisecond)
			until = sql.NullInt64{Int64: ms(p.PreviousKeyUntil), Valid: true}
			oldFate = "works until " + p.PreviousKeyUntil.Format(time.RFC3339)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET public_key = $1, previous_public_key = $2, previous_key_until = $3 WHERE id = $4`,
			p.PublicKey, prev, until, id); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		a.Action, a.ProjectID = ActionKeyRotate, id
		a.Detail = fmt.Sprintf("new=%s old=%s (%s)", p.PublicKey, old, oldFate)
		if ended != "" {
			a.Detail += fmt.Sprintf("; %s, left by the rotation before, stopped", ended)
		}
		return addAudit(ctx, tx, a)
	})
	if err != nil {
		return Project{}, fmt.Errorf("store: rotate the public key of project %d: %w", id, err)
	}
	return p, nil
}

// RevokePublicKey stops the project's previous public key now; key, when
// not "", must be that key. It reports whether a key was revoked: false
// when no previous key works (already revoked or expired, or key is
// neither of the project's keys). The current key is ErrCurrentKey.
func (s *Store) RevokePublicKey(ctx context.Context, id int64, key string, a Audit) (bool, error) {
	revoked := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		p, err := s.lockProject(ctx, tx, id, a.At)
		if err != nil {
			return err
		}
		if key != "" && key == p.PublicKey {
			return ErrCurrentKey
		}
		if p.PreviousPublicKey == "" || (key != "" && key != p.PreviousPublicKey) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET previous_public_key = NULL, previous_key_until = NULL WHERE id = $1`, id); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		revoked = true
		a.Action, a.ProjectID, a.Detail = ActionKeyRevoke, id, "revoked="+p.PreviousPublicKey
		return addAudit(ctx, tx, a)
	})
	if err != nil {
		return false, fmt.Errorf("store: revoke a public key of project %d: %w", id, err)
	}
	return revoked, nil
}

// DeleteProject deletes the project named name (the admin's typed
// confirmation: another name is ErrNameChanged) with an audit entry. At
// once, no key, name or page finds it any more; its events, profiles,
// rejections and counters are then removed a batch at a time by
// PurgeDeletedProject, and the project row last, so nothing is left that
// points at no project. The last project is ErrLastProject.
func (s *Store) DeleteProject(ctx context.Context, id int64, name string, a Audit) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Two admins deleting the last two projects at once on two
		// instances would leave none: the count and the delete take turns.
		if err := s.serialize(ctx, tx, "projects"); err != nil {
			return err
		}
		p, err := s.lockProject(ctx, tx, id, a.At)
		if err != nil {
			return err
		}
		if p.Name != name {
			return ErrNameChanged
		}
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE deleted_at IS NULL`).Scan(&live); err != nil {
			return err
		}
		if live <= 1 {
			return ErrLastProject
		}
		// The name is freed for a new project at once: a deleted project's
		// name holds characters no project name may.
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET deleted_at = $1, name = $2, previous_public_key = NULL, previous_key_until = NULL WHERE id = $3`,
			ms(a.At), deletedName(id, p.Name), id); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		a.Action, a.ProjectID = ActionProjectDelete, id
		a.Detail = fmt.Sprintf("name=%s id=%d public_key=%s; its data is removed in the background", p.Name, id, p.PublicKey)
		return addAudit(ctx, tx, a)
	})
	if err != nil {
		return fmt.Errorf("store: delete project %d (%s): %w", id, name, err)
	}
	return nil
}

// deletedName is a deleted project's name until its purge ends: no
// project name may hold a parenthesis or a space, so it frees the name.
func deletedName(id int64, name string) string { return fmt.Sprintf("(deleted %d) %s", id, name) }

// purgeSteps delete up to $2 rows of deleted project $1 each, from the
// tables that can be large. The rest (secrets, per-minute token counts
// of a few days) go with the project row, by ON DELETE CASCADE.
var purgeSteps = []string{
	`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE project_id = $1 LIMIT $2)`,
	`DELETE FROM profiles WHERE project_id = $1 AND user_id IN (SELECT user_id FROM profiles WHERE project_id = $1 LIMIT $2)`,
	`DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE project_id = $1 LIMIT $2)`,
	`DELETE FROM event_counts WHERE project_id = $1 AND minute IN (SELECT minute FROM event_counts WHERE project_id = $1 LIMIT $2)`,
	`DELETE FROM token_counts WHERE project_id = $1 AND minute IN (SELECT minute FROM token_counts WHERE project_id = $1 LIMIT $2)`,
}

// PurgeDeletedProject does one bounded step of removing a deleted
// project's data: up to about batch rows of one table, each step its own
// short transaction, then the project row itself. It returns how many rows
// it deleted and whether any deleted project is left to purge. Several
// processes may purge at once: each step deletes what is still there.
func (s *Store) PurgeDeletedProject(ctx context.Context, batch int) (int64, bool, error) {
	if batch <= 0 {
		batch = 1000
	}
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM projects WHERE deleted_at IS NOT NULL ORDER BY id LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: find deleted projects: %w", err)
	}
	for _, q := range purgeSteps {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, q, id, batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return 0, true, fmt.Errorf("store: purge deleted project %d: %w", id, err)
		}
		if n > 0 {
			return n, true, nil
		}
	}
	// Every large table is empty for it: the row goes, and with it the
	// small tables; an event committed since the last step goes too.
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT name FROM projects WHERE id = $1 AND deleted_at IS NOT NULL`+s.d.forUpdate, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // another process purged it first
		}
		if err != nil {
			return err
		}
		// The audit log's entries about the project lose their link to it
		// (ON DELETE SET NULL): they keep its name in their text.
		name = strings.TrimPrefix(name, deletedName(id, ""))
		if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET detail = CAST($1 AS TEXT) || detail WHERE project_id = $2`, "project="+name+" ", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, id); err != nil {
			return err
		}
		return s.bumpChanges(ctx, tx)
	})
	if err != nil {
		return 0, true, fmt.Errorf("store: purge deleted project %d: %w", id, err)
	}
	return 1, true, nil
}

// DeletedProjects counts the deleted projects whose data the purge has
// not finished removing.
func (s *Store) DeletedProjects(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE deleted_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count deleted projects: %w", err)
	}
	return n, nil
}

// PurgeDeletedProjects removes every deleted project's data, a batch at a
// time, calling pause between batches (it may sleep, so ingestion gets the
// writer; an error from it stops the purge). It returns how many rows it
// deleted.
func (s *Store) PurgeDeletedProjects(ctx context.Context, batch int, pause func(context.Context) error) (int64, error) {
	var total int64
	for {
		n, more, err := s.PurgeDeletedProject(ctx, batch)
		total += n
		if err != nil || !more {
			return total, err
		}
		if pause != nil {
			if err := pause(ctx); err != nil {
				return total, err
			}
		}
	}
}
