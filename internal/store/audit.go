package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Audit actions.
const (
	ActionSecretRotate   = "secret.rotate"
	ActionStrictOn       = "strict.on"
	ActionStrictOff      = "strict.off"
	ActionSchemesSet     = "schemes.set"
	ActionOverlapEnd     = "overlap.end"
	ActionLogin          = "login"
	ActionLoginFailed    = "login.failed"
	ActionLogout         = "logout"
	ActionAdminCreate    = "admin.create"
	ActionPasswordChange = "password.change"
	ActionProjectCreate  = "project.create"
	ActionProjectRename  = "project.rename"
	ActionProjectDelete  = "project.delete"
	ActionProjectOrigins = "project.origins"
	ActionKeyRotate      = "project.key_rotate"
	ActionKeyRevoke      = "project.key_revoke"
)

// Audit is one entry of the audit log. Detail is free text for people; it
// never holds a secret or token.
type Audit struct {
	ID        int64
	At        time.Time
	Actor     string
	Action    string
	ProjectID int64 // 0: not about one project
	Project   string
	Detail    string
	IP        string
}

// as returns a, who made a change and when, as the audit entry of action
// with detail.
func (a Audit) as(action, detail string) Audit {
	a.Action, a.Detail = action, detail
	return a
}

func addAudit(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, a Audit) error {
	var project sql.NullInt64
	if a.ProjectID != 0 {
		project = sql.NullInt64{Int64: a.ProjectID, Valid: true}
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, project_id, detail, ip) VALUES ($1, $2, $3, $4, $5, $6)`,
		ms(a.At), a.Actor, a.Action, project, a.Detail, a.IP)
	return err
}

// AddAudit appends an entry to the audit log.
func (s *Store) AddAudit(ctx context.Context, a Audit) error {
	if err := addAudit(ctx, s.w, a); err != nil {
		return fmt.Errorf("store: audit %s: %w", a.Action, err)
	}
	return nil
}

// AuditLog returns up to limit entries older than beforeID (0: the newest),
// newest first.
func (s *Store) AuditLog(ctx context.Context, beforeID int64, limit int) ([]Audit, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT a.id, a.at, a.actor, a.action, COALESCE(a.project_id, 0), COALESCE(p.name, ''), a.detail, a.ip
		FROM audit_log a LEFT JOIN projects p ON p.id = a.project_id
		WHERE a.id < $1 ORDER BY a.id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []Audit
	for rows.Next() {
		var a Audit
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.ProjectID, &a.Project, &a.Detail, &a.IP); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
