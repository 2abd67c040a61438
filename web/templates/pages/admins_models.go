package pages

import (
	"time"

	"github.com/sendora/sendora/web/templates/layout"
)

// AdminsPage lists the admins and pending invitations, and invites one.
type AdminsPage struct {
	Chrome      layout.Chrome
	Admins      []AdminRow
	Invites     []InviteRow
	InviteEmail string // the invite form's value after a refusal
	Error       string // why the last invitation or removal was refused
	InviteTTL   string // how long an invitation link works, for people
}

// AdminRow is one admin.
type AdminRow struct {
	Email       string
	CreatedAt   time.Time
	LastLoginAt time.Time // zero: never signed in
	You         bool      // the signed-in admin
}

// InviteRow is one pending invitation (never its link).
type InviteRow struct {
	Email     string
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// InviteLinkPage shows a new invitation link exactly once.
type InviteLinkPage struct {
	Chrome    layout.Chrome
	Email     string
	Link      string
	ExpiresAt time.Time
}

// RemoveAdminPage asks before removing an admin.
type RemoveAdminPage struct {
	Chrome   layout.Chrome
	Email    string
	You      bool // removing oneself signs this browser out
	Last     bool // the only admin: refused, no form
	Sessions int  // the admin's sessions that would end
}

// AcceptInvitePage lets an invited person choose a password.
type AcceptInvitePage struct {
	Chrome      layout.Chrome
	Token       string // carried in the form, never in a redirect
	Email       string
	InvitedBy   string
	Error       string
	Invalid     bool // unknown, used, replaced or expired: no form
	MinPassword int
}
