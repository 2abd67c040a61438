// Package auth owns the dashboard's admins: accounts and passwords, the
// first-run setup link, sessions, login throttling, and the pages that sign
// admins in and out.
package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"runtime"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
)

// Session lifetimes. A session ends after IdleTimeout without a request or
// MaxAge after sign-in, whichever comes first; the cookie outlives a
// browser or server restart within those bounds.
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultMaxAge      = 7 * 24 * time.Hour
	// DefaultSetupTTL is how long the first-run setup link works.
	DefaultSetupTTL = time.Hour
	// DefaultInviteTTL is how long an admin invitation link works: a day,
	// since it is sent to a person who may not read it at once.
	DefaultInviteTTL = 24 * time.Hour
	// deviceMaxAge is how long a browser stays a known device after a
	// successful sign-in.
	deviceMaxAge = 90 * 24 * time.Hour
	// touchEvery: last_seen_at is written at most this often per session,
	// so page views do not each cost a database write.
	touchEvery = time.Minute
)

// Cookie names.
const (
	SessionCookie = "sendora_session"
	DeviceCookie  = "sendora_device"
)

// metaSessionKeys is where the cookie keys are kept, sealed under the
// master key, so every instance and every restart reads the same keys.
const metaSessionKeys = "session_keys_v1"

const sessionKeysPurpose = "sendora/session-keys/v1"

// Config lists what the Service needs. Zero durations take the defaults.
type Config struct {
	Log      *slog.Logger
	Store    *store.Store
	Sealer   *identity.Sealer
	ClientIP *clientip.Resolver
	UI       *webui.Renderer
	Now      func() time.Time

	IdleTimeout time.Duration
	MaxAge      time.Duration
	SetupTTL    time.Duration
	InviteTTL   time.Duration
	// PublicURL is the dashboard's address for invitation links
	// (--public-url); "" takes the address each request reached.
	PublicURL string
	// Command is how to run this binary, for commands suggested in the
	// log ("bin/sendora"); "" is "sendora".
	Command string
	// Params and HashConcurrency tune password hashing: DefaultParams, and
	// as many hashes at once as half the CPUs (at least one).
	Params          Params
	HashConcurrency int
	Limits          Limits
}

// Service signs admins in and out and knows who is signed in.
type Service struct {
	log      *slog.Logger
	store    *store.Store
	ips      *clientip.Resolver
	ui       *webui.Renderer
	now      func() time.Time
	idle     time.Duration
	maxAge   time.Duration
	setupTTL time.Duration

	inviteTTL time.Duration
	publicURL string
	command   string

	cookies  *sessions.CookieStore
	device   *securecookie.SecureCookie
	hasher   *Hasher
	throttle *throttle
}

// New returns a Service, reading (or creating, on first start) the cookie
// keys sealed in the database.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.SetupTTL <= 0 {
		c.SetupTTL = DefaultSetupTTL
	}
	if c.InviteTTL <= 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	if c.Params == (Params{}) {
		c.Params = DefaultParams
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.ClientIP == nil {
		c.ClientIP, _ = clientip.New(nil)
	}
	if c.UI == nil {
		c.UI = webui.New(c.Log, ViewerEmail)
	}
	hashKey, blockKey, err := loadKeys(ctx, c.Store, c.Sealer)
	if err != nil {
		return nil, err
	}
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.MaxAge(int(c.MaxAge / time.Second))
	dev := securecookie.New(hashKey, blockKey).MaxAge(int(deviceMaxAge / time.Second))
	dev.SetSerializer(securecookie.JSONEncoder{})
	return &Service{
		log: c.Log, store: c.Store, ips: c.ClientIP, ui: c.UI, now: c.Now,
		idle: c.IdleTimeout, maxAge: c.MaxAge, setupTTL: c.SetupTTL,
		inviteTTL: c.InviteTTL, publicURL: strings.TrimRight(c.PublicURL, "/"), command: cmp.Or(c.Command, "sendora"),
		cookies: cs, device: dev,
		hasher:   NewHasher(c.Params, c.HashConcurrency),
		throttle: newThrottle(c.Store, c.Limits),
	}, nil
}

