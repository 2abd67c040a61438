package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// Signed claims on Settings → Identity: the Token schemes panel and its
// form, the per-secret counts of a rotation's overlap and ending it, and
// what the token checker shows of a JWT.

// jwtWindow is how far back the Token schemes panel looks for JWTs before
// recommending hmac_v1 alone: the counters' retention.
const jwtWindow = 30 * 24 * time.Hour

// schemeChoices are the policies the form offers, the default first.
var schemeChoices = []struct {
	policy identity.SchemePolicy
	label  string
	help   string
}{
	{identity.AcceptHMACAndJWT, "hmac_v1 and JWT", "The default: both verify. Read the note above if your users choose their userIds."},
	{identity.AcceptHMACOnly, "hmac_v1 only", "JWTs, and anything shaped like one, fail with unsupported_scheme. For projects whose backends sign no JWTs."},
	{identity.AcceptJWTOnly, "JWT only", "hmac_v1 tokens fail with unsupported_scheme, so every verified event carries an expiring token. Safe once no backend signs hmac_v1 tokens under the current secret."},
}

// lifetimeLabels name the maximum lifetimes offered: the bounds of the
// counters' lifetime classes.
var lifetimeLabels = map[time.Duration]string{
	5 * time.Minute: "5 minutes", 15 * time.Minute: "15 minutes", time.Hour: "1 hour",
	6 * time.Hour: "6 hours", 24 * time.Hour: "24 hours", 7 * 24 * time.Hour: "7 days",
}

// tokenUse sums token counters: per scheme verified and not, verified JWTs
// per lifetime class, and per secret version the verified events and the
// last one's time.
type tokenUse struct {
	verified, failed map[string]int64
	classes          map[string]int64
	byVersion        map[int]int64
	lastAt           map[int]time.Time
	total            int64
}

func sumTokens(totals []store.TokenTotal) tokenUse {
	u := tokenUse{verified: map[string]int64{}, failed: map[string]int64{}, classes: map[string]int64{},
		byVersion: map[int]int64{}, lastAt: map[int]time.Time{}}
	for _, t := range totals {
		u.total += t.N
		if !t.Verified {
			u.failed[t.Scheme] += t.N
			continue
		}
		u.verified[t.Scheme] += t.N
		if t.Scheme == identity.SchemeJWT.String() {
			u.classes[t.Lifetime] += t.N
		}
		u.byVersion[t.KeyVersion] += t.N
		if t.LastAt.After(u.lastAt[t.KeyVersion]) {
			u.lastAt[t.KeyVersion] = t.LastAt
		}
	}
	return u
}

// refusedByLifetime is how many of u's verified JWTs a maximum lifetime of
// limit would have refused: exactly n, or between n and n+maybe when limit
// falls inside a class.
func (u tokenUse) refusedByLifetime(limit time.Duration) (n, maybe int64) {
	if limit <= 0 {
		return 0, 0
	}
	for class, c := range u.classes {
		switch all, some := identity.LifetimeRefuses(class, limit); {
		case all:
			n += c
		case some:
			maybe += c
		}
	}
	return n, maybe
}

func (h *Handler) schemesPanel(ctx context.Context, p store.Project, st identity.State, errMsg string) (pages.SchemesPanel, error) {
	now := h.now()
	totals, err := h.store.TokenTotals(ctx, p.ID, now.Add(-window))
	if err != nil {
		return pages.SchemesPanel{}, err
	}
	u := sumTokens(totals)
	s := pages.SchemesPanel{
		Project: p.Name, CurrentValue: st.Schemes.String(), CurrentMax: "none", Error: errMsg,
		NoTokens: u.total == 0, JWTWindow: "30 days",
	}
	if st.MaxLifetime > 0 {
		s.CurrentMax = lifetimeName(st.MaxLifetime)
	}
	for _, sc := range []identity.Scheme{identity.SchemeHMACv1, identity.SchemeJWT} {
		name := sc.String()
		label := name
		if sc == identity.SchemeJWT {
			label = "JWT"
		}
		s.Usage = append(s.Usage, pages.SchemeUsage{Scheme: label, Verified: thousands(u.verified[name]), Failed: thousands(u.failed[name])})
	}
	if st.Schemes == identity.AcceptHMACAndJWT {
		seen, err := h.store.TokenSchemeSeen(ctx, p.ID, identity.SchemeJWT.String(), now.Add(-jwtWindow))
		if err != nil {
			return pages.SchemesPanel{}, err
		}
		s.Recommend = !seen
		s.SharedMAC = seen
	}
	s.JWTOnly = st.Schemes == identity.AcceptJWTOnly

	var verified int64
	for _, n := range u.verified {
		verified += n
	}
	for _, c := range schemeChoices {
		o := pages.SchemeOption{Value: c.policy.String(), Label: c.label, Help: c.help, Checked: c.policy == st.Schemes,
			Recommended: s.Recommend && c.policy == identity.AcceptHMACOnly}
		if o.Checked {
			s.Current = c.label
			o.Impact = "The current setting."
		} else {
			var n int64
			var which []string
			for _, sc := range []identity.Scheme{identity.SchemeHMACv1, identity.SchemeJWT} {
				if !c.policy.Accepts(sc) && u.verified[sc.String()] > 0 {
					n += u.verified[sc.String()]
					which = append(which, map[identity.Scheme]string{identity.SchemeHMACv1: "hmac_v1 token", identity.SchemeJWT: "JWT"}[sc])
				}
			}
			o.Impact = refusalText(n, verified, "every one with a verified "+strings.Join(which, " or "))
		}
		s.Options = append(s.Options, o)
	}

	offered := false
	s.Lifetimes = append(s.Lifetimes, pages.LifetimeOption{Value: "0", Label: "None", Selected: st.MaxLifetime == 0})
	for _, c := range identity.LifetimeClasses {
		if c.Bound == 0 {
			continue
		}
		selected := c.Bound == st.MaxLifetime
		offered = offered || selected
		s.Lifetimes = append(s.Lifetimes, lifetimeOption(c.Bound, lifetimeLabels[c.Bound], selected, u))
	}
	if st.MaxLifetime > 0 && !offered { // set with the CLI to another value: keep it choosable
		s.Lifetimes = append(s.Lifetimes, lifetimeOption(st.MaxLifetime, lifetimeName(st.MaxLifetime)+" (set with the CLI)", true, u))
	}
	return s, nil
}

