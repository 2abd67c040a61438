package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// The Admins page: every admin, invitations, removal. An invitation is a
// one-time link like the first-run setup link: its token is shown once,
// to the admin who made it (never logged), and the database keeps only
// its SHA-256, so any instance sharing the database accepts it. It is
// bound to the invited email and works once, until it expires.

// The routes of admin management.
const (
	adminsPath = "/admins"
	invitePath = "/invite"
)

// ResetPassword checks the password, stores its hash for the admin with the
// email, ends every session of that admin and clears the account's
// sign-in lockout; the CLI's `admin reset-password` uses it. It returns
// how many sessions it ended.
func ResetPassword(ctx context.Context, st *store.Store, h *Hasher, email, password string, c store.Audit) (int64, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	if err := CheckPasswordRules(password); err != nil {
		return 0, err
	}
	if _, err := st.AdminByEmail(ctx, e); errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("no admin has the email %s", e)
	} else if err != nil {
		return 0, err
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return 0, err
	}
	n, err := st.ResetPassword(ctx, e, hash, c)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("no admin has the email %s", e)
	}
	if err != nil {
		return 0, err
	}
	// The account's lockout guarded the old password. Whoever resets it
	// is usually letting a locked-out admin back in now; guesses at the new
	// password start counting afresh (the per-address counters stay).
	if err := st.ResetThrottle(ctx, scopeAccount, e); err != nil {
		return n, fmt.Errorf("password set, but the account's sign-in lockout was not cleared: %w", err)
	}
	return n, nil
}

// RemoveAdmin removes the admin with the email and ends its sessions,
// never the last admin; the CLI's `admin remove` and the Admins page use
// it. Its errors are fit to show: no such admin, or the last one.
func RemoveAdmin(ctx context.Context, st *store.Store, email string, c store.Audit) (int64, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	n, err := st.RemoveAdmin(ctx, e, c)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("no admin has the email %s", e)
	case errors.Is(err, store.ErrLastAdmin):
		return 0, fmt.Errorf("%s is the only admin, so it cannot be removed: invite or create another admin first", e)
	}
	return n, err
}

func (s *Service) change(r *http.Request) store.Audit {
	c := store.Audit{IP: s.ips.IP(r), At: s.now()}
	if v, ok := Current(r.Context()); ok {
		c.Actor = v.Admin.Email
	}
	return c
}

// AdminsPage serves GET /admins.
func (s *Service) AdminsPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAdmins(w, r, http.StatusOK, pages.AdminsPage{})
}

func (s *Service) renderAdmins(w http.ResponseWriter, r *http.Request, status int, p pages.AdminsPage) error {
	v, ok := Current(r.Context())
	if !ok {
		return webui.Errorf(webui.Forbidden, "Sign in first.")
	}
	admins, err := s.store.ListAdmins(r.Context())
	if err != nil {
		return err
	}
	invites, err := s.store.PendingInvites(r.Context(), s.now())
	if err != nil {
		return err
	}
	p.Chrome = s.ui.Chrome(r, "Admins", layout.NavAdmins)
	p.Chrome.Flash = s.TakeFlash(w, r)
	p.InviteTTL = webui.Duration(s.inviteTTL)
	for _, a := range admins {
		p.Admins = append(p.Admins, pages.AdminRow{Email: a.Email, CreatedAt: a.CreatedAt, LastLoginAt: a.LastLoginAt, You: a.ID == v.Admin.ID})
	}
	for _, inv := range invites {
		p.Invites = append(p.Invites, pages.InviteRow{Email: inv.Email, InvitedBy: inv.InvitedBy, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt})
	}
	return s.ui.Page(w, r, status, pages.Admins(p))
}

