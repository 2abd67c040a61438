// Package settings serves Settings → Identity (secret status and rotation,
// strict mode, recent rejections, the events chart, the token checker), the
// Profiles and Events pages (stored data, with each trait's provenance) and
// the audit log page.
package settings

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// Config lists the Handler's parts.
type Config struct {
	Log      *slog.Logger
	Store    *store.Store
	Verifier *identity.Verifier
	Manager  *identity.Manager
	Auth     *auth.Service
	UI       *webui.Renderer
	ClientIP *clientip.Resolver
	// Now is the clock for "last 24 hours" and status times; the
	// verifier's clock when nil, so both agree.
	Now func() time.Time
	// KeepRejections is how many rejections ingestion keeps per project,
	// for the page's retention note.
	KeepRejections int
	// PublicURL is the server's URL as sites reach it (--public-url), for
	// the Install panel; when empty, the panel uses the page's own origin.
	PublicURL string
	// ProjectsChanged, when set, is told of each project change made here
	// (deleted: a project was deleted), so the server's caches drop it at
	// once and its data purge starts.
	ProjectsChanged func(deleted bool)
}

// Handler serves the pages. Its methods return an error, which the
// webui.Renderer turns into the error page.
type Handler struct {
	log      *slog.Logger
	store    *store.Store
	verifier *identity.Verifier
	manager  *identity.Manager
	auth     *auth.Service
	ui       *webui.Renderer
	ips      *clientip.Resolver
	now      func() time.Time
	keep     int
	// publicURL is Config.PublicURL without a trailing slash.
	publicURL    string
	projectsHook func(deleted bool)
}

// Page sizes.
const (
	rejectionsPerPage = 25
	auditPerPage      = 50
)

// NewHandler returns the settings handler.
func NewHandler(c Config) *Handler {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = c.Verifier.Now
	}
	if c.ClientIP == nil {
		c.ClientIP, _ = clientip.New(nil)
	}
	if c.UI == nil {
		c.UI = webui.New(c.Log, auth.ViewerEmail)
	}
	if c.KeepRejections <= 0 {
		c.KeepRejections = 10_000 // ingest's default
	}
	return &Handler{
		log: c.Log, store: c.Store, verifier: c.Verifier, manager: c.Manager, auth: c.Auth,
		ui: c.UI, ips: c.ClientIP, now: c.Now, keep: c.KeepRejections,
		publicURL: strings.TrimRight(c.PublicURL, "/"), projectsHook: c.ProjectsChanged,
	}
}

// project resolves the ?project= name; "" is the default project, or the
// first by name when there is no project called default.
func (h *Handler) project(ctx context.Context, name string) (store.Project, []store.Project, error) {
	all, err := h.store.Projects(ctx)
	if err != nil {
		return store.Project{}, nil, err
	}
	if len(all) == 0 {
		return store.Project{}, nil, webui.Errorf(webui.NotFound, "There is no project yet. Create one with: sendora project create NAME")
	}
	if name == "" {
		name = store.DefaultProjectName
		for _, p := range all {
			if p.Name == name {
				return p, all, nil
			}
		}
		return all[0], all, nil
	}
	for _, p := range all {
		if p.Name == name {
			return p, all, nil
		}
	}
	return store.Project{}, nil, webui.Errorf(webui.NotFound, "There is no project named %q.", name)
}

