package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sendora/sendora/internal/store"
)

// exportedEvent is one NDJSON line of `sendora events export`.
type exportedEvent struct {
	MessageID    string          `json:"messageId"`
	Type         string          `json:"type"`
	Event        string          `json:"event,omitempty"`
	UserID       string          `json:"userId,omitempty"`
	AnonymousID  string          `json:"anonymousId,omitempty"`
	Timestamp    time.Time       `json:"timestamp"`
	ReceivedAt   time.Time       `json:"receivedAt"`
	Verification string          `json:"verification"` // "verified" or the reason it did not verify
	Traits       json.RawMessage `json:"traits,omitempty"`
	Properties   json.RawMessage `json:"properties,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
}

func cmdEventsExport(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "events export", "events export [--project NAME] [--since RFC3339] [--data DIR]")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	sinceFlag := f.fs.String("since", "", "only events received at or after this RFC 3339 time")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("events export", args, 0, ""); err != nil {
		return err
	}
	var since time.Time
	if *sinceFlag != "" {
		if since, err = time.Parse(time.RFC3339Nano, *sinceFlag); err != nil {
			return usagef("events export: --since %q: want an RFC 3339 time like 2026-11-24T00:00:00Z", *sinceFlag)
		}
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, *project)
	if err != nil {
		return err
	}

	prog := newProgress(e.stderr, "exported", "events")
	if prog.on {
		if total, err := d.Store.CountEvents(ctx, p.ID); err == nil {
			prog.total = total
		}
	}
	out := bufio.NewWriterSize(e.stdout, 256<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var n int64
	err = d.Store.ExportEvents(ctx, p.ID, since, func(se *store.StoredEvent) error {
		n++
		prog.set(n)
		return enc.Encode(exportedEvent{
			MessageID: se.MessageID, Type: se.Type, Event: se.Event, UserID: se.UserID, AnonymousID: se.AnonymousID,
			Timestamp: se.Timestamp, ReceivedAt: se.ReceivedAt, Verification: se.Verification,
			Traits: se.Traits, Properties: se.Properties, Context: se.Context,
		})
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	prog.done(n)
	return err
}

// progress draws "exported 1,234 of 5,000 events (24%)" on a terminal,
// at most a few times a second, and stays silent when stderr is piped.
type progress struct {
	w          io.Writer
	on         bool
	verb, noun string
	total      int64
	last       time.Time
}

func newProgress(w io.Writer, verb, noun string) *progress {
	return &progress{w: w, on: isTerminal(w), verb: verb, noun: noun}
}

func (p *progress) set(n int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw(n)
}

func (p *progress) draw(n int64) {
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r%s %s of %s %s (%d%%)", p.verb, thousands(n), thousands(p.total), p.noun, min(100, n*100/p.total))
	} else {
		fmt.Fprintf(p.w, "\r%s %s %s", p.verb, thousands(n), p.noun)
	}
}

func (p *progress) done(n int64) {
	if !p.on {
		return
	}
	p.total = 0
	p.draw(n)
	fmt.Fprintln(p.w)
}

// thousands formats 1234567 as "1,234,567".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
