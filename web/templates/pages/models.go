// Package pages holds the dashboard's pages. Each takes a view-model struct
// built by its handler, never a database row, so a page shows exactly what
// its handler decided to show.
package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// ErrorPage is a 4xx or 5xx page.
type ErrorPage struct {
	Chrome  layout.Chrome
	Status  int
	Heading string
	Message string
}

// SetupPage creates the first admin.
type SetupPage struct {
	Chrome      layout.Chrome
	Token       string // carried in the form, never in a redirect
	Email       string
	Error       string
	Invalid     bool // the link is unknown, used or expired: no form
	MinPassword int
}

// LoginPage signs an admin in.
type LoginPage struct {
	Chrome layout.Chrome
	Email  string
	Next   string
	Error  string
	// NoAdmin: nobody can sign in yet; point to the setup link.
	NoAdmin bool
}

// AccountPage shows the signed-in admin and changes their password.
type AccountPage struct {
	Chrome            layout.Chrome
	Email             string
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	SessionStarted    time.Time
	SessionExpires    time.Time
	IdleTimeout       string
	Error             string
	MinPassword       int
}

// ProjectOption is one entry of the project switcher.
type ProjectOption struct {
	Name     string
	Selected bool
}

// SecretStatus describes a project's identity secret without revealing it.
type SecretStatus struct {
	Exists      bool
	Version     int
	Fingerprint string
	RotatedAt   time.Time
	RotatedBy   string
	// The replaced secret while it still verifies (the rotation's overlap).
	PreviousVersion     int
	PreviousFingerprint string
	PreviousValidUntil  time.Time
	// PickedUpBy is when every other instance will use the current secret:
	// the rotation time plus the verifier cache TTL.
	PickedUpBy time.Time
	PickedUp   bool
	TTL        string
	RotateURL  string
}

// ReasonCount is how many events would fail for one reason.
type ReasonCount struct {
	Reason string
	N      string // formatted: "1,204"
}

// Impact previews strict mode from the last 24 hours' counters.
type Impact struct {
	// Summary is the sentence admins read: "412 of 10,380 events (4.0%)
	// would be rejected: 390 missing_token, 22 signature_mismatch".
	Summary  string
	Total    int64
	Rejected int64
	ByReason []ReasonCount
	// Unknown counts events received while the project had no secret;
	// whether they would verify cannot be known, so they are left out.
	Unknown string
}

// StrictPanel is the Strict identity toggle.
type StrictPanel struct {
	Project   string
	On        bool
	HasSecret bool
	Error     string
	Impact    Impact
}

// ChartTick is an axis label at a position in chart coordinates.
type ChartTick struct {
	Pos   float64
	Label string
}

// ChartSegment is one coloured part of a stacked bar.
type ChartSegment struct {
	Class string // seg-verified, seg-report, seg-rejected
	Y, H  float64
}

// ChartBar is one hour.
type ChartBar struct {
	X, W     float64
	Segments []ChartSegment
	Title    string // "10:00–11:00 UTC: 120 verified, 3 report-only, 0 rejected"
}

// ChartRow is one hour in the table alternative to the chart.
type ChartRow struct {
	Hour       string
	Verified   string
	ReportOnly string
	Rejected   string
}

// Chart is the last 24 hours as stacked bars, laid out by the handler in
// an SVG coordinate space of Width × Height.
type Chart struct {
	Width, Height float64
	PlotTop       float64
	PlotBottom    float64
	PlotLeft      float64
	PlotRight     float64
	Bars          []ChartBar
	YTicks        []ChartTick
	XTicks        []ChartTick
	Rows          []ChartRow
	Verified      string
	ReportOnly    string
	Rejected      string
	Description   string
	Empty         bool
}

// RejectionRow is one rejection as the viewer shows it; never a token.
type RejectionRow struct {
	ID         int64
	At         time.Time
	Endpoint   string
	BatchIndex string // "—" for POST /events
	EventType  string
	UserID     string
	Anonymous  string
	Reason     string
	Hint       string
	Enforced   bool
}

// ReasonOption is one choice of the reason filter.
type ReasonOption struct {
	Value    string
	Label    string
	Selected bool
}

// Rejections is the Recent rejections table with its filter and pager.
type Rejections struct {
	Project   string
	Reasons   []ReasonOption
	Filtered  bool
	Rows      []RejectionRow
	OlderURL  string
	NewestURL string // set on older pages
	// LiveURL is the fragment the script reloads; set on the newest page only.
	LiveURL   string
	Retention string
}

// Checker is the token checker form and its verdict.
type Checker struct {
	Project string
	UserID  string
	Token   string
	Done    bool
	OK      bool
	Reason  string
	Message string
	Hint    string
	Scheme  string     // "hmac_v1", "jwt" or "": what the token looks like
	JWT     *JWTClaims // what a JWT says of itself, decoded unverified
}

// InstallPanel shows how to add the browser SDK to a site.
type InstallPanel struct {
	// Endpoint is the server's URL for sites; guessed from the page's own
	// address when no --public-url is set.
	Endpoint        string
	EndpointGuessed bool
	ScriptURL       string // pinned: content-hashed
	Integrity       string // its Subresource Integrity hash
	PlainURL        string // always the current build
	PlainCache      string // how long browsers keep PlainURL: "5 min"
	ScriptTag       string // the tags to paste
	Module          string // the same as an ES module
	Identify        string // the line the backend renders for a signed-in user
	Events          string // page and track calls
	Reset           string
	Snippets        []Snippet // signing code for the backend
}

// IdentityPage is Settings → Identity for one project.
type IdentityPage struct {
	Chrome     layout.Chrome
	Projects   []ProjectOption // the switcher shows when there are several
	Project    string
	PublicKey  string
	Secret     SecretStatus
	Strict     StrictPanel
	Chart      Chart
	Rejections Rejections
	Checker    Checker
	Install    InstallPanel
	Schemes    SchemesPanel // claims_models.go
	Overlap    OverlapPanel
}

// OverlapOption is one choice of how long the replaced secret keeps verifying.
type OverlapOption struct {
	Value   string
	Label   string
	Help    string
	Checked bool
}

// RotateConfirmPage asks before rotating.
type RotateConfirmPage struct {
	Chrome      layout.Chrome
	Project     string
	HasSecret   bool
	Version     int
	Fingerprint string
	Strict      bool
	TTL         string
	Overlaps    []OverlapOption
	Error       string
	// DefaultOverlap is the overlap checked first, as the CLI's default ("1 hour").
	DefaultOverlap string
	// SharedMAC: the project accepts hmac_v1 and JWT tokens (the risk).
	SharedMAC bool
}

// Snippet is signing code in one language.
type Snippet struct {
	ID       string
	Language string
	Code     string
}

// NewSecretPage shows a new secret, once.
type NewSecretPage struct {
	Chrome        layout.Chrome
	Project       string
	Version       int
	Fingerprint   string
	Secret        string
	EnvLine       string
	Overlap       string
	PreviousUntil time.Time
	PickedUpBy    time.Time
	Snippets      []Snippet
	JWTSnippets   []Snippet
	SharedMAC     bool // the project accepts hmac_v1 and JWT tokens
	BackURL       string
}

// AuditRow is one audit log entry.
type AuditRow struct {
	At      time.Time
	Actor   string
	Action  string
	Label   string
	Kind    string // badge kind
	Project string
	Detail  string
	IP      string
}

// AuditPage is the audit log, newest first.
type AuditPage struct {
	Chrome    layout.Chrome
	Rows      []AuditRow
	OlderURL  string
	NewestURL string
}