// Invite serves POST /admins/invite: it makes a one-time link for the
// email and shows it, once, with Cache-Control: no-store. A resubmitted
// form makes a new link, which replaces the one shown before.
func (s *Service) Invite(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	raw := r.PostForm.Get("email")
	email, err := NormalizeEmail(raw)
	if err != nil {
		return s.renderAdmins(w, r, http.StatusBadRequest, pages.AdminsPage{InviteEmail: raw, Error: err.Error()})
	}
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	c := s.change(r)
	inv := store.Invite{TokenHash: sum[:], Email: email, InvitedBy: c.Actor, CreatedAt: c.At, ExpiresAt: c.At.Add(s.inviteTTL)}
	err = s.store.CreateInvite(r.Context(), inv, c)
	if errors.Is(err, store.ErrConflict) {
		return s.renderAdmins(w, r, http.StatusConflict, pages.AdminsPage{InviteEmail: raw, Error: email + " is already an admin."})
	}
	if errors.Is(err, store.ErrNotFound) { // this admin was removed while the request ran
		webui.Redirect(w, r, "/login")
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.ui.Page(w, r, http.StatusOK, pages.InviteLink(pages.InviteLinkPage{
		Chrome: s.ui.Chrome(r, "Invitation link", layout.NavAdmins), Email: email,
		Link: s.baseURL(r) + invitePath + "?token=" + url.QueryEscape(token), ExpiresAt: inv.ExpiresAt,
	}))
}

// baseURL is the dashboard's address for links: --public-url when set,
// else the address this request reached.
func (s *Service) baseURL(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if s.ips.Secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// CancelInvite serves POST /admins/invite/cancel.
func (s *Service) CancelInvite(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	email, err := NormalizeEmail(r.PostForm.Get("email"))
	if err != nil {
		return s.renderAdmins(w, r, http.StatusBadRequest, pages.AdminsPage{Error: err.Error()})
	}
	err = s.store.CancelInvite(r.Context(), email, s.change(r))
	if errors.Is(err, store.ErrNotFound) {
		return s.renderAdmins(w, r, http.StatusNotFound, pages.AdminsPage{Error: "There is no pending invitation for " + email + "."})
	}
	if err != nil {
		return err
	}
	s.SetFlash(w, r, "ok", "The invitation of "+email+" is cancelled: its link no longer works.")
	webui.Redirect(w, r, adminsPath)
	return nil
}

// RemoveConfirm serves GET /admins/remove?email=E: what removing the admin
// does, or why it cannot be done.
func (s *Service) RemoveConfirm(w http.ResponseWriter, r *http.Request) error {
	v, ok := Current(r.Context())
	if !ok {
		return webui.Errorf(webui.Forbidden, "Sign in first.")
	}
	email, err := NormalizeEmail(r.URL.Query().Get("email"))
	if err != nil {
		return webui.Errorf(webui.NotFound, "There is no such admin.")
	}
	a, err := s.store.AdminByEmail(r.Context(), email)
	if errors.Is(err, store.ErrNotFound) {
		return webui.Errorf(webui.NotFound, "There is no admin with the email %s. It may have been removed already.", email)
	}
	if err != nil {
		return err
	}
	n, err := s.store.CountAdmins(r.Context())
	if err != nil {
		return err
	}
	sessions, err := s.store.CountSessions(r.Context(), a.ID)
	if err != nil {
		return err
	}
	// The refusal is a page like the confirmation (200): only the post
	// that would remove the last admin answers 409.
	return s.ui.Page(w, r, http.StatusOK, pages.RemoveAdmin(pages.RemoveAdminPage{
		Chrome: s.ui.Chrome(r, "Remove "+email, layout.NavAdmins), Email: email, You: a.ID == v.Admin.ID, Last: n <= 1, Sessions: sessions,
	}))
}

// Remove serves POST /admins/remove: the admin and every session of it
// end at once, on every instance (sessions live in the database and are
// read on each request). The last admin is never removed; removing
// oneself signs this browser out.
func (s *Service) Remove(w http.ResponseWriter, r *http.Request) error {
	v, ok := Current(r.Context())
	if !ok {
		return webui.Errorf(webui.Forbidden, "Sign in first.")
	}
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	email, err := NormalizeEmail(r.PostForm.Get("email"))
	if err != nil {
		return s.renderAdmins(w, r, http.StatusBadRequest, pages.AdminsPage{Error: "Choose an admin to remove on this page."})
	}
	n, err := s.store.RemoveAdmin(r.Context(), email, s.change(r))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.renderAdmins(w, r, http.StatusNotFound, pages.AdminsPage{Error: "There is no admin with the email " + email + ". It may have been removed already."})
	case errors.Is(err, store.ErrLastAdmin):
		return s.renderAdmins(w, r, http.StatusConflict, pages.AdminsPage{
			Error: email + " is the only admin, so it cannot be removed. Invite another admin first: the dashboard always keeps at least one."})
	case err != nil:
		return err
	}
	if email == v.Admin.Email {
		s.setSessionCookie(w, r, "", "ok", "Your admin account was removed, and you are signed out.")
		webui.Redirect(w, r, "/login")
		return nil
	}
	ended := "its one session was signed out"
	if n != 1 {
		ended = fmt.Sprintf("its %d sessions were signed out", n)
	}
	s.SetFlash(w, r, "ok", email+" was removed; "+ended+".")
	webui.Redirect(w, r, adminsPath)
	return nil
}

// invite returns the live invitation whose link holds token.
func (s *Service) invite(ctx context.Context, token string) (store.Invite, bool, error) {
	if token == "" || len(token) > 128 {
		return store.Invite{}, false, nil
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := s.store.InviteByHash(ctx, sum[:], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Invite{}, false, nil
	}
	return inv, err == nil, err
}

func (s *Service) renderAccept(w http.ResponseWriter, r *http.Request, status int, p pages.AcceptInvitePage) error {
	p.Chrome = s.chrome(r, "Join Sendora", true)
	p.MinPassword = MinPasswordLen
	// The page holds the token in its form.
	w.Header().Set("Cache-Control", "no-store")
	return s.ui.Page(w, r, status, pages.AcceptInvite(p))
}

// InvitePage serves GET /invite?token=T: the form to choose a password.
func (s *Service) InvitePage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	inv, ok, err := s.invite(r.Context(), token)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderAccept(w, r, http.StatusForbidden, pages.AcceptInvitePage{Invalid: true})
	}
	return s.renderAccept(w, r, http.StatusOK, pages.AcceptInvitePage{Token: token, Email: inv.Email, InvitedBy: inv.InvitedBy})
}

