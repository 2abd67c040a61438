package auth_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/internal/store"
)

// TestSignInClientHangsUp: clients that send a sign-in and hang up at once
// (as a guessing script does) are logged as gone, never as a 500 ERROR, and
// the email they typed appears nowhere in the log; every guess whose
// password was checked is in the audit log, though its request was
// cancelled.
func TestSignInClientHangsUp(t *testing.T) {
	// Limits high enough that no guess is throttled: each is checked or
	// stopped, never refused.
	e := dashtest.New(t, dashtest.Options{Params: dashtest.FastParams, Limits: auth.Limits{Window: time.Hour, PerIP: 1000, PerAccount: 1000, PerDevice: 1000}})
	const email = "ada@example.com"
	e.CreateAdmin(email)
	addr := strings.TrimPrefix(e.URL, "http://")
	const n = 30
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"email": {email}, "password": {fmt.Sprintf("guess %d", i)}}.Encode()
		fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", addr, len(form), form)
		if i%2 == 0 {
			c.(*net.TCPConn).CloseWrite() // hang up before the answer: the server sees EOF at once
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the answer, if any
		c.Close()
	}
	// Let requests still running finish.
	deadline := time.Now().Add(10 * time.Second)
	var audits []store.Audit
	for time.Now().Before(deadline) {
		var err error
		audits, err = e.Store.AuditLog(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		gone := strings.Count(e.Logs.String(), "client went away")
		if len(audits)+gone >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	failed := 0
	for _, a := range audits {
		if a.Action == store.ActionLoginFailed {
			failed++
		}
	}
	logs := e.Logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a client hanging up was logged as an error:\n%s", logs)
	}
	if strings.Contains(logs, email) {
		t.Errorf("the typed email is in the log:\n%s", logs)
	}
	// Each guess was either checked, and then audited whether or not its
	// client was still there, or stopped before its check because the
	// client had gone, and logged as that.
	gone := strings.Count(logs, "client went away")
	if failed+gone != n {
		t.Errorf("%d guesses audited and %d logged as gone, want the %d guesses each once", failed, gone, n)
	}
	t.Logf("%d of %d guesses audited, %d stopped as their client went away", failed, n, gone)
}
