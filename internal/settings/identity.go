package settings

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// pageOptions carries what a POST adds to the Identity page it re-renders.
type pageOptions struct {
	strictError  string
	schemesError string
	checker      *pages.Checker
}

// window is the span the chart and the strict preview look back over.
const window = 24 * time.Hour

func (h *Handler) identityPage(r *http.Request, p store.Project, all []store.Project, opt pageOptions) (pages.IdentityPage, error) {
	ctx := r.Context()
	now := h.now()
	st, err := h.store.IdentityState(ctx, p.ID)
	if err != nil {
		return pages.IdentityPage{}, err
	}
	page := pages.IdentityPage{
		Chrome:    h.ui.Chrome(r, "Identity · "+p.Name, layout.NavIdentity),
		Project:   p.Name,
		PublicKey: p.PublicKey,
		Secret:    h.secretStatus(p, st, now),
		Install:   h.installPanel(r, p.PublicKey),
	}
	if len(all) > 1 {
		for _, o := range all {
			page.Projects = append(page.Projects, pages.ProjectOption{Name: o.Name, Selected: o.ID == p.ID})
		}
	}

	totals, err := h.store.OutcomeTotals(ctx, p.ID, now.Add(-window))
	if err != nil {
		return pages.IdentityPage{}, err
	}
	_, hasSecret := st.Current()
	page.Strict = pages.StrictPanel{Project: p.Name, On: st.Strict, HasSecret: hasSecret, Error: opt.strictError, Impact: impact(totals)}

	hours, err := h.store.HourlyCounts(ctx, p.ID, now.Add(-window+time.Hour), now)
	if err != nil {
		return pages.IdentityPage{}, err
	}
	page.Chart = chart(hours)

	if page.Schemes, err = h.schemesPanel(ctx, p, st, opt.schemesError); err != nil {
		return pages.IdentityPage{}, err
	}
	if page.Overlap, err = h.overlapPanel(ctx, p, st); err != nil {
		return pages.IdentityPage{}, err
	}

	page.Rejections, err = h.rejections(ctx, p, st, r.URL.Query())
	if err != nil {
		return pages.IdentityPage{}, err
	}
	page.Checker = pages.Checker{Project: p.Name}
	if opt.checker != nil {
		page.Checker = *opt.checker
	}
	return page, nil
}

func (h *Handler) secretStatus(p store.Project, st identity.State, now time.Time) pages.SecretStatus {
	s := pages.SecretStatus{RotateURL: "/settings/identity/rotate?" + url.Values{"project": {p.Name}}.Encode(), TTL: webui.Duration(h.verifier.TTL())}
	cur, ok := st.Current()
	if !ok {
		return s
	}
	s.Exists = true
	s.Version = cur.Version
	s.Fingerprint = cur.Fingerprint
	s.RotatedAt = cur.CreatedAt
	s.RotatedBy = cur.CreatedBy
	s.PickedUpBy = cur.CreatedAt.Add(h.verifier.TTL())
	s.PickedUp = !now.Before(s.PickedUpBy)
	if prev, ok := st.Previous(); ok && now.Before(prev.ValidUntil) {
		s.PreviousVersion = prev.Version
		s.PreviousFingerprint = prev.Fingerprint
		s.PreviousValidUntil = prev.ValidUntil
	}
	return s
}

