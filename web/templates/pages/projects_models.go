package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// ProjectsPage lists the projects and creates one.
type ProjectsPage struct {
	Chrome   layout.Chrome
	Projects []ProjectRow
	// CreateName and CreateError re-render the create form after a refusal.
	CreateName  string
	CreateError string
}

// ProjectRow is one project in the list.
type ProjectRow struct {
	Name      string
	URL       string // its page
	PublicKey string
	KeyID     string // the id of the element holding the key, for its copy button
	Rotating  bool   // a replaced key still works
	Origins   string // "any origin" or how many
	Strict    bool
	CreatedAt time.Time
}

// ProjectPage is one project: its keys, origins, name and deletion.
type ProjectPage struct {
	Chrome layout.Chrome
	ID     int64
	// Ref names this project in its forms: its id and creation time, so a
	// form made for a deleted project never changes one made later, even
	// one that got its name and (on SQLite) its id.
	Ref         string
	Name        string
	CreatedAt   time.Time
	IdentityURL string
	DeleteURL   string
	// TTL is how long other instances may keep using what changes here.
	TTL string

	PublicKey string
	// PreviousKey is the key a rotation replaced, working until
	// PreviousUntil (zero: until revoked); "" when none works.
	PreviousKey   string
	PreviousUntil time.Time
	Keeps         []KeepOption
	KeyError      string

	RenameValue string
	RenameError string

	Origins      []string
	OriginsValue string // the text area's content
	OriginsError string
	OnlyOne      bool // the last project cannot be deleted
}

// KeepOption is one choice of how long a replaced public key keeps working.
type KeepOption struct {
	Value   string
	Label   string
	Help    string
	Checked bool
}

// DeleteProjectPage asks for the project's name before deleting it.
type DeleteProjectPage struct {
	Chrome  layout.Chrome
	ID      int64
	Ref     string
	Name    string
	BackURL string
	Typed   string
	Error   string
	OnlyOne bool
}

// describedBy is an aria-describedby value: the hint, and the error when
// there is one (an id that names no element would be read as nothing).
func describedBy(hint, errID string, hasError bool) string {
	if hasError {
		return hint + " " + errID
	}
	return hint
}
