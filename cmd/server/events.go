package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/sendora/sendora/internal/jsonx"
	"github.com/sendora/sendora/internal/store"
)

// appendExported appends one NDJSON line of `sendora events export`:
//
//	{"messageId","type","event","userId","anonymousId","timestamp","receivedAt",
//	 "verification" ("verified" or the reason it did not verify),"traits","properties","context",
//	 "signedTraits" (the trait keys whose values the event's verified JWT signed)}
//
// event, userId, anonymousId, traits, properties, context and signedTraits
// are left out when empty. Whatever is stored comes out as one line that every JSON
// parser reads (jsonx): text that is not valid Unicode is repaired with
// U+FFFD, a time outside what RFC 3339 can write (a year past 9999, stored
// by an older version) is clamped to the nearest it can. Written by hand,
// without reflection: an export of millions of events is bound by this.
func appendExported(b []byte, e *store.StoredEvent) []byte {
	b = append(b, `{"messageId":`...)
	b = jsonx.AppendString(b, e.MessageID)
	b = append(b, `,"type":`...)
	b = jsonx.AppendString(b, e.Type)
	for _, f := range [...]struct{ key, v string }{{`,"event":`, e.Event}, {`,"userId":`, e.UserID}, {`,"anonymousId":`, e.AnonymousID}} {
		if f.v != "" {
			b = append(b, f.key...)
			b = jsonx.AppendString(b, f.v)
		}
	}
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, e.TimestampMS)
	b = append(b, `,"receivedAt":`...)
	b = appendTime(b, e.ReceivedAtMS)
	b = append(b, `,"verification":`...)
	b = jsonx.AppendString(b, e.Verification)
	for _, f := range [...]struct {
		key string
		raw []byte
	}{{`,"traits":`, e.Traits}, {`,"properties":`, e.Properties}, {`,"context":`, e.Context}, {`,"signedTraits":`, e.SignedTraits}} {
		if len(f.raw) > 0 {
			b = append(b, f.key...)
			b = jsonx.AppendCompact(b, f.raw)
		}
	}
	return append(b, "}\n"...)
}

// The range of times RFC 3339 can write, in Unix milliseconds.
var (
	minExportMS = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxExportMS = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

// appendTime appends stored Unix milliseconds as a quoted RFC 3339 time.
func appendTime(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = time.UnixMilli(min(max(ms, minExportMS), maxExportMS)).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
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
	// An export allocates for every row and keeps little: collect less
	// often than the default (this is a short-lived command).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	out := bufio.NewWriterSize(e.stdout, 256<<10)
	var n int64
	line := make([]byte, 0, 4<<10)
	err = d.Store.ExportEvents(ctx, p.ID, since, func(se *store.StoredEvent) error {
		n++
		prog.set(n)
		line = appendExported(line[:0], se)
		_, err := out.Write(line)
		return err
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