// AcceptInvite serves POST /invite: it uses the link up, creates the
// admin and signs them in with a new session.
func (s *Service) AcceptInvite(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	token := f.Get("token")
	inv, ok, err := s.invite(r.Context(), token)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderAccept(w, r, http.StatusForbidden, pages.AcceptInvitePage{Invalid: true})
	}
	page := pages.AcceptInvitePage{Token: token, Email: inv.Email, InvitedBy: inv.InvitedBy}
	pw := f.Get("password")
	if err := CheckPasswordRules(pw); err != nil {
		page.Error = err.Error()
		return s.renderAccept(w, r, http.StatusBadRequest, page)
	}
	if pw != f.Get("confirm") {
		page.Error = ErrPasswordMismatch.Error()
		return s.renderAccept(w, r, http.StatusBadRequest, page)
	}
	hash, err := s.hasher.Hash(r.Context(), pw)
	if err != nil {
		return busy(err)
	}
	sum := sha256.Sum256([]byte(token))
	c := s.change(r)
	a, err := s.store.AcceptInvite(r.Context(), sum[:], hash, c)
	switch {
	case errors.Is(err, store.ErrNotFound): // used or replaced meanwhile
		return s.renderAccept(w, r, http.StatusForbidden, pages.AcceptInvitePage{Invalid: true})
	case errors.Is(err, store.ErrConflict):
		s.setSessionCookie(w, r, "", "error", inv.Email+" is already an admin: sign in with its password.")
		webui.Redirect(w, r, "/login")
		return nil
	case err != nil:
		return err
	}
	if err := s.endOldSession(r); err != nil {
		return err
	}
	id, err := s.createSession(r, a)
	if err != nil {
		return err
	}
	s.rememberDevice(w, r, a.Email, "")
	s.setSessionCookie(w, r, id, "ok", "Welcome, "+a.Email+". You are an admin of this server.")
	s.audit(r, a.Email, store.ActionLogin, "new admin, via an invitation link")
	webui.Redirect(w, r, defaultLanding)
	return nil
}
