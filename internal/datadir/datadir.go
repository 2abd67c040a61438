// Package datadir opens a Sendora data directory for any command: the
// database (SQLite in the directory, or PostgreSQL at a URL), the master
// key that seals its secrets, and the first project.
package datadir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// MasterKeyFile is the master key's file name inside the data directory.
const MasterKeyFile = "master.key"

// MasterKeyEnv names the environment variable that, when set, holds the
// master key instead of the file.
const MasterKeyEnv = "SENDORA_MASTER_KEY"

// metaKeyCheck holds a value sealed under the master key when the database
// is created, so a wrong key is caught at start, before any secret is needed.
const metaKeyCheck = "master_key_check"

var keyCheckPlain = []byte("sendora master key check v1")

// Options says how to open a data directory.
type Options struct {
	Dir string
	// DatabaseURL, when set, is the PostgreSQL database to use instead of
	// SQLite in Dir; Dir then only holds master.key (unless MasterKey is
	// set). Every instance sharing the database needs the same master key.
	DatabaseURL string
	MasterKey   string // the SENDORA_MASTER_KEY value; "" reads or creates master.key
	// Create makes the directory, database, master key and default project
	// when missing (the server's first start). Without it a missing
	// database is an error, so a mistyped --data does not start afresh.
	Create bool
	// Serve holds the data directory's lock while open, so a second server
	// on the same SQLite database refuses to start (the CLI does not take
	// it). Several servers may share one PostgreSQL database.
	Serve bool
	// MaxConns bounds the PostgreSQL connection pool (0: the default).
	MaxConns int
	Now      func() time.Time
}

// DataDir is an open data directory.
type DataDir struct {
	Dir    string
	Store  *store.Store
	Sealer *identity.Sealer
	// Created lists what this call created ("database", "master.key",
	// "project default"), for the first start's log.
	Created []string

	unlock func()
}

// Close closes the database and releases the data directory's lock.
func (d *DataDir) Close() error {
	err := d.Store.Close()
	if d.unlock != nil {
		d.unlock()
	}
	return err
}

// Open opens the data directory as Options say.
func Open(ctx context.Context, opt Options) (*DataDir, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &DataDir{Dir: opt.Dir}
	var st *store.Store
	var err error
	if opt.DatabaseURL != "" {
		if !store.IsPostgresURL(opt.DatabaseURL) {
			return nil, fmt.Errorf("database URL %s: want postgres://user:password@host:5432/dbname", store.RedactURL(opt.DatabaseURL))
		}
		st, err = store.OpenPostgres(ctx, opt.DatabaseURL, store.PostgresOptions{MaxConns: opt.MaxConns, ExistingOnly: !opt.Create})
	} else {
		dbPath := filepath.Join(opt.Dir, store.FileName)
		if err := checkDir(opt.Dir, dbPath, opt.Create); err != nil {
			return nil, err
		}
		if opt.Serve {
			if d.unlock, err = lockDir(opt.Dir); err != nil {
				return nil, err
			}
		}
		if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
			d.Created = append(d.Created, "database")
		}
		st, err = store.Open(ctx, dbPath)
	}
	if err != nil {
		if d.unlock != nil {
			d.unlock()
		}
		return nil, err
	}
	d.Store = st
	if err := d.openMasterKey(ctx, opt); err != nil {
		d.Close()
		return nil, err
	}
	if opt.Create {
		if err := d.ensureProject(ctx, opt.Now()); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func checkDir(dir, dbPath string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("data directory %s does not exist (start the server once, or pass --data)", dir)
		}
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("data directory %s is not readable: %w", dir, err)
	}
	if !create {
		if _, err := os.Stat(dbPath); err != nil {
			return fmt.Errorf("no database in %s (start the server once, or pass --data): %w", dir, err)
		}
	}
	return nil
}