func identityURL(project string, q url.Values, fragment string) string {
	v := url.Values{}
	v.Set("project", project)
	for k, vs := range q {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	u := "/settings/identity?" + v.Encode()
	if fragment != "" {
		u += "#" + fragment
	}
	return u
}

// Identity serves GET /settings/identity.
func (h *Handler) Identity(w http.ResponseWriter, r *http.Request) error {
	p, all, err := h.project(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	page, err := h.identityPage(r, p, all, pageOptions{})
	if err != nil {
		return err
	}
	page.Chrome.Flash = h.auth.TakeFlash(w, r)
	return h.ui.Page(w, r, http.StatusOK, pages.Identity(page))
}

// RejectionsFragment serves the Recent rejections table alone, for the
// page's live refresh.
func (h *Handler) RejectionsFragment(w http.ResponseWriter, r *http.Request) error {
	p, _, err := h.project(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	st, err := h.store.IdentityState(r.Context(), p.ID)
	if err != nil {
		return err
	}
	view, err := h.rejections(r.Context(), p, st, r.URL.Query())
	if err != nil {
		return err
	}
	return h.ui.Page(w, r, http.StatusOK, pages.RejectionsTable(view))
}

// RotateConfirm serves GET /settings/identity/rotate: what will happen,
// and the overlap choice.
func (h *Handler) RotateConfirm(w http.ResponseWriter, r *http.Request) error {
	p, _, err := h.project(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	return h.renderRotateConfirm(w, r, http.StatusOK, p, defaultOverlapValue, "")
}

var overlaps = []struct {
	value string
	d     time.Duration
	label string
	help  string
}{
	{"0", 0, "None", "The current secret stops verifying at once. Choose this if it leaked."},
	{"1h", time.Hour, "1 hour", "Time to redeploy your backend with the new secret."},
	{"24h", 24 * time.Hour, "24 hours", "For backends that take a day to roll out."},
}

// defaultOverlapValue is the overlap checked first: identity.DefaultOverlap,
// the CLI's default too.
var defaultOverlapValue = func() string {
	for _, o := range overlaps {
		if o.d == identity.DefaultOverlap {
			return o.value
		}
	}
	panic("settings: identity.DefaultOverlap is not an offered overlap")
}()

func (h *Handler) renderRotateConfirm(w http.ResponseWriter, r *http.Request, status int, p store.Project, checked, errMsg string) error {
	st, err := h.store.IdentityState(r.Context(), p.ID)
	if err != nil {
		return err
	}
	cur, has := st.Current()
	page := pages.RotateConfirmPage{
		Chrome:    h.ui.Chrome(r, "Rotate identity secret", layout.NavIdentity),
		Project:   p.Name,
		HasSecret: has,
		Version:   cur.Version,
		Strict:    st.Strict,
		TTL:       webui.Duration(h.verifier.TTL()),
		Error:     errMsg,
	}
	if has {
		page.Fingerprint = cur.Fingerprint
	}
	for _, o := range overlaps {
		label := o.label
		if o.value == defaultOverlapValue {
			label += " (default)"
			page.DefaultOverlap = o.label
		}
		page.Overlaps = append(page.Overlaps, pages.OverlapOption{Value: o.value, Label: label, Help: o.help, Checked: o.value == checked})
	}
	page.SharedMAC = st.Schemes == identity.AcceptHMACAndJWT
	return h.ui.Page(w, r, status, pages.RotateConfirm(page))
}

// Rotate serves POST /settings/identity/rotate. The new secret appears in
// this response only: not in a redirect, flash, cookie or log.
func (h *Handler) Rotate(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p, _, err := h.project(r.Context(), f.Get("project"))
	if err != nil {
		return err
	}
	var overlap time.Duration
	found := false
	for _, o := range overlaps {
		if o.value == f.Get("overlap") {
			overlap, found = o.d, true
		}
	}
	if !found {
		return h.renderRotateConfirm(w, r, http.StatusBadRequest, p, defaultOverlapValue, "Choose how long the current secret keeps verifying: none, 1 hour or 24 hours.")
	}
	expected, err := strconv.Atoi(f.Get("version"))
	if err != nil || expected < 0 {
		return webui.Errorf(webui.Invalid, "The form is missing the secret version it was made for.")
	}

	rot, err := h.manager.RotateFrom(r.Context(), p.ID, expected, overlap, auth.Actor(r, h.ips))
	if errors.Is(err, identity.ErrVersionChanged) {
		// A resubmitted form (a reload of the page that showed the secret,
		// a double click, a second admin, here or on another instance):
		// rotating again would throw away a secret someone may already
		// have deployed. The store checked the version in the rotation's
		// own transaction.
		h.auth.SetFlash(w, r, "error", "Nothing was rotated: the secret changed since that form was opened. "+
			"A new secret is shown only once, right after its rotation; rotate again if you did not store it.")
		webui.Redirect(w, r, identityURL(p.Name, nil, "secret"))
		return nil
	}
	if err != nil {
		return err
	}
	now := h.now()
	page := pages.NewSecretPage{
		Chrome:      h.ui.Chrome(r, "New identity secret", layout.NavIdentity),
		Project:     p.Name,
		Version:     rot.Version,
		Fingerprint: rot.Secret.Fingerprint(),
		Secret:      rot.Secret.Reveal(),
		EnvLine:     "SENDORA_IDENTITY_SECRET=" + rot.Secret.Reveal(),
		PickedUpBy:  now.Add(h.verifier.TTL()),
		Snippets:    snippets(),
		JWTSnippets: jwtSnippets(),
		BackURL:     identityURL(p.Name, nil, "secret"),
	}
	if st, err := h.store.IdentityState(r.Context(), p.ID); err == nil {
		page.SharedMAC = st.Schemes == identity.AcceptHMACAndJWT
	}
	switch {
	case expected == 0:
		page.Overlap = "none: this is the project's first secret"
	case overlap == 0:
		page.Overlap = "stopped verifying at once (no overlap)"
	default:
		page.PreviousUntil = now.Add(overlap)
	}
	// The one response that holds the secret: no cache may keep it, and
	// a back/forward navigation must not restore it.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	return h.ui.Page(w, r, http.StatusOK, pages.NewSecret(page))
}

// Strict serves POST /settings/identity/strict.
func (h *Handler) Strict(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p, all, err := h.project(r.Context(), f.Get("project"))
	if err != nil {
		return err
	}
	var on bool
	switch f.Get("strict") {
	case "on":
		on = true
	case "off":
	default:
		return webui.Errorf(webui.Invalid, "Strict identity can only be turned on or off.")
	}
	err = h.manager.SetStrict(r.Context(), p.ID, on, auth.Actor(r, h.ips))
	if errors.Is(err, identity.ErrNoSecret) {
		page, perr := h.identityPage(r, p, all, pageOptions{strictError: "Strict identity was not turned on: the project has no identity secret yet. " +
			"Without one, every event would be refused. Rotate a secret first, set it on your backend, then turn strict identity on."})
		if perr != nil {
			return perr
		}
		return h.ui.Page(w, r, http.StatusConflict, pages.Identity(page))
	}
	if err != nil {
		return err
	}
	msg := "Strict identity is off for " + p.Name + ": every event is accepted again; failures are kept as report-only."
	if on {
		msg = "Strict identity is on for " + p.Name + ": events without a valid identity token are refused from now on."
	}
	h.auth.SetFlash(w, r, "ok", msg)
	webui.Redirect(w, r, identityURL(p.Name, nil, "strict"))
	return nil
}

// Limits on the token checker's input; nothing longer is a real userId or
// token (a userId is at most 8 KiB in an event, a token at most
// identity.MaxTokenLength).
const (
	maxCheckUserID = 8 << 10
	maxCheckToken  = identity.MaxTokenLength
)

// Check serves POST /settings/identity/check: the verdict this server
// would give now. Nothing of the input is stored or logged.
func (h *Handler) Check(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p, all, err := h.project(r.Context(), f.Get("project"))
	if err != nil {
		return err
	}
	c := pages.Checker{Project: p.Name, UserID: f.Get("userId"), Token: f.Get("token"), Done: true}
	if len(c.UserID) > maxCheckUserID || len(c.Token) > maxCheckToken {
		c.UserID, c.Token = "", ""
		c.Reason = "too_long"
		c.Message = "That userId or token is far longer than any real one; nothing was checked."
	} else {
		kr, err := h.verifier.Keyring(r.Context(), p.ID)
		if err != nil {
			return err
		}
		now := h.verifier.Now()
		res := kr.VerifyToken(c.UserID, c.Token, now)
		reason := res.Reason
		c.OK = reason == identity.Verified
		c.Reason = reason.String()
		if res.Scheme != identity.SchemeUnknown {
			c.Scheme = res.Scheme.String()
		}
		if res.Scheme == identity.SchemeJWT {
			c.JWT = jwtClaims(c.Token, now)
		}
		if c.OK {
			c.Message = "This token proves userId “" + c.UserID + "” for project " + p.Name + "."
			if res.Scheme == identity.SchemeJWT {
				c.Message = "This JWT proves userId “" + c.UserID + "” for project " + p.Name
				if res.ExpiresAt.IsZero() {
					c.Message += ", and never expires."
				} else {
					c.Message += " until " + res.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC") + "."
				}
				if len(res.Traits) > 0 {
					c.Message += " Its traits win over those the event carries."
				}
			}
		} else {
			c.Message = reason.Message()
			st, err := h.store.IdentityState(r.Context(), p.ID)
			if err != nil {
				return err
			}
			c.Hint = hint(reason.String(), rotatedOutBefore(st, h.now()), h.now())
			if reason == identity.UnsupportedScheme && res.Scheme != identity.SchemeUnknown && !kr.Schemes.Accepts(res.Scheme) {
				c.Message += " " + acceptsWords[kr.Schemes]
			}
			if !kr.Strict {
				c.Message += " Strict identity is off, so such an event is accepted now and recorded as report-only."
			}
		}
	}
	page, err := h.identityPage(r, p, all, pageOptions{checker: &c})
	if err != nil {
		return err
	}
	// The response echoes the token the admin pasted: keep it out of caches.
	w.Header().Set("Cache-Control", "no-store")
	return h.ui.Page(w, r, http.StatusOK, pages.Identity(page))
}
