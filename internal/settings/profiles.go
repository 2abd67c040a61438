package settings

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// Page sizes and bounds of the Profiles pages.
const (
	profilesPerPage = 50
	// traitsPerPage bounds one page of a profile's traits: a profile may
	// hold thousands.
	traitsPerPage = 200
	// flaggedCountLimit bounds the count of flagged profiles (it reads that
	// many rows of the flagged index at most).
	flaggedCountLimit = 10_000
	// valueHead is how many characters of a value a table cell shows; the
	// rest is behind a "Show all" disclosure.
	valueHead = 120
	// maxParam bounds a search or lookup value (a userId is at most 8 KiB).
	maxParam = 8 << 10
)

// param reads a text parameter as the store can compare it: valid UTF-8,
// at most maxParam bytes.
func param(q url.Values, name string) string {
	s := strings.ToValidUTF8(q.Get(name), "\uFFFD")
	if len(s) > maxParam {
		s = s[:maxParam]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func profilesURL(project string, q url.Values) string {
	v := url.Values{"project": {project}}
	for k, vs := range q {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	return "/profiles?" + v.Encode()
}

func profileURL(project, user string) string {
	return "/profiles/view?" + url.Values{"project": {project}, "user": {user}}.Encode()
}

// Profiles serves GET /profiles: a project's profiles in userId order,
// searched by userId prefix, optionally only the flagged ones, with how
// many are flagged.
func (h *Handler) Profiles(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p, all, err := h.project(ctx, q.Get("project"))
	if err != nil {
		return err
	}
	prefix, after, flagged := param(q, "q"), param(q, "after"), q.Get("flagged") == "1"
	rows, err := h.store.Profiles(ctx, store.ProfileFilter{ProjectID: p.ID, Prefix: prefix, After: after, Flagged: flagged, Limit: profilesPerPage + 1})
	if err != nil {
		return err
	}
	n, err := h.store.CountFlaggedProfiles(ctx, p.ID, flaggedCountLimit+1)
	if err != nil {
		return err
	}
	page := pages.ProfilesPage{
		Chrome:     h.ui.Chrome(r, "Profiles · "+p.Name, layout.NavProfiles),
		Project:    p.Name,
		Query:      prefix,
		Flagged:    flagged,
		FlaggedURL: profilesURL(p.Name, url.Values{"flagged": {"1"}}),
	}
	if n > 0 {
		page.FlaggedCount = thousands(int64(min(n, flaggedCountLimit)))
		if n > flaggedCountLimit {
			page.FlaggedCount += "+"
		}
	}
	page.Projects = projectOptions(p, all)
	filter := url.Values{"q": {prefix}}
	if flagged {
		filter.Set("flagged", "1")
	}
	if len(rows) > profilesPerPage {
		rows = rows[:profilesPerPage]
		next := url.Values{"q": {prefix}, "flagged": filter["flagged"], "after": {rows[len(rows)-1].UserID}}
		page.NextURL = profilesURL(p.Name, next)
	}
	if after != "" {
		page.FirstURL = profilesURL(p.Name, filter)
	}
	for _, x := range rows {
		page.Rows = append(page.Rows, pages.ProfileRow{
			UserID: x.UserID, URL: profileURL(p.Name, x.UserID), UpdatedAt: x.UpdatedAt,
			LastVerified: x.LastVerified, Flagged: x.Flagged, Recorded: x.Recorded,
		})
	}
	return h.ui.Page(w, r, http.StatusOK, pages.Profiles(page))
}

// ProfileView serves GET /profiles/view?user=…: one profile's traits, each
// with the event that set it and how far that event is trusted, the
// flagged ones first and, above everything, what they replaced.
func (h *Handler) ProfileView(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p, _, err := h.project(ctx, q.Get("project"))
	if err != nil {
		return err
	}
	user := param(q, "user")
	if user == "" {
		return webui.Errorf(webui.Invalid, "Which profile? Open one from the Profiles page.")
	}
	pr, err := h.store.Profile(ctx, p.ID, user)
	if errors.Is(err, store.ErrNotFound) {
		return webui.Errorf(webui.NotFound, "Project %s has no profile with this userId: no identify event was stored for it.", p.Name)
	}
	if err != nil {
		return err
	}
	traits, err := pr.TraitList()
	if err != nil {
		return err
	}
	// Flagged first, each group in the profile's order.
	slices.SortStableFunc(traits, func(a, b store.Trait) int {
		switch {
		case a.Flagged == b.Flagged:
			return 0
		case a.Flagged:
			return -1
		}
		return 1
	})
	page := pages.ProfilePage{
		Chrome:       h.ui.Chrome(r, "Profile · "+p.Name, layout.NavProfiles),
		Project:      p.Name,
		UserID:       pr.UserID,
		UpdatedAt:    pr.UpdatedAt,
		LastVerified: pr.LastVerified,
		Recorded:     pr.Provenance != nil,
		TraitCount:   len(traits),
		EventsURL:    eventLogURL(p.Name, url.Values{"user": {pr.UserID}}),
		BackURL:      profilesURL(p.Name, nil),
	}
	for _, t := range traits {
		if t.Flagged {
			page.Flagged = append(page.Flagged, h.traitView(p.Name, t))
		}
	}
	from, _ := strconv.Atoi(q.Get("from"))
	from = max(0, min(from, len(traits)))
	to := min(from+traitsPerPage, len(traits))
	if len(traits) > traitsPerPage {
		page.Showing = "Traits " + thousands(int64(from+1)) + "–" + thousands(int64(to)) + " of " + thousands(int64(len(traits))) + "."
		base := url.Values{"project": {p.Name}, "user": {pr.UserID}}
		if to < len(traits) {
			next := url.Values{"project": base["project"], "user": base["user"], "from": {strconv.Itoa(to)}}
			page.NextURL = "/profiles/view?" + next.Encode() + "#traits"
		}
		if from > 0 {
			prev := url.Values{"project": base["project"], "user": base["user"], "from": {strconv.Itoa(max(0, from-traitsPerPage))}}
			page.PrevURL = "/profiles/view?" + prev.Encode() + "#traits"
		}
	}
	for _, t := range traits[from:to] {
		page.Traits = append(page.Traits, h.traitView(p.Name, t))
	}
	return h.ui.Page(w, r, http.StatusOK, pages.Profile(page))
}

func (h *Handler) traitView(project string, t store.Trait) pages.TraitView {
	v := pages.TraitView{Key: t.Key, Value: valueText(t.Value), Removed: t.Source.Removed, Known: t.Known, Flagged: t.Flagged}
	if t.Known {
		v.Source = sourceView(project, t.Source)
	}
	if t.Flagged {
		v.Was = sourceView(project, t.Was.TraitSource)
		v.WasVal = valueText(t.Was.Value)
	}
	return v
}

// sourceView describes the event that set a value, with a link that finds
// it on the Events page.
func sourceView(project string, s store.TraitSource) pages.SourceView {
	v := pages.SourceView{At: s.At, MessageID: s.MessageID, Removed: s.Removed, Verification: s.Verification,
		EventURL: findEventURL(project, s.MessageID, s.At)}
	switch s.Trust() {
	case 2:
		v.Trust, v.Kind = "Signed", "ok"
	case 1:
		v.Trust, v.Kind = "Verified", "ok"
	default:
		v.Trust, v.Kind, v.Reason = "Report-only", "warn", s.Verification
	}
	return v
}

// valueText cuts a long value for a table cell, keeping all of it behind
// a disclosure.
func valueText(s string) pages.ValueText {
	n := utf8.RuneCountInString(s)
	if n <= valueHead {
		return pages.ValueText{Head: s}
	}
	cut := 0
	for range valueHead {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
	}
	return pages.ValueText{Head: s[:cut] + "…", Full: s, Chars: thousands(int64(n))}
}

// findEventURL opens the event with messageId m received at at.
func findEventURL(project, m string, at time.Time) string {
	v := url.Values{"project": {project}, "message": {m}}
	if !at.IsZero() {
		v.Set("at", strconv.FormatInt(at.UnixMilli(), 10))
	}
	return "/event-log/view?" + v.Encode()
}

func projectOptions(p store.Project, all []store.Project) []pages.ProjectOption {
	if len(all) < 2 {
		return nil
	}
	var out []pages.ProjectOption
	for _, o := range all {
		out = append(out, pages.ProjectOption{Name: o.Name, Selected: o.ID == p.ID})
	}
	return out
}
