package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// harness is the ingestion API over real HTTP on a real SQLite file, or a
// real PostgreSQL database inside onPostgres (postgres_test.go).
type harness struct {
	t        testing.TB
	st       *store.Store
	sealer   *identity.Sealer
	verifier *identity.Verifier
	handler  *ingest.Handler
	clock    *fakeclock.Clock
	manager  *identity.Manager
	writer   *ingest.Writer
	srv      *httptest.Server
	project  store.Project
	key      string
}

type harnessOptions struct {
	writer  ingest.WriterOptions
	handler ingest.Config
}

func newHarness(t testing.TB, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	var o harnessOptions
	for _, f := range opts {
		f(&o)
	}
	st := newStore(t)
	sealer := storetest.Sealer()
	clock := fakeclock.New(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	verifier := identity.NewVerifier(st, sealer, identity.VerifierOptions{Now: clock.Now})
	o.writer.Now = clock.Now
	writer := ingest.NewWriter(st, o.writer)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		writer.Close(ctx)
	})
	c := o.handler
	c.Store, c.Verifier, c.Writer, c.Now = st, verifier, writer, clock.Now
	h := ingest.NewHandler(c)
	mux := http.NewServeMux() // the ingestion block of internal/server/routes.go
	mux.HandleFunc("POST /events", h.Event)
	mux.HandleFunc("POST /events/batch", h.Batch)
	mux.HandleFunc("OPTIONS /events", h.Preflight)
	mux.HandleFunc("OPTIONS /events/batch", h.Preflight)
	mux.HandleFunc("/events", h.NotAllowed)
	mux.HandleFunc("/events/batch", h.NotAllowed)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := storetest.Project(t, st, "default")
	return &harness{t: t, st: st, sealer: sealer, verifier: verifier, handler: h, clock: clock, manager: identity.NewManager(st, sealer, verifier),
		writer: writer, srv: srv, project: p, key: p.PublicKey}
}

// rotate makes a new current secret and returns it.
func (h *harness) rotate(overlap time.Duration) identity.Secret {
	h.t.Helper()
	r, err := h.manager.Rotate(context.Background(), h.project.ID, overlap, identity.Actor{Name: "test"})
	if err != nil {
		h.t.Fatalf("rotate: %v", err)
	}
	return r.Secret
}

func (h *harness) strict(on bool) {
	h.t.Helper()
	if err := h.manager.SetStrict(context.Background(), h.project.ID, on, identity.Actor{Name: "test"}); err != nil {
		h.t.Fatalf("strict %v: %v", on, err)
	}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (h *harness) do(method, path, contentType, body string, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: response is not JSON: %q", method, path, raw)
		}
	}
	return r
}

func (h *harness) post(path, body string, header ...string) response {
	h.t.Helper()
	return h.do("POST", path, "application/json", body, header...)
}

// js builds a JSON body from a map, with publicKey added unless present.
func (h *harness) js(m map[string]any) string {
	h.t.Helper()
	if _, ok := m["publicKey"]; !ok {
		m["publicKey"] = h.key
	}
	b, err := json.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) batch(events ...map[string]any) string {
	h.t.Helper()
	b, err := json.Marshal(map[string]any{"publicKey": h.key, "events": events})
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) flush() {
	h.t.Helper()
	if err := h.writer.Flush(context.Background()); err != nil {
		h.t.Fatalf("flush: %v", err)
	}
}

// events returns the project's stored events.
func (h *harness) events() []store.StoredEvent {
	h.t.Helper()
	var out []store.StoredEvent
	err := h.st.ExportEvents(context.Background(), h.project.ID, time.Time{}, func(e *store.StoredEvent) error {
		c := *e
		c.Traits, c.Properties, c.Context = bytes.Clone(e.Traits), bytes.Clone(e.Properties), bytes.Clone(e.Context)
		out = append(out, c)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// rejections flushes the writer and returns the project's rejections, newest first.
func (h *harness) rejections() []store.Rejection {
	h.t.Helper()
	h.flush()
	rs, err := h.st.Rejections(context.Background(), store.RejectionFilter{ProjectID: h.project.ID, Limit: 100_000})
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

// errorOf returns the code and reason of an error response.
func errorOf(r response) (code, reason string) {
	e, _ := r.body["error"].(map[string]any)
	code, _ = e["code"].(string)
	reason, _ = e["reason"].(string)
	return code, reason
}

func ev(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
