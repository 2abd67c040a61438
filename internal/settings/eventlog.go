package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/components"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// eventsPerPage is one page of the Events page.
const eventsPerPage = 50

// eventTypes are the types an event may have.
var eventTypes = []string{"identify", "track", "page"}

func eventLogURL(project string, q url.Values) string {
	v := url.Values{"project": {project}}
	for k, vs := range q {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	return "/event-log?" + v.Encode()
}

func eventURL(project string, id int64) string {
	return "/event-log/view?" + url.Values{"project": {project}, "id": {strconv.FormatInt(id, 10)}}.Encode()
}

// EventLog serves GET /event-log: a project's latest events, newest first,
// filtered by userId, type, verification and messageId. Each page reads
// at most one window of the events table (store.EventScanWindow); when the
// window ends before the page is full, the page says how far back it
// searched and links to the next window.
func (h *Handler) EventLog(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p, all, err := h.project(ctx, q.Get("project"))
	if err != nil {
		return err
	}
	f := store.EventFilter{ProjectID: p.ID, UserID: param(q, "user"), MessageID: param(q, "message"), Limit: eventsPerPage + 1}
	for _, t := range eventTypes {
		if q.Get("type") == t {
			f.Type = t
		}
	}
	switch v := q.Get("verification"); v {
	case identity.Verified.String(), store.VerificationReportOnly:
		f.Verification = v
	default:
		if _, ok := identity.ParseReason(v); ok {
			f.Verification = v
		}
	}
	if before, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && before > 0 {
		f.BeforeID = before
	}
	res, err := h.store.Events(ctx, f)
	if err != nil {
		return err
	}

	filters := url.Values{"user": {f.UserID}, "message": {f.MessageID}, "type": {f.Type}, "verification": {f.Verification}}
	page := pages.EventsPage{
		Chrome:       h.ui.Chrome(r, "Events · "+p.Name, layout.NavEvents),
		Project:      p.Name,
		Projects:     projectOptions(p, all),
		UserID:       f.UserID,
		MessageID:    f.MessageID,
		Type:         f.Type,
		Verification: f.Verification,
		Filtered:     f.UserID != "" || f.MessageID != "" || f.Type != "" || f.Verification != "",
	}
	page.Types = append(page.Types, pages.FilterOption{Value: "", Label: "Any type", Selected: f.Type == ""})
	for _, t := range eventTypes {
		page.Types = append(page.Types, pages.FilterOption{Value: t, Label: t, Selected: f.Type == t})
	}
	page.Verifications = []pages.FilterOption{
		{Value: "", Label: "Any", Selected: f.Verification == ""},
		{Value: "verified", Label: "Verified", Selected: f.Verification == "verified"},
		{Value: store.VerificationReportOnly, Label: "Report-only, any reason", Selected: f.Verification == store.VerificationReportOnly},
	}
	for _, rs := range identity.Reasons {
		page.Verifications = append(page.Verifications, pages.FilterOption{Value: rs.String(), Label: "Report-only: " + rs.String(), Selected: f.Verification == rs.String()})
	}

	rows := res.Events
	switch {
	case len(rows) > eventsPerPage:
		rows = rows[:eventsPerPage]
		page.OlderURL = eventLogURL(p.Name, with(filters, "before", strconv.FormatInt(rows[len(rows)-1].ID, 10)))
	case res.Older:
		which := "the latest "
		if f.BeforeID > 0 {
			which = ""
		}
		page.Window = "Searched " + which + thousands(res.Before-res.From) + " stored events (of every project), back to those received at " +
			res.FromTime.UTC().Format(components.TimeFormat) + ", and stopped there to keep this page fast."
		page.SearchOlderURL = eventLogURL(p.Name, with(filters, "before", strconv.FormatInt(res.From, 10)))
	case page.Filtered:
		page.Window = "Searched every stored event."
	}
	if f.BeforeID > 0 {
		page.NewestURL = eventLogURL(p.Name, filters)
	}
	for _, e := range rows {
		page.Rows = append(page.Rows, pages.EventRow{
			ID: e.ID, URL: eventURL(p.Name, e.ID), ReceivedAt: e.ReceivedAt, Type: e.Type, Event: e.Event,
			UserID: e.UserID, AnonymousID: e.AnonymousID, MessageID: e.MessageID,
			Verified: e.Verification == identity.Verified.String(), Reason: e.Verification,
		})
	}
	return h.ui.Page(w, r, http.StatusOK, pages.Events(page))
}

// with returns a copy of q with k set to v.
func with(q url.Values, k, v string) url.Values {
	out := url.Values{}
	for key, vs := range q {
		out[key] = append([]string(nil), vs...)
	}
	out.Set(k, v)
	return out
}

// findSlack is how much earlier than its recorded receive time an event is
// searched for: ids grow with arrival, but a group commit may hold events
// received a little before the ones committed ahead of it.
const findSlack = time.Minute

// EventView serves GET /event-log/view: one event, by id, or by messageId
// and receive time (the links of the Profiles page).
func (h *Handler) EventView(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p, _, err := h.project(ctx, q.Get("project"))
	if err != nil {
		return err
	}
	var ev store.LoggedEvent
	switch id, m := q.Get("id"), param(q, "message"); {
	case id != "":
		n, perr := strconv.ParseInt(id, 10, 64)
		if perr != nil || n <= 0 {
			return webui.Errorf(webui.Invalid, "An event id is a positive number.")
		}
		ev, err = h.store.Event(ctx, p.ID, n)
	case m != "":
		at, _ := strconv.ParseInt(q.Get("at"), 10, 64)
		ev, err = h.findEvent(ctx, p, m, at)
	default:
		return webui.Errorf(webui.Invalid, "Which event? Open one from the Events page.")
	}
	if errors.Is(err, store.ErrNotFound) {
		return webui.Errorf(webui.NotFound, "Project %s has no such event stored: retention may have deleted it, or it was refused and never stored.", p.Name)
	}
	if err != nil {
		return err
	}
	page := pages.EventPage{
		Chrome:      h.ui.Chrome(r, "Event · "+p.Name, layout.NavEvents),
		Project:     p.Name,
		ID:          ev.ID,
		MessageID:   ev.MessageID,
		ServerID:    store.IsServerMessageID(ev.MessageID),
		Type:        ev.Type,
		Event:       ev.Event,
		UserID:      ev.UserID,
		AnonymousID: ev.AnonymousID,
		Timestamp:   ev.Timestamp,
		ReceivedAt:  ev.ReceivedAt,
		Verified:    ev.Verification == identity.Verified.String(),
		Reason:      ev.Verification,
		Traits:      indentJSON(ev.Traits),
		Properties:  indentJSON(ev.Properties),
		Context:     indentJSON(ev.Context),
		BackURL:     eventLogURL(p.Name, nil),
	}
	if ev.UserID != "" {
		page.UserURL = eventLogURL(p.Name, url.Values{"user": {ev.UserID}})
		if ev.Type == "identify" {
			page.ProfileURL = profileURL(p.Name, ev.UserID)
		}
	}
	return h.ui.Page(w, r, http.StatusOK, pages.Event(page))
}

// findEvent finds the event with messageId m received at at (Unix ms; 0
// when unknown, then among the newest events): one window of the events
// table from just before that time.
func (h *Handler) findEvent(ctx context.Context, p store.Project, m string, at int64) (store.LoggedEvent, error) {
	f := store.EventFilter{ProjectID: p.ID, MessageID: m, Limit: 1}
	if at > 0 {
		from, err := h.store.EventIDAt(ctx, time.UnixMilli(at).Add(-findSlack))
		if err != nil {
			return store.LoggedEvent{}, err
		}
		f.BeforeID = from + store.EventScanWindow
	}
	res, err := h.store.Events(ctx, f)
	if err != nil {
		return store.LoggedEvent{}, err
	}
	if len(res.Events) == 0 {
		return store.LoggedEvent{}, store.ErrNotFound
	}
	return h.store.Event(ctx, p.ID, res.Events[0].ID)
}

// indentJSON lays stored JSON out for reading, every token as stored (a
// string keeps its escapes, a number its digits).
func indentJSON(raw string) string {
	if raw == "" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(raw), "", "  "); err != nil {
		return raw
	}
	return b.String()
}