// openMasterKey finds the master key and proves it opens this database.
func (d *DataDir) openMasterKey(ctx context.Context, opt Options) error {
	check, err := d.Store.Meta(ctx, metaKeyCheck)
	fresh := errors.Is(err, store.ErrNotFound)
	if err != nil && !fresh {
		return err
	}
	pg := opt.DatabaseURL != ""
	if fresh && pg && !opt.Create {
		return fmt.Errorf("the database at %s has not been set up by sendora yet: start `sendora serve` on it once", d.Store.Location())
	}

	var key identity.MasterKey
	path := filepath.Join(d.Dir, MasterKeyFile)
	createdKey := false
	switch {
	case opt.MasterKey != "":
		if key, err = identity.ParseMasterKey(opt.MasterKey); err != nil {
			return fmt.Errorf("%s: %w", MasterKeyEnv, err)
		}
	default:
		raw, err := os.ReadFile(path)
		switch {
		case err == nil:
			if key, err = identity.ParseMasterKey(string(raw)); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		case errors.Is(err, fs.ErrNotExist) && fresh:
			if key, createdKey, err = createKeyFile(d.Dir, path); err != nil {
				return err
			}
			if createdKey {
				d.Created = append(d.Created, MasterKeyFile)
			}
		case errors.Is(err, fs.ErrNotExist) && pg:
			return fmt.Errorf("master key missing: %s does not exist and %s is not set, but the database at %s holds secrets sealed with a master key; set %s to the key the other instances use, or copy their %s here (never create a new one: the secrets would be lost)",
				path, MasterKeyEnv, d.Store.Location(), MasterKeyEnv, MasterKeyFile)
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("master key missing: %s does not exist and %s is not set, but %s holds secrets sealed with a master key; restore the key (never create a new one: the secrets would be lost)",
				path, MasterKeyEnv, d.Store.Location())
		default:
			return fmt.Errorf("master key: %w", err)
		}
	}

	d.Sealer = identity.NewSealer(key)
	if fresh {
		check, err = d.Store.PutMetaOnce(ctx, metaKeyCheck, d.Sealer.Seal(metaKeyCheck, 0, keyCheckPlain))
		if err != nil {
			return err
		}
	}
	if _, err := d.Sealer.Open(metaKeyCheck, 0, check); err != nil {
		if createdKey {
			// Another instance set this database up at the same moment with
			// a key of its own, and won: the key just written here opens
			// nothing, so it must not stay to fail every later start.
			os.Remove(path)
			return fmt.Errorf("another instance set up the database at %s at the same moment with its own master key: give every instance the same key (%s, or the same %s) and start again",
				d.Store.Location(), MasterKeyEnv, MasterKeyFile)
		}
		src := path
		if opt.MasterKey != "" {
			src = MasterKeyEnv
		}
		return fmt.Errorf("wrong master key: the key from %s (id %s) does not open %s; use the key this database was created with",
			src, d.Sealer.KeyID(), d.Store.Location())
	}
	return nil
}

// createKeyFile writes a new master key to path, creating dir if need be.
// When another process on this machine wrote the file first, it reads that
// one instead (created is false).
func createKeyFile(dir, path string) (key identity.MasterKey, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return key, false, fmt.Errorf("create master key: %w", err)
	}
	key = identity.NewMasterKey()
	err = writeKeyFile(path, key)
	if errors.Is(err, fs.ErrExist) {
		raw, rerr := os.ReadFile(path)
		if rerr != nil {
			return key, false, fmt.Errorf("master key: %w", rerr)
		}
		key, err = identity.ParseMasterKey(string(raw))
		if err != nil {
			return key, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	return key, err == nil, err
}

// writeKeyFile writes key to path whole or not at all: it is written and
// synced under a temporary name, then linked to path, which fails (with
// fs.ErrExist) if path appeared meanwhile. So another process starting at
// the same moment never reads a half-written key.
func writeKeyFile(path string, key identity.MasterKey) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+MasterKeyFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.WriteString(key.Encode() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create master key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // make the new name durable
		d.Close()
	}
	return nil
}

// ensureProject creates the default project when there is none at all.
func (d *DataDir) ensureProject(ctx context.Context, now time.Time) error {
	ps, err := d.Store.Projects(ctx)
	if err != nil || len(ps) > 0 {
		return err
	}
	_, err = d.Store.CreateProject(ctx, store.DefaultProjectName, now)
	if errors.Is(err, store.ErrConflict) { // another process made it first
		return nil
	}
	if err == nil {
		d.Created = append(d.Created, "project "+store.DefaultProjectName)
	}
	return err
}

// Project resolves a --project name ("" is the default project).
func (d *DataDir) Project(ctx context.Context, name string) (store.Project, error) {
	if name == "" {
		name = store.DefaultProjectName
	}
	p, err := d.Store.ProjectByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return p, fmt.Errorf("no project named %q (see: sendora project list)", name)
	}
	return p, err
}
