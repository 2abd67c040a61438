package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY returns a pseudo-terminal's controlling side and its terminal
// side, so a test can hand a command a real terminal as stderr.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		ptm.Close()
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		ptm.Close()
		t.Skipf("ptsname: %v", e)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptm.Close()
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	return ptm, pts
}

// runOnTerminal runs one command in-process with stderr on a terminal and
// returns stdout and what the terminal showed.
func runOnTerminal(t *testing.T, args ...string) (stdout, terminal string) {
	t.Helper()
	ptm, pts := openPTY(t)
	shown := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptm) // ends with EIO once the terminal side closes
		shown <- string(b)
	}()
	var out strings.Builder
	err := run(context.Background(), args, testEnv(nil), strings.NewReader(""), &out, pts)
	if code := exitCode(err, pts); code != 0 {
		t.Errorf("%v: exit %d", args, code)
	}
	pts.Close()
	return out.String(), <-shown
}

// TestProgressOnTerminal: long commands draw a progress line on a terminal
// (and TestEventsExport and TestBackupCLI check they stay quiet when piped).
func TestProgressOnTerminal(t *testing.T) {
	data := newDataDir(t)
	s := startServer(t, nil, "--data", data)
	key := listProjects(t, nil, data)[0].PublicKey
	var evs []string
	for i := range 50 {
		evs = append(evs, fmt.Sprintf(`{"type":"track","event":"E","userId":"u","messageId":"p%d"}`, i))
	}
	if code, body := postJSON(t, s.url+"/events/batch", `{"publicKey":"`+key+`","events":[`+strings.Join(evs, ",")+`]}`); code != 200 {
		t.Fatalf("batch: %d %s", code, body)
	}

	out, term := runOnTerminal(t, "events", "export", "--data", data)
	if strings.Count(out, "\n") != 50 {
		t.Errorf("export printed %d lines to stdout, want 50", strings.Count(out, "\n"))
	}
	if !strings.Contains(term, "\rexported 50 events") {
		t.Errorf("terminal showed %q, want a progress line ending at 50 events", term)
	}

	out, term = runOnTerminal(t, "backup", filepath.Join(t.TempDir(), "b.db"), "--data", data)
	if out != "" || !strings.Contains(term, "\rcopied ") || !strings.Contains(term, " pages") || !strings.Contains(term, "backup: wrote") {
		t.Errorf("backup: stdout %q, terminal %q; want a progress line in pages, then the summary", out, term)
	}
}