// loadKeys returns the cookie signing (64 bytes) and encryption (32 bytes)
// keys. PutMetaOnce makes instances starting together agree on one pair.
func loadKeys(ctx context.Context, st *store.Store, sealer *identity.Sealer) (hashKey, blockKey []byte, err error) {
	sealed, err := st.Meta(ctx, metaSessionKeys)
	if errors.Is(err, store.ErrNotFound) {
		fresh := make([]byte, 96)
		rand.Read(fresh)
		sealed, err = st.PutMetaOnce(ctx, metaSessionKeys, sealer.Seal(sessionKeysPurpose, 0, fresh))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: session keys: %w", err)
	}
	keys, err := sealer.Open(sessionKeysPurpose, 0, sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: session keys: %w", err)
	}
	if len(keys) != 96 {
		return nil, nil, fmt.Errorf("auth: session keys: stored value has %d bytes, want 96", len(keys))
	}
	return keys[:64], keys[64:], nil
}

// Hasher returns the password hasher, for the CLI's admin create.
func (s *Service) Hasher() *Hasher { return s.hasher }

// IdleTimeout returns how long a session survives without a request.
func (s *Service) IdleTimeout() time.Duration { return s.idle }

// NormalizeEmail trims and lower-cases an email and checks that it is a
// bare address (no display name), at most 254 bytes.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", errors.New("enter an email address")
	}
	if len(e) > 254 {
		return "", errors.New("the email address is too long")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", errors.New("enter a plain email address, like you@example.com")
	}
	return e, nil
}

// CreateAdmin checks the email and password and creates an account; the
// CLI's `admin create` and tests use it. actor is recorded in the audit log.
func CreateAdmin(ctx context.Context, st *store.Store, h *Hasher, email, password, actor string, now time.Time) (store.Admin, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return store.Admin{}, err
	}
	if err := CheckPasswordRules(password); err != nil {
		return store.Admin{}, err
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return store.Admin{}, err
	}
	a, err := st.CreateAdmin(ctx, store.NewAdmin{Email: e, PasswordHash: hash, At: now, Actor: actor})
	if errors.Is(err, store.ErrConflict) {
		return store.Admin{}, fmt.Errorf("an admin with email %s already exists", e)
	}
	return a, err
}

// Viewer is the signed-in admin of a request.
type Viewer struct {
	Admin   store.Admin
	Session store.Session
}

// ExpiresAt is when the session ends at the latest.
func (v *Viewer) ExpiresAt(maxAge time.Duration) time.Time { return v.Session.CreatedAt.Add(maxAge) }

type ctxKey struct{}

// reqState is what Load attaches to a request.
type reqState struct {
	viewer *Viewer
	cookie *sessions.Session
}

func state(ctx context.Context) *reqState {
	st, _ := ctx.Value(ctxKey{}).(*reqState)
	return st
}

// Current returns the signed-in admin, if any.
func Current(ctx context.Context) (*Viewer, bool) {
	if st := state(ctx); st != nil && st.viewer != nil {
		return st.viewer, true
	}
	return nil, false
}

// ViewerEmail returns the signed-in admin's email, or "".
func ViewerEmail(r *http.Request) string {
	if v, ok := Current(r.Context()); ok {
		return v.Admin.Email
	}
	return ""
}

// Actor returns the identity.Actor for changes the request makes.
func Actor(r *http.Request, ips *clientip.Resolver) identity.Actor {
	a := identity.Actor{IP: ips.IP(r)}
	if v, ok := Current(r.Context()); ok {
		a.Name = v.Admin.Email
	}
	return a
}

func newSessionID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashID is what the database keeps of a session id: a leaked database
// does not yield live cookies.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// cookieOptions are the session cookie's attributes for this request:
// HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site
// posts; Strict would make links from chat or email land signed out), and
// Secure whenever the client reached us over TLS.
func (s *Service) cookieOptions(r *http.Request) *sessions.Options {
	return &sessions.Options{
		Path: "/", MaxAge: int(s.maxAge / time.Second), HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.ips.Secure(r),
	}
}

