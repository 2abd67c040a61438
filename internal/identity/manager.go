package identity

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoSecret refuses strict mode for a project that has no secret.
var ErrNoSecret = errors.New("strict identity needs an identity secret: rotate one first")

// ErrBadOverlap refuses an overlap outside 0..MaxOverlap.
var ErrBadOverlap = errors.New("overlap must be between 0 and 24h")

// MaxOverlap is the longest a replaced secret may keep verifying.
const MaxOverlap = 24 * time.Hour

// DefaultOverlap is how long a replaced secret keeps verifying unless the
// admin chooses otherwise, in the dashboard and the CLI alike: time to
// redeploy a backend with the new secret. A leaked secret is rotated with
// none, which the admin chooses.
const DefaultOverlap = time.Hour

// Actor says who made a change, for the audit log.
type Actor struct {
	Name string // an admin's email, or "cli"
	IP   string // empty for the CLI
}

// Rotation is one secret rotation as the store must apply it, atomically:
// the new sealed secret becomes current; the current one becomes previous
// until At+Overlap (or retired at once when Overlap is 0); an earlier
// previous one is retired; retired secrets beyond KeepRetired are deleted;
// an audit entry records Actor, the new version and Fingerprint.
type Rotation struct {
	Sealed      []byte
	Fingerprint string
	Overlap     time.Duration
	At          time.Time
	Actor       Actor
	KeepRetired int
	// FromVersion, when not AnyVersion, is the current version the
	// rotation was asked against (0: no secret yet). The store refuses
	// with ErrVersionChanged when the current version differs, so a
	// resubmitted form or a second admin on another instance does not
	// throw away a secret someone may already have deployed.
	FromVersion int
}

// AnyVersion rotates whatever the current version is.
const AnyVersion = -1

// ErrVersionChanged refuses a rotation asked against a version that is no
// longer current.
var ErrVersionChanged = errors.New("the identity secret was rotated since this rotation was asked for")

// StrictChange is one strict-mode toggle as the store must apply it: it
// fails with ErrNoSecret when turning on a project without a current secret,
// and writes an audit entry.
type StrictChange struct {
	On    bool
	At    time.Time
	Actor Actor
}

// SchemesChange sets a project's accepted token schemes and maximum JWT
// lifetime, as the store must apply it: in one transaction with an audit
// entry, so servers elsewhere learn of it as of a rotation.
type SchemesChange struct {
	Schemes     SchemePolicy
	MaxLifetime time.Duration // 0: none
	At          time.Time
	Actor       Actor
}

// OverlapEnd stops the previous secret verifying before its overlap runs
// out, as the store must apply it: the previous secret, if it is still
// inside its overlap and is Version (unless AnyVersion), is retired at At,
// with an audit entry. Otherwise the store fails with ErrNoOverlap (none
// runs) or ErrVersionChanged (another secret is previous now: a rotation
// came between) and nothing changes.
type OverlapEnd struct {
	Version int
	At      time.Time
	Actor   Actor
}

// ErrNoOverlap says no previous secret is verifying: there is no overlap
// to end.
var ErrNoOverlap = errors.New("no overlap is running: the previous secret already does not verify")

// Store is what the Manager needs from storage.
type Store interface {
	StateLoader
	RotateSecret(ctx context.Context, projectID int64, r Rotation) (version int, err error)
	SetStrict(ctx context.Context, projectID int64, c StrictChange) error
	SetSchemes(ctx context.Context, projectID int64, c SchemesChange) error
	EndOverlap(ctx context.Context, projectID int64, e OverlapEnd) (version int, err error)
}

// Manager makes identity changes: it rotates secrets, ends overlaps,
// toggles strict mode and sets the accepted schemes through the store, then invalidates this process's verifier cache so
// the change takes effect here at once.
type Manager struct {
	store    Store
	sealer   *Sealer
	verifier *Verifier
}

// NewManager returns a Manager. verifier may be nil in processes that do
// not verify (the CLI).
func NewManager(store Store, sealer *Sealer, verifier *Verifier) *Manager {
	return &Manager{store: store, sealer: sealer, verifier: verifier}
}

func (m *Manager) now() time.Time {
	if m.verifier != nil {
		return m.verifier.Now()
	}
	return time.Now()
}

// Rotated is the outcome of a rotation. Secret is the only copy of the new
// value outside the sealed store: show it once and drop it.
type Rotated struct {
	Secret  Secret
	Version int
}

// Rotate generates a new secret for the project and makes it current.
func (m *Manager) Rotate(ctx context.Context, projectID int64, overlap time.Duration, actor Actor) (Rotated, error) {
	return m.RotateFrom(ctx, projectID, AnyVersion, overlap, actor)
}

// RotateFrom rotates only if fromVersion is still the current version
// (0: the project has no secret yet); otherwise it fails with
// ErrVersionChanged and nothing changes.
func (m *Manager) RotateFrom(ctx context.Context, projectID int64, fromVersion int, overlap time.Duration, actor Actor) (Rotated, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return Rotated{}, ErrBadOverlap
	}
	secret := NewSecret()
	version, err := m.store.RotateSecret(ctx, projectID, Rotation{
		Sealed:      m.sealer.SealSecret(projectID, secret),
		Fingerprint: secret.Fingerprint(),
		Overlap:     overlap,
		At:          m.now(),
		Actor:       actor,
		KeepRetired: KeepRetired,
		FromVersion: fromVersion,
	})
	if err != nil {
		return Rotated{}, fmt.Errorf("identity: rotate secret: %w", err)
	}
	m.invalidate(projectID)
	return Rotated{Secret: secret, Version: version}, nil
}

// SetStrict turns strict mode on or off for the project.
func (m *Manager) SetStrict(ctx context.Context, projectID int64, on bool, actor Actor) error {
	if err := m.store.SetStrict(ctx, projectID, StrictChange{On: on, At: m.now(), Actor: actor}); err != nil {
		return fmt.Errorf("identity: set strict: %w", err)
	}
	m.invalidate(projectID)
	return nil
}

// SetSchemes sets the token schemes the project accepts and the maximum
// lifetime of its JWTs (0: none). It fails with ErrBadLifetime for a
// lifetime outside its bounds.
func (m *Manager) SetSchemes(ctx context.Context, projectID int64, schemes SchemePolicy, maxLifetime time.Duration, actor Actor) error {
	if err := CheckMaxLifetime(maxLifetime); err != nil {
		return err
	}
	if schemes > AcceptHMACOnly {
		return ErrBadSchemes
	}
	if err := m.store.SetSchemes(ctx, projectID, SchemesChange{Schemes: schemes, MaxLifetime: maxLifetime, At: m.now(), Actor: actor}); err != nil {
		return fmt.Errorf("identity: set schemes: %w", err)
	}
	m.invalidate(projectID)
	return nil
}

// EndOverlap stops the previous secret verifying now, before its overlap
// runs out, and returns its version. version is the previous secret's
// version the caller saw (a form's), or AnyVersion. It fails with
// ErrNoOverlap when no overlap runs (ended already, or run out) and with
// ErrVersionChanged when another secret is previous now.
func (m *Manager) EndOverlap(ctx context.Context, projectID int64, version int, actor Actor) (int, error) {
	ended, err := m.store.EndOverlap(ctx, projectID, OverlapEnd{Version: version, At: m.now(), Actor: actor})
	if err != nil {
		return 0, fmt.Errorf("identity: end overlap: %w", err)
	}
	m.invalidate(projectID)
	return ended, nil
}

func (m *Manager) invalidate(projectID int64) {
	if m.verifier != nil {
		m.verifier.Invalidate(projectID)
	}
}