// rejections builds the Recent rejections view from the query's reason
// filter and page cursor.
func (h *Handler) rejections(ctx context.Context, p store.Project, st identity.State, q url.Values) (pages.Rejections, error) {
	now := h.now()
	reason := q.Get("reason")
	if _, ok := identity.ParseReason(reason); !ok || reason == identity.Verified.String() {
		reason = ""
	}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	if before < 0 {
		before = 0
	}
	rows, err := h.store.Rejections(ctx, store.RejectionFilter{ProjectID: p.ID, Reason: reason, BeforeID: before, Limit: rejectionsPerPage + 1})
	if err != nil {
		return pages.Rejections{}, err
	}
	v := pages.Rejections{
		Project:   p.Name,
		Filtered:  reason != "",
		Retention: "The newest " + thousands(int64(h.keep)) + " per project are kept.",
	}
	v.Reasons = append(v.Reasons, pages.ReasonOption{Value: "", Label: "All reasons", Selected: reason == ""})
	for _, rs := range identity.Reasons {
		v.Reasons = append(v.Reasons, pages.ReasonOption{Value: rs.String(), Label: rs.String(), Selected: rs.String() == reason})
	}
	filter := url.Values{"reason": {reason}}
	if len(rows) > rejectionsPerPage {
		rows = rows[:rejectionsPerPage]
		older := url.Values{"reason": {reason}, "before": {strconv.FormatInt(rows[len(rows)-1].ID, 10)}}
		v.OlderURL = identityURL(p.Name, older, "rejections")
	}
	if before > 0 {
		v.NewestURL = identityURL(p.Name, filter, "rejections")
	} else {
		lq := url.Values{"project": {p.Name}}
		if reason != "" {
			lq.Set("reason", reason)
		}
		v.LiveURL = "/settings/identity/rejections?" + lq.Encode()
	}
	for _, x := range rows {
		batch := "—"
		if x.BatchIndex >= 0 {
			batch = strconv.Itoa(x.BatchIndex)
		}
		v.Rows = append(v.Rows, pages.RejectionRow{
			ID: x.ID, At: x.At, Endpoint: x.Endpoint, BatchIndex: batch, EventType: x.EventType,
			UserID: x.UserID, Anonymous: x.AnonymousID, Reason: x.Reason, Enforced: x.Enforced,
			Hint: hint(x.Reason, rotatedOutBefore(st, x.At), now),
		})
	}
	return v, nil
}

// rotatedOutBefore returns when the last secret rotated out at or before t
// stopped being current: the rotation a rotated_secret event at t most
// likely missed. Zero when there is none.
func rotatedOutBefore(st identity.State, t time.Time) time.Time {
	var last time.Time
	for _, k := range st.Keys {
		if !k.RetiredAt.IsZero() && !k.RetiredAt.After(t) && k.RetiredAt.After(last) {
			last = k.RetiredAt
		}
	}
	return last
}

// hint is the one-line fix shown next to a reason.
func hint(reason string, rotatedAt, now time.Time) string {
	switch reason {
	case "no_secret":
		return "The project has no identity secret: create one on this page and set it on your backend."
	case "missing_token":
		return "Send identityToken with the event: sign the userId on your backend and pass the token to the SDK."
	case "missing_user_id":
		return "The event has a token but no userId: send the userId the token was made for."
	case "unsupported_scheme":
		return "Sign with a scheme this project accepts (Token schemes): hmac_v1: as the signing snippets make it, or a JWT with alg HS256."
	case "malformed_token":
		return "The token must be hmac_v1: and 64 lowercase hex digits, or a compact HS256 JWT with a string sub (and exp within the project's maximum JWT lifetime); check how your backend formats it."
	case "expired_token":
		return "The JWT is outside its time: sign a fresh one on every page load or app launch; if fresh ones fail too, the signing backend's clock is ahead (run NTP)."
	case "user_mismatch":
		return "The JWT's sub is another userId: sign exactly the userId the SDK sends, and give the SDK the new token at every login (reset() at logout)."
	case "rotated_secret":
		if rotatedAt.IsZero() {
			return "Your backend still signs with a secret that was rotated out; update SENDORA_IDENTITY_SECRET."
		}
		return "Your backend still signs with the secret rotated out at " + shortTime(rotatedAt, now) + "; update SENDORA_IDENTITY_SECRET."
	case "signature_mismatch":
		return "The token was not made from this exact userId with this project's secret: check the secret your backend uses and sign the userId byte for byte."
	}
	return ""
}

// shortTime is "10:42 UTC", with the date when it is not today (UTC).
func shortTime(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}
