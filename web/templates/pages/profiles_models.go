package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// ProfilesPage lists a project's profiles.
type ProfilesPage struct {
	Chrome   layout.Chrome
	Project  string
	Projects []ProjectOption // the switcher, when there are several
	Query    string          // the userId prefix searched
	Flagged  bool            // only profiles with flagged traits
	// FlaggedCount is "3" or "10,000+": profiles with flagged traits.
	FlaggedCount string
	FlaggedURL   string
	Rows         []ProfileRow
	NextURL      string
	FirstURL     string
}

// ProfileRow is one profile in the list.
type ProfileRow struct {
	UserID       string
	URL          string
	UpdatedAt    time.Time
	LastVerified bool
	Flagged      int
	Recorded     bool // provenance recorded since provenance began
}

// ProfilePage is one profile's traits with their provenance.
type ProfilePage struct {
	Chrome       layout.Chrome
	Project      string
	UserID       string
	UpdatedAt    time.Time
	LastVerified bool
	Recorded     bool
	TraitCount   int
	Flagged      []TraitView // flagged traits, also in Traits
	Traits       []TraitView // this page of them, flagged first
	EventsURL    string      // the user's events
	BackURL      string
	NextURL      string // the next page of traits
	PrevURL      string
	Showing      string // "Traits 1–200 of 3,000"
}

// TraitView is one trait's row.
type TraitView struct {
	Key     string
	Value   ValueText // JSON text
	Removed bool
	Known   bool // provenance was recorded for it
	Source  SourceView
	Flagged bool
	Was     SourceView
	WasVal  ValueText
}

// SourceView is the event that set a value.
type SourceView struct {
	At           time.Time
	MessageID    string
	EventURL     string // finds the event on the Events page
	Trust        string // "Signed", "Verified", "Report-only"
	Kind         string // badge kind: ok, warn
	Reason       string // for report-only: the reason
	Removed      bool
	Verification string
}

// ValueText is a value that may be long: its head, and the whole of it when
// the head is not all.
type ValueText struct {
	Head  string
	Full  string // "" when Head is all of it
	Chars string // "30,211"
}
