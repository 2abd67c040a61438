package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
)

// ErrBackupExists means the backup's destination file exists and
// BackupOptions.Overwrite is off.
var ErrBackupExists = errors.New("file exists")

// BackupOptions tunes Backup.
type BackupOptions struct {
	// Overwrite replaces an existing destination file.
	Overwrite bool
	// Progress, when set, is told the pages copied so far and the total
	// after each step.
	Progress func(done, total int)
	// StepPages is how many pages one step copies; 0 takes 1024 (4 MiB of
	// 4 KiB pages).
	StepPages int
}

// BackupResult describes a finished backup.
type BackupResult struct {
	Pages int
	Bytes int64
}

// backuper is what modernc's connection offers for the online backup API.
type backuper interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// Backup writes a consistent copy of the database to path while the server
// keeps writing to it.
//
// It copies with SQLite's online backup API from a connection that holds
// one read transaction for the whole copy: WAL gives that transaction a
// snapshot, so the copy is the database as of the moment the backup began,
// and writers never wait for it (checkpoints do, so the WAL grows during a
// long backup and shrinks after). The copy goes to a temporary file in
// path's directory, is switched out of WAL mode so it is one
// self-contained file, passes PRAGMA integrity_check, is synced, and is
// only then renamed to path. A failed or interrupted backup leaves no file
// at path.
func (s *Store) Backup(ctx context.Context, path string, opt BackupOptions) (BackupResult, error) {
	var res BackupResult
	if opt.StepPages <= 0 {
		opt.StepPages = 1024
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if self, err := filepath.Abs(s.path); err == nil && (abs == self || strings.HasPrefix(abs, self+"-")) {
		return res, fmt.Errorf("store: backup to %s: that is the live database", path)
	}
	if !opt.Overwrite {
		if _, err := os.Lstat(abs); err == nil {
			return res, fmt.Errorf("store: backup to %s: %w", path, ErrBackupExists)
		}
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return res, fmt.Errorf("store: backup to %s: directory %s does not exist", path, filepath.Dir(abs))
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp-*")
	if err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			removeDB(tmpPath)
		}
	}()

	if res.Pages, err = s.copyTo(ctx, tmpPath, opt); err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if err := finishCopy(ctx, tmpPath); err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if opt.Overwrite {
		err = os.Rename(tmpPath, abs)
	} else {
		// A hard link fails if path appeared meanwhile, where a rename
		// would replace it.
		if err = os.Link(tmpPath, abs); err == nil {
			os.Remove(tmpPath)
		} else if errors.Is(err, fs.ErrExist) {
			return res, fmt.Errorf("store: backup to %s: %w", path, ErrBackupExists)
		}
	}
	if err != nil {
		return res, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(filepath.Dir(abs)); err == nil {
		d.Sync() // make the rename durable; best effort on filesystems without it
		d.Close()
	}
	if fi, err := os.Stat(abs); err == nil {
		res.Bytes = fi.Size()
	}
	return res, nil
}

// copyTo runs the backup API into dst from inside one read transaction.
func (s *Store) copyTo(ctx context.Context, dst string, opt BackupOptions) (int, error) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// The read transaction starts at the first read, not at BEGIN; the
	// backup's steps then all see this one snapshot instead of restarting
	// whenever the server commits between two steps.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return 0, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return 0, err
	}
	pages := 0
	err = conn.Raw(func(dc any) error {
		bc, ok := dc.(backuper)
		if !ok {
			return errors.New("the SQLite driver offers no backup API")
		}
		b, err := bc.NewBackup(fileURI(dst))
		if err != nil {
			return err
		}
		for {
			more, err := b.Step(int32(opt.StepPages))
			if err != nil {
				b.Finish()
				return err
			}
			total := b.PageCount()
			pages = total
			if opt.Progress != nil {
				opt.Progress(total-b.Remaining(), total)
			}
			if !more {
				break
			}
			if err := ctx.Err(); err != nil {
				b.Finish()
				return err
			}
		}
		return b.Finish()
	})
	return pages, err
}

// finishCopy turns the copy into one self-contained file in rollback-journal
// mode (a WAL-mode copy would want -wal and -shm files beside it) and checks
// it with PRAGMA integrity_check.
func finishCopy(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		return fmt.Errorf("set journal mode of the copy: %w", err)
	}
	verdict, err := integrityCheck(ctx, db)
	if err != nil {
		return err
	}
	if verdict != "ok" {
		return fmt.Errorf("the copy failed PRAGMA integrity_check: %s", firstLine(verdict))
	}
	return db.Close()
}

// fileURI is path as an SQLite file: URI, so that '?' or '#' in a
// directory name cannot be read as URI syntax.
func fileURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath()
}

// integrityCheck runs PRAGMA integrity_check on db: "ok", or the problems
// found, one per line.
func integrityCheck(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), rows.Err()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// removeDB removes a database file and whatever journal files SQLite left.
func removeDB(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
