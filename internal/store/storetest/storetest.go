// Package storetest gives tests a fresh, migrated SQLite database in a
// temporary directory: the real store, on a real file.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// New opens a migrated database in t.TempDir and closes it when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return s
}

// Sealer returns a sealer under a fresh random master key.
func Sealer() *identity.Sealer { return identity.NewSealer(identity.NewMasterKey()) }

// Project creates a project named name.
func Project(t testing.TB, s *store.Store, name string) store.Project {
	t.Helper()
	p, err := s.CreateProject(context.Background(), name, time.Now())
	if err != nil {
		t.Fatalf("storetest: create project %q: %v", name, err)
	}
	return p
}
