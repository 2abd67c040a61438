package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"time"
)

// The one-time first-run link. Its token is printed once to the log (that
// is how the operator, who can read the log, proves to the dashboard that
// they run this server); the database keeps only its SHA-256, so any
// instance sharing the database accepts a link another one printed. It
// works until it expires or any admin exists: creating an admin deletes
// every link.

// AnnounceSetup prints a one-time setup link to the log when no admin
// exists yet, and returns it ("" when there are admins). publicURL is the
// dashboard's base URL as admins reach it.
func (s *Service) AnnounceSetup(ctx context.Context, publicURL string) (string, error) {
	n, err := s.store.CountAdmins(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	expires := s.now().Add(s.setupTTL)
	sum := sha256.Sum256([]byte(token))
	if err := s.store.CreateSetupLink(ctx, sum[:], expires); err != nil {
		return "", err
	}

	link := publicURL + "/setup?token=" + url.QueryEscape(token)
	s.log.InfoContext(ctx, "no admin yet: open the one-time setup link to create the first one (or run: "+s.command+" admin create --email you@example.com)",
		"setup_link", link, "expires", expires.UTC().Format(time.RFC3339))
	return link, nil
}

// setupTokenValid reports whether token is a live setup link's token. The
// database is searched by the token's SHA-256, never the token, so the
// lookup's timing says nothing about the token itself.
func (s *Service) setupTokenValid(ctx context.Context, token string) (bool, error) {
	if token == "" || len(token) > 128 {
		return false, nil
	}
	sum := sha256.Sum256([]byte(token))
	return s.store.SetupLinkValid(ctx, sum[:], s.now())
}
