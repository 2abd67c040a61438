package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// EventsPage lists a project's latest events.
type EventsPage struct {
	Chrome   layout.Chrome
	Project  string
	Projects []ProjectOption
	// The filters as submitted.
	UserID        string
	MessageID     string
	Type          string
	Verification  string
	Types         []FilterOption
	Verifications []FilterOption
	Filtered      bool
	Rows          []EventRow
	// Paging: OlderURL continues after the last row (the page is full);
	// when the search window ended first, Window says what was searched
	// and SearchOlderURL searches the next window.
	OlderURL       string
	NewestURL      string
	Window         string
	SearchOlderURL string
	Complete       bool // every stored event was searched
}

// FilterOption is an option of a filter select.
type FilterOption struct {
	Value, Label string
	Selected     bool
}

// EventRow is one event in the list.
type EventRow struct {
	ID          int64
	URL         string
	ReceivedAt  time.Time
	Type        string
	Event       string
	UserID      string
	AnonymousID string
	MessageID   string
	Verified    bool
	Reason      string
}

// EventPage is one event with everything stored of it.
type EventPage struct {
	Chrome      layout.Chrome
	Project     string
	ID          int64
	MessageID   string
	ServerID    bool // the server assigned the messageId
	Type        string
	Event       string
	UserID      string
	AnonymousID string
	Timestamp   time.Time
	ReceivedAt  time.Time
	Verified    bool
	Reason      string
	Traits      string // indented JSON, "" when absent
	Properties  string
	Context     string
	ProfileURL  string
	UserURL     string // the user's events
	BackURL     string
}
