package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file a server holds locked in its SQLite data directory.
const LockFile = "serve.lock"

// lockDir takes the data directory's server lock: an exclusive flock on
// serve.lock, which the kernel releases when the process ends however it
// ends, so a crashed server never leaves a stale lock. The file holds the
// holder's pid, for the refusal message.
//
// The group-commit writer assumes it is the database's only writer of
// events (its dedup state lives in its memory), so one data directory has
// one server; the CLI does not take the lock and works beside it.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
					holder = "process " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("data directory %s is in use by another sendora serve (%s): run one server per SQLite data directory (CLI commands work beside it), or share a PostgreSQL database between servers with --database-url", dir, holder)
		}
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
