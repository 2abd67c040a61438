package settings

import (
	"net/http"
	"strconv"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// actionLabels names audit actions for people, with a badge kind.
var actionLabels = map[string][2]string{
	store.ActionSecretRotate:      {"Secret rotated", "warn"},
	store.ActionStrictOn:          {"Strict on", "ok"},
	store.ActionStrictOff:         {"Strict off", "warn"},
	store.ActionSchemesSet:        {"Token schemes set", "warn"},
	store.ActionOverlapEnd:        {"Overlap ended", "warn"},
	store.ActionLogin:             {"Signed in", "ok"},
	store.ActionLoginFailed:       {"Sign-in failed", "bad"},
	store.ActionLogout:            {"Signed out", "off"},
	store.ActionAdminCreate:       {"Admin created", "ok"},
	store.ActionPasswordChange:    {"Password changed", "warn"},
	store.ActionProjectCreate:     {"Project created", "off"},
	store.ActionAdminInvite:       {"Admin invited", "warn"},
	store.ActionAdminInviteCancel: {"Invitation cancelled", "off"},
	store.ActionAdminRemove:       {"Admin removed", "warn"},
	store.ActionPasswordReset:     {"Password reset", "warn"},
	store.ActionProjectRename:     {"Project renamed", "warn"},
	store.ActionProjectDelete:     {"Project deleted", "bad"},
	store.ActionProjectOrigins:    {"Origins set", "warn"},
	store.ActionKeyRotate:         {"Public key issued", "warn"},
	store.ActionKeyRevoke:         {"Public key revoked", "warn"},
}

// Audit serves GET /audit: the audit log, newest first, paged by id.
func (h *Handler) Audit(w http.ResponseWriter, r *http.Request) error {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	rows, err := h.store.AuditLog(r.Context(), before, auditPerPage+1)
	if err != nil {
		return err
	}
	page := pages.AuditPage{Chrome: h.ui.Chrome(r, "Audit log", layout.NavAudit)}
	page.Chrome.Flash = h.auth.TakeFlash(w, r)
	if len(rows) > auditPerPage {
		rows = rows[:auditPerPage]
		page.OlderURL = "/audit?before=" + strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	if before > 0 {
		page.NewestURL = "/audit"
	}
	for _, a := range rows {
		l, ok := actionLabels[a.Action]
		if !ok {
			l = [2]string{a.Action, "off"}
		}
		page.Rows = append(page.Rows, pages.AuditRow{
			At: a.At, Actor: a.Actor, Action: a.Action, Label: l[0], Kind: l[1], Project: a.Project, Detail: a.Detail, IP: a.IP,
		})
	}
	return h.ui.Page(w, r, http.StatusOK, pages.Audit(page))
}
