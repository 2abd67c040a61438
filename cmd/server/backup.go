package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/store"
)

func cmdBackup(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "backup", "backup FILE [--force] [--data DIR]")
	data := f.dataFlag()
	force := f.bool("force", false, "replace FILE if it exists")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("backup", args, 1, "one FILE to write the copy to"); err != nil {
		return err
	}
	dst := args[0]
	if *f.databaseURL != "" {
		// PostgreSQL has its own consistent online copy; a second one here
		// would only be a worse pg_dump.
		return fmt.Errorf("backup: the database is PostgreSQL (%s): back it up with pg_dump, e.g. pg_dump --format=custom --file %s \"$SENDORA_DATABASE_URL\" (see docs/backup.md); the master key is needed to restore either way",
			store.RedactURL(*f.databaseURL), dst)
	}
	if fi, err := os.Stat(dst); err == nil {
		if fi.IsDir() {
			return usagef("backup: %s is a directory; name the file to write, e.g. %s", dst, filepath.Join(dst, "sendora-backup.db"))
		}
		if !*force {
			return fmt.Errorf("backup: %s exists; pass --force to replace it", dst)
		}
	}
	// The copy needs no master key: the secrets in it stay sealed. Opening
	// only the database lets a backup job run without access to the key.
	dbPath := filepath.Join(*data, store.FileName)
	if _, err := os.Stat(dbPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backup: no database in %s (pass --data)", *data)
		}
		return fmt.Errorf("backup: %w", err)
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()

	prog := newProgress(e.stderr, "copied", "pages")
	res, err := st.Backup(ctx, dst, store.BackupOptions{
		Overwrite: *force,
		Progress: func(done, total int) {
			prog.total = int64(total)
			prog.set(int64(done))
		},
	})
	if errors.Is(err, store.ErrBackupExists) {
		return fmt.Errorf("backup: %s exists; pass --force to replace it", dst)
	}
	if err != nil {
		return err
	}
	prog.done(int64(res.Pages))
	keyNote := "the " + datadir.MasterKeyFile + " file from " + *data
	if e.getenv(datadir.MasterKeyEnv) != "" {
		keyNote = datadir.MasterKeyEnv
	}
	fmt.Fprintf(e.stderr, "backup: wrote %s (%s, integrity ok). It opens only with the master key (%s): keep a copy of the key, stored apart from the backup.\n",
		dst, byteSize(res.Bytes), keyNote)
	return nil
}

// byteSize formats n as "512 B", "3.4 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
