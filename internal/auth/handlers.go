package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// wrongCredentials is the one answer for an unknown email and a wrong
// password alike, so the page does not reveal which accounts exist.
const wrongCredentials = "The email or the password is incorrect."

func (s *Service) chrome(r *http.Request, title string, narrow bool) layout.Chrome {
	c := s.ui.Chrome(r, title, "")
	c.Narrow = narrow
	return c
}

// auditContext is the context audit rows are written with: the request's
// values, but not its cancellation, so a client that hangs up as soon as
// it has sent its guess cannot keep the guess out of the audit log.
func auditContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
}

func (s *Service) audit(r *http.Request, actor, action, detail string) {
	ctx, cancel := auditContext(r)
	defer cancel()
	err := s.store.AddAudit(ctx, store.Audit{At: s.now(), Actor: actor, Action: action, Detail: detail, IP: s.ips.IP(r)})
	if err != nil {
		// The sign-in itself stands; a lost audit row is logged, loudly.
		s.log.ErrorContext(ctx, "audit", "action", action, "err", err)
	}
}

// Root sends / to the Identity page, or to sign-in.
func (s *Service) Root(w http.ResponseWriter, r *http.Request) error {
	if _, ok := Current(r.Context()); ok {
		webui.Redirect(w, r, defaultLanding)
		return nil
	}
	webui.Redirect(w, r, "/login")
	return nil
}

// SetupPage shows the first-admin form for a valid setup link.
func (s *Service) SetupPage(w http.ResponseWriter, r *http.Request) error {
	n, err := s.store.CountAdmins(r.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		s.SetFlash(w, r, "ok", "An admin already exists: sign in.")
		webui.Redirect(w, r, "/login")
		return nil
	}
	token := r.URL.Query().Get("token")
	if ok, err := s.setupTokenValid(r.Context(), token); err != nil {
		return err
	} else if !ok {
		return s.renderSetup(w, r, http.StatusForbidden, pages.SetupPage{Invalid: true})
	}
	return s.renderSetup(w, r, http.StatusOK, pages.SetupPage{Token: token})
}

func (s *Service) renderSetup(w http.ResponseWriter, r *http.Request, status int, p pages.SetupPage) error {
	p.Chrome = s.chrome(r, "Create the first admin", true)
	p.MinPassword = MinPasswordLen
	if !p.Invalid {
		// The page holds the setup token in its form.
		w.Header().Set("Cache-Control", "no-store")
	}
	return s.ui.Page(w, r, status, pages.Setup(p))
}

// Setup creates the first admin and signs them in.
func (s *Service) Setup(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	token := f.Get("token")
	if ok, err := s.setupTokenValid(r.Context(), token); err != nil {
		return err
	} else if !ok {
		return s.renderSetup(w, r, http.StatusForbidden, pages.SetupPage{Invalid: true})
	}
	page := pages.SetupPage{Token: token, Email: f.Get("email")}
	email, err := NormalizeEmail(f.Get("email"))
	if err != nil {
		page.Error = err.Error()
		return s.renderSetup(w, r, http.StatusBadRequest, page)
	}
	pw := f.Get("password")
	if err := CheckPasswordRules(pw); err != nil {
		page.Error = err.Error()
		return s.renderSetup(w, r, http.StatusBadRequest, page)
	}
	if pw != f.Get("confirm") {
		page.Error = ErrPasswordMismatch.Error()
		return s.renderSetup(w, r, http.StatusBadRequest, page)
	}
	hash, err := s.hasher.Hash(r.Context(), pw)
	if err != nil {
		return busy(err)
	}
	a, err := s.store.CreateFirstAdmin(r.Context(), store.NewAdmin{Email: email, PasswordHash: hash, At: s.now(), Actor: "setup link", IP: s.ips.IP(r)})
	if errors.Is(err, store.ErrConflict) {
		s.SetFlash(w, r, "error", "An admin was created meanwhile (by someone else, or with the CLI): sign in.")
		webui.Redirect(w, r, "/login")
		return nil
	}
	if err != nil {
		return err
	}
	id, err := s.createSession(r, a)
	if err != nil {
		return err
	}
	s.recordLogin(r, a)
	s.rememberDevice(w, r, a.Email, "")
	s.setSessionCookie(w, r, id, "ok", "Welcome. You are the first admin: start by creating the identity secret.")
	s.audit(r, a.Email, store.ActionLogin, "first admin, via the setup link")
	webui.Redirect(w, r, defaultLanding)
	return nil
}

// LoginPage shows the sign-in form.
func (s *Service) LoginPage(w http.ResponseWriter, r *http.Request) error {
	if _, ok := Current(r.Context()); ok {
		webui.Redirect(w, r, defaultLanding)
		return nil
	}
	n, err := s.store.CountAdmins(r.Context())
	if err != nil {
		return err
	}
	return s.renderLogin(w, r, http.StatusOK, pages.LoginPage{Next: SafeNext(r.URL.Query().Get("next")), NoAdmin: n == 0})
}

