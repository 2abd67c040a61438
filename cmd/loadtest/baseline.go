package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

// The baseline is the least a server can do for the same load: decode the
// JSON (traits and properties kept raw), verify the hmac_v1 token, and
// group-commit into SQLite with the same durability (WAL, synchronous FULL),
// acknowledging after commit. No dedup index, counters, rejections, logging
// or limits. The product must reach at least 0.7 of it.

type baseEvent struct {
	Type          string          `json:"type"`
	UserID        string          `json:"userId"`
	AnonymousID   string          `json:"anonymousId"`
	Event         string          `json:"event"`
	Traits        json.RawMessage `json:"traits"`
	Properties    json.RawMessage `json:"properties"`
	Context       json.RawMessage `json:"context"`
	IdentityToken string          `json:"identityToken"`
	MessageID     string          `json:"messageId"`
	Timestamp     string          `json:"timestamp"`
	PublicKey     string          `json:"publicKey"`
}

type baseJob struct {
	events []baseEvent
	done   chan error
}

type baseline struct {
	key   string
	pool  sync.Pool // of hash.Hash keyed with the secret
	queue chan *baseJob
	db    *sql.DB
}

func runBaseline(args []string) error {
	fs := flag.NewFlagSet("baseline-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "")
	data := fs.String("data", ".", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(*data, "baseline.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, project_id INTEGER, message_id TEXT, type TEXT,
		event TEXT, user_id TEXT, timestamp TEXT, received_at INTEGER, properties TEXT, context TEXT)`); err != nil {
		return err
	}
	var raw [32]byte
	rand.Read(raw[:])
	secret := "sis_" + base64.RawURLEncoding.EncodeToString(raw[:])
	b := &baseline{key: "pk_live_baseline000000000000000000", queue: make(chan *baseJob, 4096), db: db}
	b.pool.New = func() any { return hmac.New(sha256.New, []byte(secret)) }
	go b.writer()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /events", b.single)
	mux.HandleFunc("POST /events/batch", b.batch)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("%s %s\n", b.key, secret)
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (b *baseline) verify(e *baseEvent) bool {
	if len(e.IdentityToken) != 8+64 || e.IdentityToken[:8] != "hmac_v1:" {
		return false
	}
	var want [32]byte
	if _, err := hex.Decode(want[:], []byte(e.IdentityToken[8:])); err != nil {
		return false
	}
	h := b.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(e.UserID))
	var sum [32]byte
	ok := hmac.Equal(h.Sum(sum[:0]), want[:])
	b.pool.Put(h)
	return ok
}

func (b *baseline) commit(r *http.Request, events []baseEvent) error {
	j := &baseJob{events: events, done: make(chan error, 1)}
	b.queue <- j
	return <-j.done
}

func (b *baseline) single(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<10))
	var e baseEvent
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	if err != nil || e.PublicKey != b.key {
		http.Error(w, `{"error":{"code":"INVALID_JSON"}}`, http.StatusBadRequest)
		return
	}
	if !b.verify(&e) {
		http.Error(w, `{"error":{"code":"IDENTITY_UNVERIFIED"}}`, http.StatusUnauthorized)
		return
	}
	if err := b.commit(r, []baseEvent{e}); err != nil {
		http.Error(w, `{"error":{"code":"OVERLOADED"}}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"accepted":1,"messageId":%q}`+"\n", e.MessageID)
}

func (b *baseline) batch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PublicKey string      `json:"publicKey"`
		Events    []baseEvent `json:"events"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 512<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.PublicKey != b.key {
		http.Error(w, `{"error":{"code":"INVALID_JSON"}}`, http.StatusBadRequest)
		return
	}
	ok := req.Events[:0]
	for _, e := range req.Events {
		if b.verify(&e) {
			ok = append(ok, e)
		}
	}
	if err := b.commit(r, ok); err != nil {
		http.Error(w, `{"error":{"code":"OVERLOADED"}}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"accepted":%d,"rejected":[]}`+"\n", len(ok))
}

func (b *baseline) writer() {
	var jobs []*baseJob
	for j := range b.queue {
		jobs = append(jobs[:0], j)
		n := len(j.events)
	more:
		for n < 5000 {
			select {
			case j := <-b.queue:
				jobs = append(jobs, j)
				n += len(j.events)
			default:
				break more
			}
		}
		err := b.write(jobs)
		for _, j := range jobs {
			j.done <- err
		}
	}
}

func (b *baseline) write(jobs []*baseJob) error {
	tx, err := b.db.Begin()
	if err != nil {
		return err
	}
	stmt, err := tx.Prepare(`INSERT INTO events (project_id, message_id, type, event, user_id, timestamp, received_at, properties, context)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tx.Rollback()
		return err
	}
	now := time.Now().UnixMilli()
	for _, j := range jobs {
		for i := range j.events {
			e := &j.events[i]
			if _, err := stmt.Exec(e.MessageID, e.Type, e.Event, e.UserID, e.Timestamp, now, string(e.Properties), string(e.Context)); err != nil {
				tx.Rollback()
				return err
			}
		}
	}
	stmt.Close()
	return tx.Commit()
}
