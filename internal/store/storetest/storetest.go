// Package storetest gives tests a fresh, migrated store: SQLite on a real
// file in a temporary directory, and, when SENDORA_TEST_DATABASE_URL names
// a PostgreSQL server, a fresh PostgreSQL database of its own. Each runs a
// test body against both.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating and dropping test databases

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// EnvDatabaseURL names the PostgreSQL server the PostgreSQL side of the
// tests runs on, e.g. postgres://postgres@127.0.0.1:5432/postgres. Each
// test creates its own database there and drops it at the end, so several
// people can run the tests at once on one server. Unset, the PostgreSQL
// side is skipped (and `make test` lists what it skipped).
const EnvDatabaseURL = "SENDORA_TEST_DATABASE_URL"

// Backend is a kind of database a test runs on.
type Backend string

// The two backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Backends is both backends, SQLite first.
var Backends = []Backend{SQLite, Postgres}

// SkipReason is why the PostgreSQL side of a test is skipped.
var SkipReason = EnvDatabaseURL + " is not set: PostgreSQL side skipped"

// PostgresURL returns the server URL tests use, or "" when it is not set.
func PostgresURL() string { return os.Getenv(EnvDatabaseURL) }

// New opens a migrated SQLite database in t.TempDir and closes it when the
// test ends; inside OnPostgres, a fresh PostgreSQL database instead.
func New(t testing.TB) *store.Store {
	t.Helper()
	name := t.Name()
	for {
		if _, ok := onPostgres.Load(name); ok {
			return Postgres.New(t)
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return SQLite.New(t)
		}
		name = name[:i]
	}
}

// OnPostgres runs test, a test written for SQLite, so that every store New
// makes for it (or for its subtests, or through helpers such as dashtest)
// is a fresh PostgreSQL database: a suite runs on both stores with one
// line per test, func TestXOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestX) }.
// It skips without SENDORA_TEST_DATABASE_URL.
func OnPostgres(t *testing.T, test func(*testing.T)) {
	t.Helper()
	if PostgresURL() == "" {
		t.Skip(SkipReason)
	}
	onPostgres.Store(t.Name(), true)
	defer onPostgres.Delete(t.Name())
	test(t)
}

// onPostgres holds the names of the tests running in OnPostgres; their
// subtests' names start with them.
var onPostgres sync.Map

// New opens a fresh store of backend b, closed (and, on PostgreSQL,
// dropped) when the test ends. On PostgreSQL without
// SENDORA_TEST_DATABASE_URL it skips the test.
func (b Backend) New(t testing.TB) *store.Store {
	t.Helper()
	var s *store.Store
	var err error
	switch b {
	case SQLite:
		s, err = store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	case Postgres:
		s, err = store.OpenPostgres(context.Background(), NewPostgresDatabase(t), store.PostgresOptions{MaxConns: 4})
	default:
		t.Fatalf("storetest: unknown backend %q", b)
	}
	if err != nil {
		t.Fatalf("storetest: open %s: %v", b, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return s
}

// Each runs fn as two subtests, "sqlite" and "postgres", each on a fresh
// store of its own. The PostgreSQL one is skipped without
// SENDORA_TEST_DATABASE_URL.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	EachBackend(t, func(t *testing.T, b Backend) { fn(t, b.New(t)) })
}

// EachBackend runs fn as a subtest per backend, for tests that open their
// stores themselves (b.New, or NewPostgresDatabase for a URL).
func EachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(string(b), func(t *testing.T) {
			if b == Postgres && PostgresURL() == "" {
				t.Skip(SkipReason)
			}
			fn(t, b)
		})
	}
}

var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// NewPostgresDatabase creates an empty database with a unique name on the
// server SENDORA_TEST_DATABASE_URL names, drops it (closing any connection
// left to it) when the test ends, and returns its URL. It skips the test
// when the variable is not set.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip(SkipReason)
	}
	admin.once.Do(func() {
		admin.db, admin.err = sql.Open("pgx", base)
		if admin.err == nil {
			admin.db.SetMaxOpenConns(2)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			admin.err = admin.db.PingContext(ctx)
		}
	})
	if admin.err != nil {
		t.Fatalf("storetest: %s=%s: %v", EnvDatabaseURL, store.RedactURL(base), admin.err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := fmt.Sprintf("sendora_test_%d_%s", os.Getpid(), hex.EncodeToString(b[:]))
	ctx := context.Background()
	if _, err := admin.db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s is not a URL: %v", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Reopen opens a second handle on s's database, as another process (the
// CLI, another instance) would, closed when the test ends.
func Reopen(t testing.TB, s *store.Store) *store.Store {
	t.Helper()
	o, err := s.Reopen(context.Background())
	if err != nil {
		t.Fatalf("storetest: reopen: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
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