func (s *Service) renderLogin(w http.ResponseWriter, r *http.Request, status int, p pages.LoginPage) error {
	p.Chrome = s.chrome(r, "Sign in", true)
	p.Chrome.Flash = s.TakeFlash(w, r)
	return s.ui.Page(w, r, status, pages.Login(p))
}

// Login checks an email and password under the throttle and signs the
// admin in with a new session.
func (s *Service) Login(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	page := pages.LoginPage{Email: f.Get("email"), Next: SafeNext(f.Get("next"))}
	email, err := NormalizeEmail(f.Get("email"))
	if err != nil {
		page.Error = err.Error()
		return s.renderLogin(w, r, http.StatusBadRequest, page)
	}
	pw := f.Get("password")
	ip := s.ips.IP(r)
	now := s.now()
	device := s.deviceFor(r, email)

	// The attempt counts as a failure from here until it succeeds. The
	// counting outlives a client that goes away mid-check.
	tctx := context.WithoutCancel(r.Context())
	v, try, err := s.throttle.begin(tctx, ip, email, device, now)
	if err != nil {
		return err
	}
	if v.blocked {
		if v.first {
			s.audit(r, s.auditName(r, email), store.ActionLoginFailed, "throttled: too many failures per "+v.by)
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(v.retryAfter.Round(time.Second)/time.Second)))
		page.Error = throttledMessage(v)
		return s.renderLogin(w, r, http.StatusTooManyRequests, page)
	}

	a, err := s.store.AdminByEmail(r.Context(), email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.throttleDone(tctx, s.throttle.cancel(tctx, try))
		return err
	}
	ok := false
	if len(pw) <= MaxPasswordLen {
		if ok, err = s.hasher.Verify(r.Context(), a.PasswordHash, pw); err != nil {
			s.throttleDone(tctx, s.throttle.cancel(tctx, try))
			return busy(err)
		}
	}
	if !ok {
		detail := "wrong password"
		if !known {
			detail = "no admin has this email"
		}
		s.audit(r, s.auditName(r, email), store.ActionLoginFailed, detail)
		page.Error = wrongCredentials
		return s.renderLogin(w, r, http.StatusUnauthorized, page)
	}

	s.throttleDone(tctx, s.throttle.succeeded(tctx, try))
	if err := s.endOldSession(r); err != nil {
		return err
	}
	id, err := s.createSession(r, a)
	if err != nil {
		return err
	}
	s.recordLogin(r, a)
	s.rememberDevice(w, r, a.Email, device)
	s.setSessionCookie(w, r, id, "", "")
	detail := "new session"
	if device != "" {
		detail += ", known device"
	}
	s.audit(r, a.Email, store.ActionLogin, detail)
	next := page.Next
	if next == "" {
		next = defaultLanding
	}
	webui.Redirect(w, r, next)
	return nil
}

// auditName is who a failed sign-in is recorded as: the account when it
// exists. An email no admin has is not recorded, since people sometimes
// type a password into the email field.
func (s *Service) auditName(r *http.Request, email string) string {
	ctx, cancel := auditContext(r)
	defer cancel()
	if _, err := s.store.AdminByEmail(ctx, email); err == nil {
		return email
	}
	return "(unknown account)"
}

func throttledMessage(v verdict) string {
	mins := int((v.retryAfter + time.Minute - 1) / time.Minute)
	wait := fmt.Sprintf("%d minutes", mins)
	if mins <= 1 {
		wait = "a minute"
	}
	switch v.by {
	case "device":
		return "Too many failed sign-ins from this browser. Try again in " + wait + "."
	case "ip":
		return "Too many failed sign-ins from your network. Try again in " + wait + ". A browser you signed in with before is not affected."
	default:
		return "Too many failed sign-ins for this account. Try again in " + wait + ". A browser you signed in with before is not affected."
	}
}

// throttleDone logs a failure to take back a counted attempt: the sign-in
// itself stands; at worst the attempt stays counted until its window ends.
func (s *Service) throttleDone(ctx context.Context, err error) {
	if err != nil {
		s.log.WarnContext(ctx, "sign-in throttle", "err", err)
	}
}

func busy(err error) error {
	if errors.Is(err, ErrBusy) {
		return &webui.Error{Code: webui.Unavailable, Message: "The server is busy checking other passwords. Try again in a moment.", Err: err}
	}
	return err
}

// Logout ends the session on the server and in the browser.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request) error {
	v, signedIn := Current(r.Context())
	if err := s.endOldSession(r); err != nil {
		return err
	}
	s.setSessionCookie(w, r, "", "ok", "You are signed out.")
	if signedIn {
		s.audit(r, v.Admin.Email, store.ActionLogout, "")
	}
	webui.Redirect(w, r, "/login")
	return nil
}

// AccountPage shows the signed-in admin and the password form.
func (s *Service) AccountPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAccount(w, r, http.StatusOK, "")
}

