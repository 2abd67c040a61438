package store_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestEveryCachedChangeMovesTheCounter: each change servers cache bumps
// the change counter in its own transaction, once; a refused change does
// not.
func TestEveryCachedChangeMovesTheCounter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		var p store.Project
		sealer := storetest.Sealer()
		changes := []struct {
			what   string
			change func() error
			moves  bool
		}{
			{"project create", func() (err error) { p, err = s.CreateProject(ctx, "shop", now); return err }, true},
			{"strict on without a secret (refused)", func() error {
				err := s.SetStrict(ctx, p.ID, identity.StrictChange{On: true, At: now})
				if !errors.Is(err, identity.ErrNoSecret) {
					t.Errorf("strict on without a secret: %v", err)
				}
				return nil
			}, false},
			{"rotation", func() error {
				secret := identity.NewSecret()
				_, err := s.RotateSecret(ctx, p.ID, identity.Rotation{Sealed: sealer.SealSecret(p.ID, secret), Fingerprint: secret.Fingerprint(),
					At: now, FromVersion: identity.AnyVersion, KeepRetired: 3})
				return err
			}, true},
			{"strict on", func() error { return s.SetStrict(ctx, p.ID, identity.StrictChange{On: true, At: now}) }, true},
			{"strict off", func() error { return s.SetStrict(ctx, p.ID, identity.StrictChange{On: false, At: now}) }, true},
			{"allowed origins", func() error { return s.SetAllowedOrigins(ctx, p.ID, []string{"https://shop.example.com"}) }, true},
			{"allowed origins, audited", func() error {
				return s.ChangeAllowedOrigins(ctx, p.ID, []string{"https://a.example"}, store.Audit{At: now, Actor: "cli"})
			}, true},
			{"project rename", func() (err error) { p, err = s.RenameProject(ctx, p.ID, "store", store.Audit{At: now}); return err }, true},
			{"public key rotation", func() error {
				_, err := s.RotatePublicKey(ctx, p.ID, "", store.KeepUntilRevoked, store.Audit{At: now})
				return err
			}, true},
			{"public key revocation", func() error { _, err := s.RevokePublicKey(ctx, p.ID, "", store.Audit{At: now}); return err }, true},
			{"public key revocation with none left (nothing changes)", func() error { _, err := s.RevokePublicKey(ctx, p.ID, "", store.Audit{At: now}); return err }, false},
			{"another project", func() error { _, err := s.CreateProject(ctx, "other", now); return err }, true},
			{"project delete", func() error { return s.DeleteProject(ctx, p.ID, "store", store.Audit{At: now}) }, true},
			{"project create (name taken, refused)", func() error {
				if _, err := s.CreateProject(ctx, "other", now); !errors.Is(err, store.ErrConflict) {
					t.Errorf("duplicate project: %v", err)
				}
				return nil
			}, false},
		}
		for _, c := range changes {
			before, err := s.ChangeSeq(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.change(); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			after, _ := s.ChangeSeq(ctx)
			want := before
			if c.moves {
				want++
			}
			if after != want {
				t.Errorf("%s: change counter %d → %d, want %d", c.what, before, after, want)
			}
		}
	})
}

// TestChangeWatcherSeesChangesMadeElsewhere: a watcher on one handle sees
// changes another process (the CLI, another instance) commits: Poll once
// per change; Run at the next tick, and on PostgreSQL at the NOTIFY the
// change's transaction sends, with no tick at all.
func TestChangeWatcherSeesChangesMadeElsewhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		cli := storetest.Reopen(t, s)
		changed := make(chan struct{}, 16)
		w, err := s.WatchChanges(ctx, func() { changed <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		count := func() int {
			n := 0
			for {
				select {
				case <-changed:
					n++
				default:
					return n
				}
			}
		}
		if err := w.Poll(ctx); err != nil || count() != 0 {
			t.Fatalf("a poll with no change called onChange (%v)", err)
		}
		p := storetest.Project(t, cli, "shop")
		if err := w.Poll(ctx); err != nil || count() != 1 {
			t.Fatalf("a poll after a change: onChange not called once (%v)", err)
		}
		if err := w.Poll(ctx); err != nil || count() != 0 {
			t.Fatalf("the same change seen twice (%v)", err)
		}

		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		ticks := make(chan time.Time)
		go func() { defer close(done); w.Run(rctx, ticks, nil) }()
		defer func() { cancel(); <-done }()
		if err := cli.SetAllowedOrigins(ctx, p.ID, []string{"https://shop.example.com"}); err != nil {
			t.Fatal(err)
		}
		if s.Dialect() != "postgres" {
			ticks <- time.Now() // SQLite: the once-a-second read
		}
		select {
		case <-changed:
		case <-time.After(30 * time.Second): // a hang guard, not a timing claim
			t.Fatalf("%s: Run did not see the change", s.Dialect())
		}
	})
}

// cachedWrite matches SQL that changes what servers cache: projects (keys,
// strict mode, schemes, origins, the project itself) and identity secrets.
var cachedWrite = regexp.MustCompile(`(?is)(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(projects|identity_secrets)\b`)

// TestEveryCachedWriteBumpsTheCounter reads the store's source: a Store
// method whose SQL writes projects or identity_secrets must call
// bumpChanges, or other instances keep using what it changed until their
// cache TTL. A method added later (a scheme change, a key rotation, a
// project rename) that forgets it fails here.
func TestEveryCachedWriteBumpsTheCounter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			writes, bumps := false, false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BasicLit:
					if x.Kind == token.STRING && cachedWrite.MatchString(x.Value) {
						writes = true
					}
				case *ast.SelectorExpr:
					if x.Sel.Name == "bumpChanges" {
						bumps = true
					}
				}
				return true
			})
			if writes {
				checked++
				if !bumps {
					t.Errorf("%s: %s writes projects or identity_secrets but does not call s.bumpChanges in its transaction", fset.Position(fn.Pos()), fn.Name.Name)
				}
			}
		}
	}
	if checked < 4 {
		t.Errorf("found %d methods that write projects or identity_secrets, want at least 4 (CreateProject, SetAllowedOrigins, RotateSecret, SetStrict): is the parse right?", checked)
	}
}