func lifetimeOption(d time.Duration, label string, selected bool, u tokenUse) pages.LifetimeOption {
	n, maybe := u.refusedByLifetime(d)
	switch {
	case maybe > 0:
		label += fmt.Sprintf(" · would refuse %s to %s recent JWTs", thousands(n), thousands(n+maybe))
	case n > 0:
		label += fmt.Sprintf(" · would refuse %s recent JWTs", thousands(n))
	}
	return pages.LifetimeOption{Value: lifetimeName(d), Label: label, Selected: selected}
}

// refusalText says how many of the window's verified events a choice
// would have made fail.
func refusalText(n, verified int64, which string) string {
	if n == 0 {
		return "Would refuse none of the last 24 hours' verified events."
	}
	return fmt.Sprintf("Would refuse %s of the last 24 hours' %s verified events (%s, %s).", thousands(n), thousands(verified), percent(n, verified), which)
}

// lifetimeName writes a lifetime as Go parses it, without zero units: 24h, 1h30m, 15m.
func lifetimeName(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// acceptsWords tell the token checker's user why a token of a known
// scheme was unsupported_scheme.
var acceptsWords = map[identity.SchemePolicy]string{
	identity.AcceptJWTOnly:  "This project accepts JWTs only (Token schemes).",
	identity.AcceptHMACOnly: "This project accepts hmac_v1 tokens only (Token schemes).",
}

// describeSchemes says a setting in words, for the flash after a change.
func describeSchemes(p identity.SchemePolicy, life time.Duration) string {
	s := map[identity.SchemePolicy]string{
		identity.AcceptHMACAndJWT: "hmac_v1 tokens and JWTs are accepted",
		identity.AcceptJWTOnly:    "JWTs only are accepted",
		identity.AcceptHMACOnly:   "hmac_v1 tokens only are accepted",
	}[p]
	switch {
	case p == identity.AcceptHMACOnly:
	case life > 0:
		s += ", with exp at most " + lifetimeName(life) + " ahead"
	default:
		s += ", with no maximum JWT lifetime"
	}
	return s
}

// Schemes serves POST /settings/identity/schemes: the accepted schemes and
// maximum JWT lifetime.
func (h *Handler) Schemes(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p, all, err := h.project(r.Context(), f.Get("project"))
	if err != nil {
		return err
	}
	refuse := func(msg string) error {
		page, err := h.identityPage(r, p, all, pageOptions{schemesError: msg})
		if err != nil {
			return err
		}
		return h.ui.Page(w, r, http.StatusBadRequest, pages.Identity(page))
	}
	policy, err := identity.ParseSchemePolicy(f.Get("schemes"))
	if err != nil {
		return refuse("Choose which tokens to accept: hmac_v1 and JWT, hmac_v1 only, or JWT only.")
	}
	var life time.Duration
	if v := f.Get("max_lifetime"); v != "" && v != "0" {
		if life, err = time.ParseDuration(v); err != nil || identity.CheckMaxLifetime(life) != nil {
			return refuse("The maximum JWT lifetime must be none, or between 1 minute and 365 days.")
		}
	}
	if policy == identity.AcceptHMACOnly {
		life = 0 // no JWT to bound
	}
	st, err := h.store.IdentityState(r.Context(), p.ID)
	if err != nil {
		return err
	}
	if st.Schemes == policy && st.MaxLifetime == life {
		h.auth.SetFlash(w, r, "ok", "Nothing changed for "+p.Name+": "+describeSchemes(policy, life)+".")
		webui.Redirect(w, r, identityURL(p.Name, nil, "schemes"))
		return nil
	}
	if err := h.manager.SetSchemes(r.Context(), p.ID, policy, life, auth.Actor(r, h.ips)); err != nil {
		return err
	}
	h.auth.SetFlash(w, r, "ok", "Token schemes for "+p.Name+": "+describeSchemes(policy, life)+". Other instances apply it within a second.")
	webui.Redirect(w, r, identityURL(p.Name, nil, "schemes"))
	return nil
}

// overlapPanel reads what each secret verified since the rotation whose
// overlap still runs; not Running otherwise.
func (h *Handler) overlapPanel(ctx context.Context, p store.Project, st identity.State) (pages.OverlapPanel, error) {
	now := h.now()
	prev, ok := st.Previous()
	cur, hasCur := st.Current()
	if !ok || !hasCur || !now.Before(prev.ValidUntil) {
		return pages.OverlapPanel{}, nil
	}
	// When each secret last verified an event: its counters' last_at are
	// exact. A day before the rotation covers the previous secret's last
	// use as the current one, unless it was idle that long.
	since, err := h.store.TokenTotals(ctx, p.ID, cur.CreatedAt.Add(-24*time.Hour))
	if err != nil {
		return pages.OverlapPanel{}, err
	}
	hour, err := h.store.TokenTotals(ctx, p.ID, now.Add(-time.Hour))
	if err != nil {
		return pages.OverlapPanel{}, err
	}
	s, hr := sumTokens(since), sumTokens(hour)
	o := pages.OverlapPanel{
		Running: true, Project: p.Name, RotatedAt: cur.CreatedAt, Until: prev.ValidUntil, PreviousVersion: prev.Version,
		Idle: hr.byVersion[prev.Version] == 0, Strict: st.Strict,
		EndURL: "/settings/identity/end-overlap?" + url.Values{"project": {p.Name}}.Encode(),
	}
	for _, k := range []struct {
		role string
		key  identity.SealedKey
	}{{"Current", cur}, {"Previous", prev}} {
		v := k.key.Version
		o.Secrets = append(o.Secrets, pages.SecretUse{Role: k.role, Version: v, Fingerprint: k.key.Fingerprint,
			LastHour: thousands(hr.byVersion[v]), LastAt: s.lastAt[v]})
	}
	return o, nil
}

// EndOverlapConfirm serves GET /settings/identity/end-overlap: what ending
// the overlap would do, and the form that does it.
func (h *Handler) EndOverlapConfirm(w http.ResponseWriter, r *http.Request) error {
	p, _, err := h.project(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	st, err := h.store.IdentityState(r.Context(), p.ID)
	if err != nil {
		return err
	}
	o, err := h.overlapPanel(r.Context(), p, st)
	if err != nil {
		return err
	}
	return h.ui.Page(w, r, http.StatusOK, pages.EndOverlapConfirm(pages.EndOverlapPage{
		Chrome: h.ui.Chrome(r, "End the overlap", layout.NavIdentity), Project: p.Name, Overlap: o,
		BackURL: identityURL(p.Name, nil, "secret"),
	}))
}

// EndOverlap serves POST /settings/identity/end-overlap. The form names
// the previous secret it was made for, so a form left open across another
// rotation does not end the new overlap.
func (h *Handler) EndOverlap(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p, _, err := h.project(r.Context(), f.Get("project"))
	if err != nil {
		return err
	}
	version, err := strconv.Atoi(f.Get("version"))
	if err != nil || version < 1 {
		return webui.Errorf(webui.Invalid, "The form is missing the version of the secret whose overlap it ends.")
	}
	back := identityURL(p.Name, nil, "secret")
	ended, err := h.manager.EndOverlap(r.Context(), p.ID, version, auth.Actor(r, h.ips))
	switch {
	case errors.Is(err, identity.ErrNoOverlap):
		h.auth.SetFlash(w, r, "ok", "The overlap had already ended: only the current secret verifies.")
	case errors.Is(err, identity.ErrVersionChanged):
		h.auth.SetFlash(w, r, "error", "Nothing was ended: the secret was rotated again since that page was opened. Look at the counts again before ending the new overlap.")
	case err != nil:
		return err
	default:
		h.auth.SetFlash(w, r, "ok", fmt.Sprintf("The overlap ended: secret v%d no longer verifies for %s; other instances apply it within a second.", ended, p.Name))
	}
	webui.Redirect(w, r, back)
	return nil
}

// jwtClaims decodes a JWT for the token checker, without verifying it.
func jwtClaims(token string, now time.Time) *pages.JWTClaims {
	info, r := identity.InspectJWT(token)
	c := &pages.JWTClaims{Alg: info.Alg, Decoded: r == identity.Verified}
	if !c.Decoded {
		return c
	}
	c.Subject, c.IssuedAt, c.NotBefore, c.ExpiresAt = info.Subject, info.IssuedAt, info.NotBefore, info.ExpiresAt
	if !c.ExpiresAt.IsZero() {
		c.ExpiresIn = relative(c.ExpiresAt, now)
	}
	if len(info.Traits) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, info.Traits, "", "  ") == nil {
			c.Traits = b.String()
		} else {
			c.Traits = string(info.Traits)
		}
	}
	return c
}

// relative says t against now: "in 52 minutes", "3 hours ago".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < 2*time.Hour:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 72*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(math.Round(d.Hours()/24)))
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}
