package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/store"
)

// TestOpenRefusesNewerSchema: a binary never runs on a database a newer
// binary migrated (a rollback must restore the pre-upgrade backup).
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), store.FileName)
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil || current != latest || latest < 1 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want equal and positive", current, latest, err)
	}
	s.Close()

	// What a newer binary's migration leaves behind.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, latest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = store.Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary's") || !strings.Contains(err.Error(), "restore a backup") {
		t.Fatalf("open a newer schema: err = %v, want a refusal that says what to do", err)
	}
}
