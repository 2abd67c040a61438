package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sync"
	"time"
)

// setupLink is the one-time first-run link. Only this process knows it
// (it lives in memory and is printed once to the log); it works until it is
// used or expires, and never once any admin exists.
type setupLink struct {
	mu      sync.Mutex
	hash    [sha256.Size]byte // of the token; the token itself is not kept
	expires time.Time
	active  bool
}

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
	s.setup.mu.Lock()
	s.setup.hash = sha256.Sum256([]byte(token))
	s.setup.expires = expires
	s.setup.active = true
	s.setup.mu.Unlock()

	link := publicURL + "/setup?token=" + url.QueryEscape(token)
	// The link is meant for the log: it is how the operator, who can read
	// the log, proves to the dashboard that they run this server.
	s.log.InfoContext(ctx, "no admin yet: open the one-time setup link to create the first one (or run: sendora admin create --email you@example.com)",
		"setup_link", link, "expires", expires.UTC().Format(time.RFC3339))
	return link, nil
}

// setupTokenValid reports whether token is the live setup token, comparing
// in constant time.
func (s *Service) setupTokenValid(token string) bool {
	if token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	s.setup.mu.Lock()
	defer s.setup.mu.Unlock()
	ok := subtle.ConstantTimeCompare(sum[:], s.setup.hash[:]) == 1
	return ok && s.setup.active && s.now().Before(s.setup.expires)
}

// useSetupToken ends the setup link.
func (s *Service) useSetupToken() {
	s.setup.mu.Lock()
	s.setup.active = false
	s.setup.hash = [sha256.Size]byte{}
	s.setup.mu.Unlock()
}
