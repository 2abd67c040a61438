package main

import (
	"strings"
	"testing"
)

// TestLogBuffer: info lines are batched, a warning pushes everything out at
// once, and Close writes what is left.
func TestLogBuffer(t *testing.T) {
	var out syncBuffer
	log, buf, err := newLogger(&out, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("first")
	log.Warn("careful")
	if s := out.String(); !strings.Contains(s, "msg=first") || !strings.Contains(s, "msg=careful") {
		t.Fatalf("after a warning the log holds %q, want both lines", s)
	}
	log.Info("last")
	buf.Close()
	if s := out.String(); !strings.Contains(s, "msg=last") {
		t.Fatalf("after Close the log holds %q, want the last line", s)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
}
