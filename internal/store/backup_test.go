package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestBackupWhileWriting copies the database while another goroutine keeps
// committing events, and checks the copy is sound, self-contained, and
// holds a consistent prefix of what was written: every event committed
// before the backup began, and no gap after.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

	var written atomic.Int64 // batches committed
	commit := func(i int64) error {
		b := &store.Batch{}
		for j := range 50 {
			b.Events = append(b.Events, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprintf("m%06d-%02d", i, j), Type: "track",
				Event: "E", UserID: "u", Timestamp: now, ReceivedAt: now, Verification: "verified",
				Properties: []byte(`{"padding":"` + fmt.Sprintf("%0200d", i) + `"}`)})
		}
		return s.WriteBatch(ctx, b, nil)
	}
	for i := range int64(200) { // ~10,000 events, a few MiB: several backup steps
		if err := commit(i); err != nil {
			t.Fatal(err)
		}
		written.Add(1)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := written.Load(); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := commit(i); err != nil {
				t.Errorf("commit during backup: %v", err)
				return
			}
			written.Add(1)
		}
	}()

	before := written.Load()
	dst := filepath.Join(t.TempDir(), "backup.db")
	var steps int
	var lastDone, lastTotal int
	res, err := s.Backup(ctx, dst, store.BackupOptions{StepPages: 64, Progress: func(done, total int) {
		steps++
		if done < lastDone {
			t.Errorf("progress went back: %d after %d", done, lastDone)
		}
		lastDone, lastTotal = done, total
	}})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if steps < 2 || lastDone != lastTotal || res.Pages != lastTotal || res.Bytes <= 0 {
		t.Errorf("steps %d, last progress %d/%d, result %+v: want several steps ending at the total", steps, lastDone, lastTotal, res)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(dst + suffix); err == nil {
			t.Errorf("backup left %s beside the copy", dst+suffix)
		}
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".backup.db.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	cp, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if v, err := cp.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v", v, err)
	}
	n, err := cp.CountEvents(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n%50 != 0 || n < before*50 {
		t.Errorf("copy holds %d events: want whole batches, at least the %d committed before the backup", n, before*50)
	}
	// A prefix: batches 0…k-1 all present, nothing after.
	seen := map[string]bool{}
	cp.ExportEvents(ctx, p.ID, time.Time{}, func(e *store.StoredEvent) error {
		seen[e.MessageID] = true
		return nil
	})
	for i := range n / 50 {
		if !seen[fmt.Sprintf("m%06d-00", i)] || !seen[fmt.Sprintf("m%06d-49", i)] {
			t.Fatalf("batch %d missing from a copy of %d events", i, n)
		}
	}
	t.Logf("copied %d events (%d committed before, %d by the end) in %d steps, %d pages", n, before*50, written.Load()*50, steps, res.Pages)
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	storetest.Project(t, s, "web")
	dir := t.TempDir()
	dst := filepath.Join(dir, "exists.db")
	os.WriteFile(dst, []byte("precious"), 0o600)

	_, err := s.Backup(ctx, dst, store.BackupOptions{})
	if !errors.Is(err, store.ErrBackupExists) {
		t.Fatalf("backup over a file: err = %v, want ErrBackupExists", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "precious" {
		t.Errorf("existing file changed to %q", b)
	}
	if _, err := s.Backup(ctx, dst, store.BackupOptions{Overwrite: true}); err != nil {
		t.Fatalf("backup with Overwrite: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the backup", len(entries))
	}
	cp, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if ps, err := cp.Projects(ctx); err != nil || len(ps) != 1 || ps[0].Name != "web" {
		t.Errorf("overwritten copy projects = %v, %v", ps, err)
	}

	if _, err := s.Backup(ctx, s.Path(), store.BackupOptions{Overwrite: true}); err == nil {
		t.Error("backup over the live database succeeded")
	}
	if _, err := s.Backup(ctx, filepath.Join(dir, "missing", "b.db"), store.BackupOptions{}); err == nil {
		t.Error("backup into a missing directory succeeded")
	}
}

func TestBackupCanceled(t *testing.T) {
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	b := &store.Batch{}
	for i := range 2000 {
		b.Events = append(b.Events, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint(i), Type: "track", Event: "E",
			Timestamp: time.Now(), ReceivedAt: time.Now(), Verification: "verified", Properties: []byte(`{"x":"` + fmt.Sprintf("%0500d", i) + `"}`)})
	}
	if err := s.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dst := filepath.Join(t.TempDir(), "b.db")
	_, err := s.Backup(ctx, dst, store.BackupOptions{StepPages: 8, Progress: func(done, total int) {
		if done > 0 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled backup: err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
		t.Errorf("canceled backup left %d files", len(entries))
	}
}
