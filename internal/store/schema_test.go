package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestOpenRefusesNewerSchema: a binary never runs on a database a newer
// binary migrated (a rollback must restore the pre-upgrade backup).
func TestOpenRefusesNewerSchema(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		open, raw := rawOpen(t, b)
		s, err := open()
		if err != nil {
			t.Fatal(err)
		}
		current, latest, err := s.SchemaVersion(ctx)
		if err != nil || current != latest || latest < 3 {
			t.Fatalf("SchemaVersion = %d, %d, %v; want equal and at least 3", current, latest, err)
		}
		s.Close()

		// What a newer binary's migration leaves behind.
		if _, err := raw.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)`, latest+1, true); err != nil {
			t.Fatal(err)
		}
		_, err = open()
		if err == nil || !strings.Contains(err.Error(), "newer than this binary's") || !strings.Contains(err.Error(), "restore a backup") {
			t.Fatalf("open a newer schema: err = %v, want a refusal that says what to do", err)
		}
	})
}

// rawOpen returns a function that opens a store on a fresh database of
// backend b, and a plain database/sql handle on the same database.
func rawOpen(t *testing.T, b storetest.Backend) (func() (*store.Store, error), *sql.DB) {
	t.Helper()
	var open func() (*store.Store, error)
	var raw *sql.DB
	var err error
	switch b {
	case storetest.SQLite:
		path := filepath.Join(t.TempDir(), store.FileName)
		open = func() (*store.Store, error) { return store.Open(context.Background(), path) }
		raw, err = sql.Open("sqlite", path)
	case storetest.Postgres:
		url := storetest.NewPostgresDatabase(t)
		open = func() (*store.Store, error) {
			return store.OpenPostgres(context.Background(), url, store.PostgresOptions{MaxConns: 2})
		}
		raw, err = sql.Open("pgx", url)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return open, raw
}

// TestInstancesStartingTogetherMigrateOnce opens several stores at once on
// one empty database: on PostgreSQL the advisory lock lets one migrate
// while the others wait, so every open succeeds and each migration is
// recorded once. (On SQLite, BEGIN IMMEDIATE serialises them the same.)
func TestInstancesStartingTogetherMigrateOnce(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, b storetest.Backend) {
		open, raw := rawOpen(t, b)
		const n = 6
		stores := make([]*store.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = open() })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("open %d: %v", i, errs[i])
				continue
			}
			stores[i].Close()
		}
		rows, err := raw.Query(`SELECT version_id, COUNT(*) FROM goose_db_version GROUP BY version_id ORDER BY version_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var versions []int64
		for rows.Next() {
			var v, c int64
			if err := rows.Scan(&v, &c); err != nil {
				t.Fatal(err)
			}
			if c != 1 {
				t.Errorf("migration %d recorded %d times", v, c)
			}
			versions = append(versions, v)
		}
		if len(versions) < 4 || versions[0] != 0 || versions[1] != 1 || versions[2] != 2 || versions[3] != 3 {
			t.Errorf("recorded versions = %v, want 0, 1, 2, 3…", versions)
		}
	})
}

// TestOpensDatabaseOfMain969595a opens a database written by the binary of
// main at 969595a (before the migrations moved into per-dialect folders):
// goose knows migrations by number, so it migrates forward and every row
// reads as before. The fixture was made by that binary: serve, identity
// rotate, admin create, an identify and a track.
func TestOpensDatabaseOfMain969595a(t *testing.T) {
	ctx := context.Background()
	gz, err := os.ReadFile("testdata/main-969595a.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), store.FileName)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open main's database: %v", err)
	}
	defer s.Close()
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil || current != latest {
		t.Fatalf("SchemaVersion = %d, %d, %v; want migrated to the latest", current, latest, err)
	}
	p, err := s.ProjectByName(ctx, "default")
	if err != nil || p.PublicKey != "pk_live_EAPVh08dDrikcEy37MMM1NiMSLxbgveM" || p.Strict {
		t.Fatalf("project default = %+v, %v", p, err)
	}
	st, err := s.IdentityState(ctx, p.ID)
	if err != nil || len(st.Keys) != 1 {
		t.Fatalf("identity state = %+v, %v; want one secret", st, err)
	}
	key, err := identity.ParseMasterKey(strings.Repeat("11", 32)) // the fixture's SENDORA_MASTER_KEY
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.NewKeyring(st, identity.NewSealer(key)); err != nil {
		t.Errorf("the old secret does not open with the old master key: %v", err)
	}
	var ids []string
	err = s.ExportEvents(ctx, p.ID, time.Time{}, func(e *store.StoredEvent) error {
		ids = append(ids, e.MessageID+"/"+e.Verification)
		return nil
	})
	if err != nil || strings.Join(ids, " ") != "m_old_1/verified m_old_2/missing_token" {
		t.Errorf("events = %v, %v", ids, err)
	}
	pr, err := s.Profile(ctx, p.ID, "u_1")
	if err != nil || !sameJSON(t, string(pr.Traits), `{"plan":"pro","n":1}`) || !pr.LastVerified {
		t.Errorf("profile u_1 = %+v (%s), %v", pr, pr.Traits, err)
	}
	if a, err := s.AdminByEmail(ctx, "old@example.com"); err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Errorf("admin = %+v, %v", a, err)
	}
	// A retry of an event main stored is still a duplicate.
	ins := make([]bool, 1)
	err = s.WriteBatch(ctx, &store.Batch{Events: []store.EventRow{{ProjectID: p.ID, MessageID: "m_old_1", Type: "track", Event: "x",
		Timestamp: time.Now(), ReceivedAt: time.Now(), Verification: "verified"}}}, ins)
	if err != nil || ins[0] {
		t.Errorf("retry of an old messageId: inserted = %v, %v; want a duplicate", ins[0], err)
	}
}
