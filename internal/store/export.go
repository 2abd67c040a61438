package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// StoredEvent is an event as stored, for export.
type StoredEvent struct {
	ID          int64
	MessageID   string
	Type        string
	Event       string
	UserID      string
	AnonymousID string
	Timestamp   time.Time
	ReceivedAt  time.Time
	// TimestampMS and ReceivedAtMS are the stored Unix milliseconds.
	TimestampMS, ReceivedAtMS int64
	Verification              string
	Traits                    []byte
	Properties                []byte
	Context                   []byte
	// SignedTraits is a JSON array of the trait keys whose values came
	// from the event's verified JWT; nil when none did.
	SignedTraits []byte
}

// exportChunk is how many rows one read transaction covers. Short reads let
// WAL checkpoints proceed while a long export runs beside ingestion.
const exportChunk = 5_000

// exportWorkers is how many chunks are read at once, each on its own read
// connection. Reading a row through database/sql costs more than writing
// it out, so while the caller writes one chunk the next ones are read on
// the other cores.
var exportWorkers = max(2, runtime.GOMAXPROCS(0))

// The export walks a project's events in the order received,
// (received_at, id), on events_project_received: each chunk is a seek, with
// neither a scan of older events nor a sort.
const (
	exportColumns = `SELECT id, message_id, type, COALESCE(event, ''), COALESCE(user_id, ''), COALESCE(anonymous_id, ''),
	       timestamp, received_at, verification, traits, properties, context, signed_traits
	FROM events`
	// exportEventsSQL reads the chunk after (from] up to and including to.
	exportEventsSQL = exportColumns + `
	WHERE project_id = $1 AND (received_at, id) > ($2, $3) AND (received_at, id) <= ($4, $5)
	ORDER BY received_at, id`
	// exportTailSQL reads the last chunk: everything after from.
	exportTailSQL = exportColumns + `
	WHERE project_id = $1 AND (received_at, id) > ($2, $3)
	ORDER BY received_at, id`
	// exportBoundarySQL finds where a chunk starting after from ends: the
	// key exportChunk rows on, read from the index alone.
	exportBoundarySQL = `
	SELECT received_at, id FROM events
	WHERE project_id = $1 AND (received_at, id) > ($2, $3)
	ORDER BY received_at, id LIMIT 1 OFFSET $4`
)

// exportKey is a position in the export's order.
type exportKey struct{ recv, id int64 }

// exportPart is one chunk of an export: its range, then its rows.
type exportPart struct {
	from, to exportKey
	tail     bool // no upper bound: the last chunk
	rows     []StoredEvent
	err      error
	done     chan struct{}
}

// ExportEvents calls fn for each of the project's events received at or
// after since, oldest first (by receivedAt, then by the order stored), one
// call at a time. It reads in chunks, several at once, each a seek on an
// index, so memory stays bounded and each chunk costs the same however many
// events there are. The *StoredEvent and its byte slices are not the
// caller's: fn must copy what it keeps. Timestamp and ReceivedAt are the
// stored milliseconds as they are, even where no RFC 3339 text can show
// them (a year past 9999 written by an older version): the caller decides
// how to show them.
func (s *Store) ExportEvents(ctx context.Context, projectID int64, since time.Time, fn func(*StoredEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	parts := make(chan *exportPart, exportWorkers) // in order, to this goroutine
	work := make(chan *exportPart)                 // to the readers
	var wg sync.WaitGroup
	wg.Add(1 + exportWorkers)
	defer func() { cancel(); wg.Wait() }()

	go func() { // cuts the export into chunks
		defer wg.Done()
		defer close(parts)
		defer close(work)
		from := exportKey{ms(since), 0} // (since, 0): every id received at since or later
		if since.IsZero() {
			from.recv = math.MinInt64
		}
		for {
			p := &exportPart{from: from, done: make(chan struct{})}
			err := s.r.QueryRowContext(ctx, exportBoundarySQL, projectID, from.recv, from.id, exportChunk-1).Scan(&p.to.recv, &p.to.id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				p.tail = true
			case err != nil:
				p.err = err
				close(p.done)
			}
			select {
			case parts <- p:
			case <-ctx.Done():
				return
			}
			if p.err != nil {
				return
			}
			select {
			case work <- p:
			case <-ctx.Done():
				return
			}
			if p.tail {
				return
			}
			from = p.to
		}
	}()
	for range exportWorkers {
		go func() { // read chunks
			defer wg.Done()
			for p := range work {
				p.err = s.readExportPart(ctx, projectID, p)
				close(p.done)
			}
		}()
	}
	for p := range parts {
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.err != nil {
			return fmt.Errorf("store: export events of project %d: %w", projectID, p.err)
		}
		for i := range p.rows {
			if err := fn(&p.rows[i]); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// readExportPart reads one chunk's rows into p.rows, their byte slices
// copied into one buffer.
func (s *Store) readExportPart(ctx context.Context, projectID int64, p *exportPart) error {
	q, args := exportEventsSQL, []any{projectID, p.from.recv, p.from.id, p.to.recv, p.to.id}
	if p.tail {
		q, args = exportTailSQL, args[:3]
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type span struct{ traits, props, ctxt, signed [2]int }
	var spans []span
	var buf []byte
	add := func(b []byte) [2]int {
		buf = append(buf, b...)
		return [2]int{len(buf) - len(b), len(buf)}
	}
	p.rows = make([]StoredEvent, 0, exportChunk)
	for rows.Next() {
		var e StoredEvent
		var traits, props, ctxt, signed sql.RawBytes
		if err := rows.Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID,
			&e.TimestampMS, &e.ReceivedAtMS, &e.Verification, &traits, &props, &ctxt, &signed); err != nil {
			return err
		}
		// Not fromMS: 0 is a real time here, 1970-01-01, the earliest an
		// event's time is clamped to.
		e.Timestamp, e.ReceivedAt = time.UnixMilli(e.TimestampMS).UTC(), time.UnixMilli(e.ReceivedAtMS).UTC()
		spans = append(spans, span{add(traits), add(props), add(ctxt), add(signed)})
		p.rows = append(p.rows, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, sp := range spans { // buf no longer moves
		e := &p.rows[i]
		e.Traits, e.Properties, e.Context = sliceOf(buf, sp.traits), sliceOf(buf, sp.props), sliceOf(buf, sp.ctxt)
		e.SignedTraits = sliceOf(buf, sp.signed)
	}
	return nil
}

func sliceOf(buf []byte, at [2]int) []byte {
	if at[0] == at[1] {
		return nil
	}
	return buf[at[0]:at[1]:at[1]]
}

// CountEvents returns how many events the project has stored.
func (s *Store) CountEvents(ctx context.Context, projectID int64) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events of project %d: %w", projectID, err)
	}
	return n, nil
}