func (s *Service) renderAccount(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	v, ok := Current(r.Context())
	if !ok {
		return webui.Errorf(webui.Forbidden, "Sign in first.")
	}
	c := s.ui.Chrome(r, "Account", layout.NavAccount)
	c.Flash = s.TakeFlash(w, r)
	return s.ui.Page(w, r, status, pages.Account(pages.AccountPage{
		Chrome: c, Email: v.Admin.Email, CreatedAt: v.Admin.CreatedAt, PasswordChangedAt: v.Admin.PasswordChangedAt,
		SessionStarted: v.Session.CreatedAt, SessionExpires: v.ExpiresAt(s.maxAge), IdleTimeout: webui.Duration(s.idle),
		Error: errMsg, MinPassword: MinPasswordLen,
	}))
}

// ChangePassword sets a new password, ends every other session of the
// account and gives this browser a new session id.
func (s *Service) ChangePassword(w http.ResponseWriter, r *http.Request) error {
	v, ok := Current(r.Context())
	if !ok {
		return webui.Errorf(webui.Forbidden, "Sign in first.")
	}
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	ip, now, email := s.ips.IP(r), s.now(), v.Admin.Email
	device := s.deviceFor(r, email)
	tctx := context.WithoutCancel(r.Context())
	t, try, err := s.throttle.begin(tctx, ip, email, device, now)
	if err != nil {
		return err
	}
	if t.blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(t.retryAfter.Round(time.Second)/time.Second)))
		return s.renderAccount(w, r, http.StatusTooManyRequests, throttledMessage(t))
	}
	cur := f.Get("current")
	ok = false
	if len(cur) <= MaxPasswordLen {
		var err error
		if ok, err = s.hasher.Verify(r.Context(), v.Admin.PasswordHash, cur); err != nil {
			s.throttleDone(tctx, s.throttle.cancel(tctx, try))
			return busy(err)
		}
	}
	if !ok {
		s.audit(r, email, store.ActionLoginFailed, "wrong current password when changing the password")
		return s.renderAccount(w, r, http.StatusBadRequest, "The current password is wrong.")
	}
	s.throttleDone(tctx, s.throttle.succeeded(tctx, try))
	pw := f.Get("password")
	if err := CheckPasswordRules(pw); err != nil {
		return s.renderAccount(w, r, http.StatusBadRequest, err.Error())
	}
	if pw != f.Get("confirm") {
		return s.renderAccount(w, r, http.StatusBadRequest, ErrPasswordMismatch.Error())
	}
	hash, err := s.hasher.Hash(r.Context(), pw)
	if err != nil {
		return busy(err)
	}
	// The new session exists before the change, which ends all others,
	// this browser's old one included.
	id, err := s.createSession(r, v.Admin)
	if err != nil {
		return err
	}
	if err := s.store.ChangePassword(r.Context(), v.Admin.ID, hash, hashID(id), now, ip); err != nil {
		return err
	}
	s.setSessionCookie(w, r, id, "ok", "Password changed. Every other session of this account is signed out.")
	webui.Redirect(w, r, "/account")
	return nil
}

// recordLogin notes the sign-in for the Admins page; a failure only
// leaves the older time there.
func (s *Service) recordLogin(r *http.Request, a store.Admin) {
	ctx, cancel := auditContext(r)
	defer cancel()
	if err := s.store.RecordLogin(ctx, a.ID, s.now()); err != nil {
		s.log.WarnContext(ctx, "record sign-in", "err", err)
	}
}

// endOldSession deletes the server-side session the browser had, if any.
func (s *Service) endOldSession(r *http.Request) error {
	st := state(r.Context())
	if st == nil {
		return nil
	}
	if old, _ := st.cookie.Values["sid"].(string); old != "" {
		return s.store.DeleteSession(r.Context(), hashID(old))
	}
	return nil
}

// createSession stores a new session for the admin and returns its id.
func (s *Service) createSession(r *http.Request, a store.Admin) (string, error) {
	id := newSessionID()
	now := s.now()
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	if err := s.store.CreateSession(r.Context(), store.Session{
		IDHash: hashID(id), AdminID: a.ID, CreatedAt: now, LastSeenAt: now, IP: s.ips.IP(r), UserAgent: ua,
	}); err != nil {
		return "", err
	}
	if _, err := s.store.PruneSessions(r.Context(), now.Add(-s.idle), now.Add(-s.maxAge)); err != nil {
		s.log.WarnContext(r.Context(), "prune sessions", "err", err)
	}
	return id, nil
}

// setSessionCookie replaces the browser's session cookie with one holding
// id ("" for signed out) and an optional flash, in one Set-Cookie.
func (s *Service) setSessionCookie(w http.ResponseWriter, r *http.Request, id, flashKind, flash string) {
	st := state(r.Context())
	if st == nil {
		return
	}
	st.cookie.Values = map[any]any{}
	if id != "" {
		st.cookie.Values["sid"] = id
	}
	if flash != "" {
		st.cookie.Values["flash"] = flashKind + "\x00" + flash
	}
	s.save(w, r, st.cookie)
}