// Load finds the request's session, if any, and attaches it; every
// dashboard route runs behind it. An expired or revoked session is treated
// as none.
func (s *Service) Load(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A cookie that does not decode (old keys, tampering) is replaced by
		// a fresh session on the next save.
		sess, _ := s.cookies.New(r, SessionCookie)
		sess.Options = s.cookieOptions(r)
		st := &reqState{cookie: sess}
		if id, _ := sess.Values["sid"].(string); id != "" {
			st.viewer = s.lookup(r.Context(), id)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
	})
}

func (s *Service) lookup(ctx context.Context, id string) *Viewer {
	h := hashID(id)
	se, a, err := s.store.SessionByHash(ctx, h)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "load session", "err", err)
		}
		return nil
	}
	now := s.now()
	if now.Sub(se.LastSeenAt) > s.idle || now.Sub(se.CreatedAt) > s.maxAge {
		if err := s.store.DeleteSession(ctx, h); err != nil {
			s.log.ErrorContext(ctx, "delete expired session", "err", err)
		}
		return nil
	}
	if now.Sub(se.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, h, now); err != nil {
			s.log.WarnContext(ctx, "touch session", "err", err)
		} else {
			se.LastSeenAt = now
		}
	}
	return &Viewer{Admin: a, Session: se}
}

// RequireAdmin sends requests without a session to the sign-in page,
// remembering where a GET was going.
func (s *Service) RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := Current(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		target := "/login"
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if next := SafeNext(r.URL.RequestURI()); next != "" && next != defaultLanding {
				target += "?next=" + urlQueryEscape(next)
			}
		} else {
			s.SetFlash(w, r, "error", "Your session has ended. Sign in again, then repeat the change.")
		}
		webui.Redirect(w, r, target)
	})
}

// defaultLanding is where a signed-in admin starts.
const defaultLanding = "/settings/identity"

// SafeNext returns next if it is a local path to send an admin to after
// signing in, else "". It refuses anything that could leave the site:
// "//host", "/\host", schemes, and the sign-in pages themselves.
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	path, _, _ := strings.Cut(next, "?")
	switch path {
	case "/login", "/logout", "/setup", invitePath:
		return ""
	}
	return next
}

// SetFlash stores a one-time message shown by the next page. It never
// holds a secret: it travels in the (encrypted) session cookie.
func (s *Service) SetFlash(w http.ResponseWriter, r *http.Request, kind, text string) {
	st := state(r.Context())
	if st == nil {
		return
	}
	st.cookie.Values["flash"] = kind + "\x00" + text
	s.save(w, r, st.cookie)
}

// TakeFlash returns and clears the pending message.
func (s *Service) TakeFlash(w http.ResponseWriter, r *http.Request) layout.Flash {
	st := state(r.Context())
	if st == nil {
		return layout.Flash{}
	}
	v, ok := st.cookie.Values["flash"].(string)
	if !ok {
		return layout.Flash{}
	}
	delete(st.cookie.Values, "flash")
	s.save(w, r, st.cookie)
	kind, text, _ := strings.Cut(v, "\x00")
	return layout.Flash{Kind: kind, Text: text}
}

func (s *Service) save(w http.ResponseWriter, r *http.Request, sess *sessions.Session) {
	if err := sess.Save(r, w); err != nil {
		s.log.ErrorContext(r.Context(), "save session cookie", "err", err)
	}
}

// knownDevice is the content of the known-device cookie.
type knownDevice struct {
	Email  string `json:"e"`
	Device string `json:"d"`
}

// deviceFor returns this browser's known-device id for the account, or "".
func (s *Service) deviceFor(r *http.Request, email string) string {
	c, err := r.Cookie(DeviceCookie)
	if err != nil {
		return ""
	}
	var kd knownDevice
	if err := s.device.Decode(DeviceCookie, c.Value, &kd); err != nil || kd.Email != email || kd.Device == "" {
		return ""
	}
	return kd.Device
}

// rememberDevice marks this browser as a known device of the account.
func (s *Service) rememberDevice(w http.ResponseWriter, r *http.Request, email, device string) {
	if device == "" {
		var b [16]byte
		rand.Read(b[:])
		device = hex.EncodeToString(b[:])
	}
	v, err := s.device.Encode(DeviceCookie, knownDevice{Email: email, Device: device})
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode device cookie", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: DeviceCookie, Value: v, Path: "/", MaxAge: int(deviceMaxAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.ips.Secure(r),
	})
}
