package ingest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// These tests make the real database fail the way no validated event can
// today, to prove the writer's handling of store errors: a trigger that
// refuses some events (a deterministic error), a profile left malformed by
// an older version (json_patch fails every identify of that user), and a
// lock held by another connection (a transient error).

// side is a second connection to the harness's database, as another
// process would hold: on the SQLite file, or on the PostgreSQL database.
type side struct {
	t  *testing.T
	db *sql.DB
	pg bool
}

func newSide(t *testing.T, h *harness) *side {
	t.Helper()
	var db *sql.DB
	var err error
	pg := h.st.Dialect() == "postgres"
	if pg {
		// The harness's database on the test server (its URL, with any
		// password, is the server's; Location gives the database's name).
		u, perr := url.Parse(storetest.PostgresURL())
		loc, lerr := url.Parse(h.st.Location())
		if perr != nil || lerr != nil {
			t.Fatal(perr, lerr)
		}
		u.Path = loc.Path
		db, err = sql.Open("pgx", u.String())
	} else {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+h.st.Path()+"?"+q.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return &side{t: t, db: db, pg: pg}
}

func (s *side) exec(q string, args ...any) {
	s.t.Helper()
	if _, err := s.db.Exec(q, args...); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// poisonTrigger makes the store refuse, every time, each event named
// "poison": a deterministic error no validation knows of.
func (s *side) poisonTrigger() {
	s.t.Helper()
	if s.pg {
		s.exec(`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.event = 'poison' THEN RAISE EXCEPTION 'poison event'; END IF; RETURN NEW; END $$`)
		s.exec(`CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()`)
		return
	}
	s.exec(`CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event = 'poison'
		BEGIN SELECT RAISE(ABORT, 'poison event'); END`)
}

// failWrites makes every commit fail with a transient error until the
// returned function is called: on SQLite a write lock held past
// busy_timeout (SQLITE_BUSY after 10 s); on PostgreSQL a table lock that
// makes inserts wait, and the waiting connections terminated (SQLSTATE
// 57P01, as in a failover).
func (s *side) failWrites() (release func()) {
	s.t.Helper()
	tx, err := s.db.Begin() // SQLite: BEGIN IMMEDIATE, the write lock
	if err != nil {
		s.t.Fatal(err)
	}
	if !s.pg {
		return func() { tx.Rollback() }
	}
	if _, err := tx.Exec(`LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		s.t.Fatal(err)
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			s.db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)
		}
	}()
	return func() { close(stop); <-stopped; tx.Rollback() }
}

// commits records the writer's commits.
type commits struct {
	mu sync.Mutex
	s  []ingest.CommitStats
}

func (c *commits) add(s ingest.CommitStats) { c.mu.Lock(); c.s = append(c.s, s); c.mu.Unlock() }
func (c *commits) all() []ingest.CommitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ingest.CommitStats(nil), c.s...)
}

// TestDeterministicStoreErrorIsIsolated: one event the store refuses in a
// batch of 500 is answered by its index, the 499 others are stored, and
// the commit is reported with every event accounted for.
func TestDeterministicStoreErrorIsIsolated(t *testing.T) {
	var cs commits
	h := newHarness(t, func(o *harnessOptions) { o.writer.OnCommit = cs.add })
	newSide(t, h).poisonTrigger()

	var evs []map[string]any
	for i := range 500 {
		name := "ok"
		if i == 137 {
			name = "poison"
		}
		evs = append(evs, ev("type", "track", "event", name, "userId", fmt.Sprintf("u%d", i), "messageId", fmt.Sprintf("m%d", i)))
	}
	r := h.post("/events/batch", h.batch(evs...))
	if r.status != 200 || r.body["accepted"] != 499.0 {
		t.Fatalf("batch: %d %.300s", r.status, r.raw)
	}
	rej := r.body["rejected"].([]any)
	if len(rej) != 1 || rej[0].(map[string]any)["index"] != 137.0 || rej[0].(map[string]any)["code"] != "INVALID_EVENT" {
		t.Fatalf("rejected = %v, want index 137 INVALID_EVENT", rej)
	}
	if n := len(h.events()); n != 499 {
		t.Errorf("%d stored, want 499", n)
	}
	// A retry of the same batch: the 499 are retries, the poison fails again
	// the same way, and nothing is stored twice.
	r = h.post("/events/batch", h.batch(evs...))
	if r.status != 200 || r.body["accepted"] != 499.0 || len(r.body["rejected"].([]any)) != 1 {
		t.Fatalf("retry: %d %.300s", r.status, r.raw)
	}
	if n := len(h.events()); n != 499 {
		t.Errorf("%d stored after the retry, want 499", n)
	}
	var stored, refused, events, failed int
	for _, c := range cs.all() {
		if c.Err != nil {
			failed++
			continue
		}
		stored += c.Inserted
		refused += c.Refused
		events += c.Events
	}
	if stored != 499 || refused != 2 || events != 1000 || failed != 0 {
		t.Errorf("commits report %d stored, %d refused of %d events, %d failed; want 499, 2, 1000, 0", stored, refused, events, failed)
	}

	// POST /events answers the poison alone with 400.
	r = h.post("/events", h.js(ev("type", "track", "event", "poison", "userId", "u1")))
	if code, _ := errorOf(r); r.status != 400 || code != "INVALID_EVENT" {
		t.Errorf("single poison: %d %s", r.status, r.raw)
	}
}

// TestPoisonAmongConcurrentRequests: requests committed in one group with
// a poison request: only the poison is refused, every other request is
// answered 200 and stored.
func TestPoisonAmongConcurrentRequests(t *testing.T) {
	h := newHarness(t)
	newSide(t, h).poisonTrigger()
	const n = 40
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "ok"
			if i%10 == 3 {
				name = "poison"
			}
			var evs []map[string]any
			for k := range 5 {
				evs = append(evs, ev("type", "track", "event", name, "userId", "u", "messageId", fmt.Sprintf("m%d-%d", i, k)))
			}
			r := h.post("/events/batch", h.batch(evs...))
			statuses[i] = r.status
			want := 5.0
			if name == "poison" {
				want = 0
			}
			if r.status != 200 || r.body["accepted"] != want {
				t.Errorf("request %d (%s): %d %s", i, name, r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	if got, want := len(h.events()), (n-n/10)*5; got != want {
		t.Errorf("%d stored, want %d", got, want)
	}
}

// TestMalformedProfileRefusesOnlyItsIdentifies: a profile row whose traits
// are not JSON (left by an older version, or edited by hand) makes
// json_patch fail every identify of that user. Those are refused; the other
// events of the same batches land.
func TestMalformedProfileRefusesOnlyItsIdentifies(t *testing.T) {
	h := newHarness(t)
	if r := h.post("/events", h.js(ev("type", "identify", "userId", "u_broken", "traits", ev("plan", "pro")))); r.status != 200 {
		t.Fatalf("identify: %d %s", r.status, r.raw)
	}
	newSide(t, h).exec(`UPDATE profiles SET traits = '{"plan":' WHERE user_id = 'u_broken'`)
	r := h.post("/events/batch", h.batch(
		ev("type", "identify", "userId", "u_ok", "traits", ev("plan", "free")),
		ev("type", "identify", "userId", "u_broken", "traits", ev("plan", "enterprise")),
		ev("type", "track", "event", "E", "userId", "u_broken"),
	))
	if r.status != 200 || r.body["accepted"] != 2.0 {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	if rej := r.body["rejected"].([]any); len(rej) != 1 || rej[0].(map[string]any)["index"] != 1.0 {
		t.Errorf("rejected = %v, want index 1", rej)
	}
	if p, err := h.st.Profile(context.Background(), h.project.ID, "u_ok"); err != nil || !strings.Contains(string(p.Traits), "free") {
		t.Errorf("u_ok's profile: %v %s", err, p.Traits)
	}
}

// TestTransientStoreErrorFailsTheGroupFast: while another connection holds
// the write lock past busy_timeout, every request of the group is answered
// 503 OVERLOADED with Retry-After after one failed commit (not one retry per
// request), nothing is stored and the enforced rejections of a batch answered
// 503 are not counted; its retry is counted once.
func TestTransientStoreErrorFailsTheGroupFast(t *testing.T) {
	var cs commits
	h := newHarness(t, func(o *harnessOptions) { o.writer.OnCommit = cs.add })
	secret := h.rotate(0)
	h.strict(true)
	good := identity.Sign(secret, "u1")
	batch := h.batch(
		ev("type", "track", "event", "E", "userId", "u1", "identityToken", good, "messageId", "b1"),
		ev("type", "track", "event", "E", "userId", "u1", "identityToken", "hmac_v1:"+strings.Repeat("0", 64), "messageId", "b2"),
		ev("type", "track", "event", "E", "userId", "u1", "identityToken", good, "messageId", "b3"),
		ev("type", "track", "event", "E", "userId", "u2", "messageId", "b4"),
	)

	// Warm the key and keyring caches: a new read connection waits for
	// the lock too.
	if r := h.post("/events", h.js(ev("type", "track", "event", "E", "userId", "u1", "identityToken", good, "messageId", "warm"))); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	before := len(cs.all())
	release := newSide(t, h).failWrites()
	const n = 4
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r response
			if i == 0 {
				r = h.post("/events/batch", batch)
			} else {
				r = h.post("/events", h.js(ev("type", "track", "event", "E", "userId", "u1", "identityToken", good, "messageId", fmt.Sprintf("s%d", i))))
			}
			if code, _ := errorOf(r); r.status != 503 || code != "OVERLOADED" || r.header.Get("Retry-After") == "" {
				t.Errorf("request %d under a held lock: %d %s (Retry-After %q)", i, r.status, r.raw, r.header.Get("Retry-After"))
			}
		}()
	}
	wg.Wait()
	release()
	var failedEvents, failedCommits int
	for _, c := range cs.all()[before:] {
		if c.Err == nil {
			t.Errorf("a commit succeeded under the held lock: %+v", c)
		}
		failedCommits++
		failedEvents += c.Events
	}
	// Requests that queued together failed together: at most one failed
	// commit per request, all covering each event once (the batch's two
	// valid events and the single ones), never a request retried on its
	// own after its group failed.
	if want := 2 + n - 1; failedEvents != want {
		t.Errorf("failed commits covered %d events, want each of the %d once: %+v", failedEvents, want, cs.all()[before:])
	}
	if failedCommits > n {
		t.Errorf("%d failed commits for %d requests", failedCommits, n)
	}
	if got := len(h.events()); got != 1 {
		t.Fatalf("%d events stored, want only the warm-up: nothing while answering 503", got-1)
	}

	// The SDK retries the batch once the store is back.
	if r := h.post("/events/batch", batch); r.status != 200 || r.body["accepted"] != 2.0 {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	h.flush()
	totals, err := h.st.OutcomeTotals(context.Background(), h.project.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var rejected int64
	for _, c := range totals {
		if c.Outcome == store.OutcomeRejected {
			rejected += c.N
		}
	}
	if rejected != 2 {
		t.Errorf("enforced rejections counted %d times, want 2 (the retried batch's two, once)", rejected)
	}
	if n := len(h.rejections()); n != 2 {
		t.Errorf("%d rejection rows, want 2", n)
	}
}
