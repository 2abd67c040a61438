package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"syscall"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationLockID is the PostgreSQL advisory lock instances hold while they
// migrate, so several starting together migrate once: the first applies the
// migrations, the others wait, then find nothing to do.
const migrationLockID = 0x53454e444f5241 // "SENDORA"

func (s *Store) provider(db *sql.DB) (*goose.Provider, error) {
	var opts []goose.ProviderOption
	if s.d.name == "postgres" {
		l, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID),
			// Try every second for up to 5 minutes: a first start's
			// migrations take well under a second.
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	return goose.NewProvider(s.d.goose, db, s.d.migrations, opts...)
}

// migrate applies pending migrations.
func (s *Store) migrate(ctx context.Context) error {
	p, err := s.provider(s.w)
	if err != nil {
		return err
	}
	// A database migrated by a newer binary has tables and columns this
	// one does not know; goose would ignore the unknown versions. Refuse,
	// so a rollback restores the pre-upgrade backup instead of running an
	// old binary on a new schema (docs/upgrading.md). Checked again after
	// Up, in case a newer instance migrated meanwhile.
	if err := checkNotNewer(ctx, p); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		before, _ := p.GetDBVersion(ctx)
		_, err := p.Up(ctx)
		if err == nil {
			break
		}
		// On SQLite, processes opening one new database at once (the
		// server and the CLI) each start migrating: the write lock is per
		// transaction, so the second finds the first's tables. When the
		// version moved meanwhile, start again from it.
		if after, verr := p.GetDBVersion(ctx); verr == nil && after > before && attempt < 5 {
			continue
		}
		return err
	}
	return checkNotNewer(ctx, p)
}

// lockMigrations holds an exclusive lock on a file beside the SQLite
// database until unlock, so that processes opening one database at once
// (the server and a CLI command, or tests opening six) set it up and
// migrate one after the other, as PostgreSQL's advisory lock makes
// instances do. Without it each process read the version, and a migration
// that can run twice (one that rebuilds a table under a new name) was
// applied and recorded once per process; and a first connection switching
// a new database to WAL could find another's migration holding the lock
// (SQLITE_BUSY). The kernel releases the lock if the process dies.
func lockMigrations(dbPath string) (unlock func(), _ error) {
	f, err := os.OpenFile(dbPath+".migrate-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func checkNotNewer(ctx context.Context, p *goose.Provider) error {
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return nil // no version table yet: a fresh database
	}
	if srcs := p.ListSources(); len(srcs) > 0 && current > srcs[len(srcs)-1].Version {
		return fmt.Errorf("the database schema is version %d, newer than this binary's %d: run the newer sendora, or restore a backup taken before the upgrade",
			current, srcs[len(srcs)-1].Version)
	}
	return nil
}

// SchemaVersion returns the newest applied migration and the newest one
// this binary carries.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider(s.w)
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}
