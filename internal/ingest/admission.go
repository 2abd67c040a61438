package ingest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Admission bounds the request bodies held in memory at once, so that no
// client can take the server from the others cheaply:
//
//   - in total, by the bytes each request really holds: its declared
//     Content-Length, or, for a chunked body, what has arrived so far
//     (reserved as it is read), never the endpoint's limit up front. A
//     connection that sends headers and then idles holds nothing;
//   - per client address (IPv6 by /64), by the number of requests in
//     progress and their bytes, so that one address holding many slow
//     connections gets 429 while everyone else still gets in;
//   - in time: a body must arrive within the body timeout, else 408.
type admission struct {
	total         *semaphore.Weighted
	perIPRequests int
	perIPBytes    int64

	mu   sync.Mutex
	byIP map[string]*ipLoad // only addresses with a request in progress
}

type ipLoad struct {
	requests int
	bytes    int64
}

func newAdmission(totalBytes int64, perIPRequests int, perIPBytes int64) *admission {
	return &admission{
		total:         semaphore.NewWeighted(totalBytes),
		perIPRequests: perIPRequests,
		perIPBytes:    perIPBytes,
		byIP:          map[string]*ipLoad{},
	}
}

// slot is one request's admission: the bytes it holds, released by leave.
type slot struct {
	a     *admission
	key   string
	bytes int64
}

// enter admits a request from the client address key (clientip.Key), or
// refuses it when the address already has its share of requests running.
func (a *admission) enter(key string) (*slot, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.byIP[key]
	if l == nil {
		l = &ipLoad{}
		a.byIP[key] = l
	}
	if l.requests >= a.perIPRequests {
		return nil, false
	}
	l.requests++
	return &slot{a: a, key: key}, true
}

// Errors of reserve and readBody.
var (
	// errBusy: the server holds as many bodies as it may (503).
	errBusy = errors.New("ingest: too many request bytes in progress")
	// errClientBusy: this client address holds its share (429).
	errClientBusy = errors.New("ingest: too many request bytes in progress from this client")
	// errTooLarge: the body went past its endpoint's limit (413).
	errTooLarge = errors.New("ingest: body too large")
	// errBodyTimeout: the body did not arrive within the body timeout (408).
	errBodyTimeout = errors.New("ingest: body read timed out")
)

// reserve takes n more bytes for the slot, from its address's share and
// from the total.
func (s *slot) reserve(n int64) error {
	a := s.a
	a.mu.Lock()
	l := a.byIP[s.key]
	if l.bytes+n > a.perIPBytes {
		a.mu.Unlock()
		return errClientBusy
	}
	l.bytes += n
	a.mu.Unlock()
	if !a.total.TryAcquire(n) {
		a.mu.Lock()
		l.bytes -= n
		a.mu.Unlock()
		return errBusy
	}
	s.bytes += n
	return nil
}

// leave releases everything the slot holds.
func (s *slot) leave() {
	a := s.a
	if s.bytes > 0 {
		a.total.Release(s.bytes)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.byIP[s.key]
	l.bytes -= s.bytes
	l.requests--
	if l.requests == 0 {
		delete(a.byIP, s.key)
	}
	s.bytes = 0
}

// readStep is how much a chunked body reserves at a time as it arrives.
const readStep = 32 << 10

// readBody reads a whole request body into buf, reserving what it holds in
// s: the declared length up front, or, without one, each step before it is
// read. It fails with errTooLarge past limit, errBusy or errClientBusy when
// the bytes cannot be reserved, errBodyTimeout past the read deadline.
func readBody(buf *bytes.Buffer, r *http.Request, limit int64, s *slot) error {
	buf.Reset()
	declared := r.ContentLength
	if declared > limit {
		return errTooLarge
	}
	if declared >= 0 {
		if err := s.reserve(declared); err != nil {
			return err
		}
		buf.Grow(int(declared) + 1) // +1: room to see the EOF without growing
	}
	for {
		if declared < 0 { // reserve the next step before reading it
			if want := min(int64(buf.Len())+readStep, limit+1); want > s.bytes {
				if err := s.reserve(want - s.bytes); err != nil {
					return err
				}
			}
		}
		buf.Grow(readStep)
		room := buf.AvailableBuffer()[:min(int64(readStep), limit+1-int64(buf.Len()))]
		n, err := r.Body.Read(room)
		buf.Write(room[:n])
		if int64(buf.Len()) > limit {
			return errTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if isTimeout(err) {
				return errBodyTimeout
			}
			return err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Draining: a client that sends a large body and reads the answer only
// once it has sent it all (Python's urllib, Node's fetch) sees a reset
// instead of the 413 if the server closes the connection while it sends.
// So before an early answer the rest of the body is read and dropped, up
// to maxDrain bytes and drainTimeout, as nginx's lingering close does.
const (
	maxDrain     = 4 << 20
	drainTimeout = 5 * time.Second
)

// drain reads and drops what is left of r's body, within bounds, and marks
// the connection to close after the answer.
func drain(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if r.ContentLength > maxDrain {
		return // too much to be worth it: the client sees the connection close
	}
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(drainTimeout))
	io.CopyN(io.Discard, r.Body, maxDrain)
}
