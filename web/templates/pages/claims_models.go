package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// The view models of signed claims on Settings → Identity: the accepted
// token schemes and maximum JWT lifetime, the rotation's per-secret
// counts and ending its overlap, and what the token checker decodes of a
// JWT.

// SchemesPanel is the Token schemes panel: which token schemes the project
// accepts and how long its JWTs may live, with what each choice would have
// done to the last 24 hours' events.
type SchemesPanel struct {
	Project string
	// Current says the setting in words; CurrentValue is the policy's
	// value ("hmac_v1,jwt", "jwt", "hmac_v1").
	Current      string
	CurrentValue string
	CurrentMax   string // "none" or "24h"
	// Usage is the last 24 hours' events with a token, per scheme.
	Usage    []SchemeUsage
	NoTokens bool // no event in the window carried a token
	Options  []SchemeOption
	// Lifetimes are the maximum JWT lifetimes offered, each saying how many
	// of the window's verified JWTs it would have refused.
	Lifetimes []LifetimeOption
	// Recommend: the project accepts JWTs but none arrived in JWTWindow,
	// so hmac_v1 alone is recommended (the shared-MAC risk).
	Recommend bool
	JWTWindow string // "30 days"
	// SharedMAC: the project accepts both schemes (the risk explained);
	// JWTOnly: it accepts JWTs only (safe only without hmac_v1 signing).
	SharedMAC bool
	JWTOnly   bool
	Error     string
}

// SchemeUsage is one scheme's events in the window.
type SchemeUsage struct {
	Scheme   string // "hmac_v1", "JWT"
	Verified string // formatted counts
	Failed   string
}

// SchemeOption is one choice of accepted schemes.
type SchemeOption struct {
	Value       string // "hmac_v1,jwt", "jwt", "hmac_v1"
	Label       string
	Help        string
	Impact      string // "Would refuse 1,204 …" or "Would refuse none …"
	Checked     bool
	Recommended bool
}

// LifetimeOption is one choice of maximum JWT lifetime.
type LifetimeOption struct {
	Value    string // "0" (none) or a Go duration: "1h"
	Label    string // with its impact: "1 hour · would refuse 12"
	Selected bool
}

// SecretUse is what one secret verified during an overlap.
type SecretUse struct {
	Role        string // "Current" or "Previous"
	Version     int
	Fingerprint string
	LastHour    string    // events verified in the last hour, formatted
	LastAt      time.Time // the last event it verified; zero: none in the day before the rotation or since
}

// OverlapPanel shows, while a rotation's overlap runs, which secret the
// project's backends still sign with, and ends it.
type OverlapPanel struct {
	Running   bool
	Project   string
	RotatedAt time.Time
	Until     time.Time // the end of the overlap
	Secrets   []SecretUse
	// PreviousVersion is the secret the End overlap form is made for.
	PreviousVersion int
	// Idle: the previous secret verified nothing in the last hour.
	Idle   bool
	EndURL string // the confirmation page
	Strict bool
}

// EndOverlapPage confirms ending an overlap. Without one running it says
// so and offers no form.
type EndOverlapPage struct {
	Chrome  layout.Chrome
	Project string
	Overlap OverlapPanel
	BackURL string
}

// JWTClaims is what the token checker decodes of a JWT, unverified; never
// the secret.
type JWTClaims struct {
	Alg       string
	Subject   string
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time
	ExpiresAt time.Time
	// ExpiresIn says exp against now: "in 52 minutes", "2 hours ago".
	ExpiresIn string
	Traits    string // the traits claim as indented JSON; "" when absent
	Decoded   bool   // the claims decoded (else only Alg may be known)
}
