package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/jsonx"
	"github.com/sendora/sendora/internal/reqlog"
	"github.com/sendora/sendora/internal/store"
)

// Config lists the Handler's parts and limits.
type Config struct {
	Log      *slog.Logger
	Store    *store.Store
	Verifier *identity.Verifier
	Writer   *Writer
	ClientIP *clientip.Resolver
	// KeyTTL is how long a public key's project is cached (the verifier's TTL).
	KeyTTL time.Duration
	// MaxInflightBytes bounds the request bodies being read and processed
	// at once, by the bytes each really declares or has sent. Past it the
	// server answers 503 OVERLOADED at once rather than queue in memory.
	MaxInflightBytes int64
	// MaxInflightPerIP bounds the requests in progress from one client
	// address (IPv6 by /64), and MaxInflightBytesPerIP their bytes (default
	// an eighth of MaxInflightBytes); past either, 429 RATE_LIMITED.
	MaxInflightPerIP      int
	MaxInflightBytesPerIP int64
	// BodyTimeout is how long a request body may take to arrive; past it
	// the answer is 408 REQUEST_TIMEOUT.
	BodyTimeout time.Duration
	// RateLimitKey and RateLimitIP are events per second per public key and
	// per client IP; 0 turns a limit off.
	RateLimitKey float64
	RateLimitIP  float64
	// RefusedBytesPerIP is the refusal budget of a client address (IPv6
	// by /64): the bytes per second of refused input it may send (bodies
	// and events refused as INVALID_JSON, INVALID_EVENT, INVALID_PUBLIC_KEY
	// or ORIGIN_NOT_ALLOWED; strict identity's refusals do not count), with
	// a burst of two seconds' worth. Past it, the address's next requests
	// wait until the budget has room, or get 429 RATE_LIMITED when that is
	// more than maxHold away. Refused input costs the server as much to
	// read as stored events but is answered without waiting for a commit,
	// so without the budget one sender looping on it takes a share of the
	// CPU from every valid client. 0 turns it off.
	RefusedBytesPerIP int64
	Now               func() time.Time
	// Observe, when set, is told each request's Outcome (for metrics). It
	// runs on the request path: it must be cheap and must not block.
	Observe func(Outcome)
	// Held, when set, is told of each request held for its address's
	// refusal budget: how long it waited, or, when refused (429), how long
	// it would have had to.
	Held func(wait time.Duration, refused bool)
}

// Defaults of Config.
const (
	DefaultMaxInflightPerIP = 256
	DefaultBodyTimeout      = 15 * time.Second
	// DefaultRefusedBytesPerIP is the refusal budget serve starts with:
	// about 2,000 refused events a second, far past what a working SDK
	// sends, far under what one looping sender could.
	DefaultRefusedBytesPerIP = 1 << 20
	// maxHold is the longest a request waits for its address's refusal
	// budget; past it the answer is 429 at once.
	maxHold = 5 * time.Second
	// answerWithin is how long after its body a request may take to be
	// answered: the wait for its commit, which may wait out the store's
	// busy timeout (10 s).
	answerWithin = 30 * time.Second
)

// Handler serves the ingestion endpoints.
type Handler struct {
	log      *slog.Logger
	keys     *keyCache
	verifier *identity.Verifier
	writer   *Writer
	ips      *clientip.Resolver
	admit    *admission
	bodyWait time.Duration
	byKey    *limiter
	byIP     *limiter
	refused  *limiter // bytes of refused input, by client address
	now      func() time.Time

	onOutcome func(Outcome)
	onHeld    func(time.Duration, bool)
}

// NewHandler returns the ingestion handler.
func NewHandler(c Config) *Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.KeyTTL <= 0 {
		c.KeyTTL = identity.DefaultCacheTTL
	}
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = 32 << 20
	}
	c.MaxInflightBytes = max(c.MaxInflightBytes, MaxBatchBytes)
	if c.MaxInflightPerIP <= 0 {
		c.MaxInflightPerIP = DefaultMaxInflightPerIP
	}
	if c.MaxInflightBytesPerIP <= 0 {
		c.MaxInflightBytesPerIP = c.MaxInflightBytes / 8
	}
	c.MaxInflightBytesPerIP = min(max(c.MaxInflightBytesPerIP, MaxBatchBytes), c.MaxInflightBytes)
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.ClientIP == nil {
		c.ClientIP, _ = clientip.New(nil)
	}
	return &Handler{
		log:      c.Log,
		keys:     newKeyCache(c.Store, c.KeyTTL, c.Now),
		verifier: c.Verifier,
		writer:   c.Writer,
		ips:      c.ClientIP,
		admit:    newAdmission(c.MaxInflightBytes, c.MaxInflightPerIP, c.MaxInflightBytesPerIP),
		bodyWait: c.BodyTimeout,
		byKey:    newLimiter(c.RateLimitKey),
		byIP:     newLimiter(c.RateLimitIP),
		refused:  newLimiter(float64(c.RefusedBytesPerIP)),
		now:      c.Now,

		onOutcome: c.Observe,
		onHeld:    c.Held,
	}
}

// Endpoint names, as stored with rejections.
const (
	endpointEvent = "/events"
	endpointBatch = "/events/batch"
)

// NotAllowed answers other methods on the ingestion paths in the
// contract's error shape.
func (h *Handler) NotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Allow", "POST, OPTIONS")
	writeError(w, http.StatusMethodNotAllowed, &eventError{Code: "METHOD_NOT_ALLOWED", Message: "use POST"}, 0)
}

// InvalidateKeys forgets every cached public key, so the next event of each
// looks its project up again. The change watcher calls it when a project
// changed in another process (the CLI, another instance).
func (h *Handler) InvalidateKeys() { h.keys.invalidateAll() }

// Preflight answers CORS preflight requests from any origin. Browser SDKs
// run on customers' domains; the key travels in the body or the
// Authorization header, never in a cookie, so no credentials are allowed.
func (h *Handler) Preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	hd.Set("Access-Control-Max-Age", "86400")
	hd.Set("Vary", "Origin")
	w.WriteHeader(http.StatusNoContent)
}

// request is what both endpoints share while handling one request.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	received time.Time
	ip       string
	ipKey    string // ip as the per-address limits count it (clientip.Key)
	slot     *slot  // its admission; leave when done
}

// begin runs the checks both endpoints make before reading the body and
// admits the request. It writes the error and returns false when the
// request is refused; otherwise the caller must req.slot.leave().
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, endpoint string, limit int64) (*request, bool) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	req := &request{w: w, r: r, endpoint: endpoint, received: h.now().UTC(), ip: h.ips.IP(r)}
	req.ipKey = clientip.Key(req.ip)
	if !mediaTypeOK(r.Header.Get("Content-Type")) {
		drain(w, r)
		writeError(w, http.StatusUnsupportedMediaType, &eventError{Code: CodeUnsupportedMediaType,
			Message: "Content-Type must be application/json or text/plain"}, 0)
		return nil, false
	}
	if r.ContentLength > limit {
		drain(w, r)
		writeError(w, http.StatusRequestEntityTooLarge, tooLarge(limit), 0)
		return nil, false
	}
	s, ok := h.admit.enter(req.ipKey)
	if !ok {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusTooManyRequests, &eventError{Code: CodeRateLimited, Message: "too many requests in progress from this client"}, time.Second)
		return nil, false
	}
	req.slot = s
	if !h.holdForRefusals(req) {
		s.leave()
		return nil, false
	}
	// The body must arrive within bodyWait; the answer may then wait for
	// its commit. The server's own timeouts cover the dashboard.
	rc := http.NewResponseController(w)
	now := time.Now()
	rc.SetReadDeadline(now.Add(h.bodyWait))
	rc.SetWriteDeadline(now.Add(h.bodyWait + answerWithin))
	return req, true
}

// holdForRefusals makes a request from an address past its refusal budget
// wait until the budget has room again (Config.RefusedBytesPerIP), so that
// a sender looping on refused input is paced by the budget rather than by
// how fast the server can refuse it. A wait past maxHold is answered 429
// at once. It returns false when the request was answered or its client
// went away.
func (h *Handler) holdForRefusals(req *request) bool {
	wait := h.refused.debt(req.ipKey, req.received)
	if wait <= 0 {
		return true
	}
	if h.onHeld != nil {
		h.onHeld(wait, wait > maxHold)
	}
	if wait > maxHold {
		drain(req.w, req.r)
		writeError(req.w, http.StatusTooManyRequests, &eventError{Code: CodeRateLimited,
			Message: "too much refused input (invalid JSON or events, unknown keys) from this client; fix what the earlier answers name"}, wait)
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-req.r.Context().Done():
		return false
	}
}

// chargeRefused charges n bytes of refused input to the request's address.
func (h *Handler) chargeRefused(req *request, n int) {
	h.refused.charge(req.ipKey, n, h.now())
}

func mediaTypeOK(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "text/plain")
}

func tooLarge(limit int64) *eventError {
	what := "an event"
	if limit == MaxBatchBytes {
		what = "a batch"
	}
	return &eventError{Code: CodePayloadTooLarge, Message: what + " body is at most " + strconv.FormatInt(limit>>10, 10) + " KiB"}
}

// refusedByStore answers an event the store refuses on its own, every time
// (store.IsTransient says no); the rest of its group was committed.
func refusedByStore() *eventError {
	return &eventError{Code: CodeInvalidEvent, Message: "the store refuses this event; it was not stored, and sending it again fails the same way"}
}

func overloaded() *eventError {
	return &eventError{Code: CodeOverloaded, Message: "the server cannot keep up; nothing was stored, retry later"}
}

// resolveKey finds the project from the Bearer header or the body's key and
// applies its origin rule and the per-key rate limit.
func (h *Handler) resolveKey(ctx context.Context, req *request, bodyKey string, n int) (*project, *eventError, int, time.Duration) {
	key := bodyKey
	if auth := req.r.Header.Get("Authorization"); auth != "" {
		bearer, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return nil, &eventError{Code: CodeInvalidPublicKey, Message: "Authorization must be: Bearer pk_live_…"}, http.StatusUnauthorized, 0
		}
		bearer = strings.TrimSpace(bearer)
		if bodyKey != "" && bodyKey != bearer {
			return nil, &eventError{Code: CodeInvalidPublicKey, Message: "publicKey in the body and the Authorization header differ"}, http.StatusUnauthorized, 0
		}
		key = bearer
	}
	if key == "" {
		return nil, &eventError{Code: CodeInvalidPublicKey, Message: "a public key is required: \"publicKey\" in the body or Authorization: Bearer pk_live_…"}, http.StatusUnauthorized, 0
	}
	p, err := h.keys.lookup(ctx, key)
	if errors.Is(err, errUnknownKey) {
		return nil, &eventError{Code: CodeInvalidPublicKey, Message: "unknown public key"}, http.StatusUnauthorized, 0
	}
	if err != nil {
		h.log.Error("look up public key", "err", err)
		return nil, &eventError{Code: CodeInternal, Message: "internal error"}, http.StatusInternalServerError, 0
	}
	if origin := req.r.Header.Get("Origin"); len(p.origins) > 0 && origin != "" && !slices.Contains(p.origins, origin) {
		return nil, &eventError{Code: CodeOriginNotAllowed, Message: "this project does not accept events from this origin"}, http.StatusForbidden, 0
	}
	info := reqlog.From(ctx)
	info.Project, info.Events = p.name, n
	if ok, wait := h.byKey.allow(key, n, req.received); !ok {
		return nil, &eventError{Code: CodeRateLimited, Message: "rate limit for this public key exceeded"}, http.StatusTooManyRequests, wait
	}
	return p, nil, 0, 0
}

// keyRefused charges a body whose key or origin was refused (not a key
// that is only over its rate limit, nor a failed lookup).
func (h *Handler) keyRefused(req *request, status, n int) {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		h.chargeRefused(req, n)
	}
}

// limitIP applies the per-IP rate limit.
func (h *Handler) limitIP(req *request, n int) bool {
	if ok, wait := h.byIP.allow(req.ipKey, n, req.received); !ok {
		writeError(req.w, http.StatusTooManyRequests, &eventError{Code: CodeRateLimited, Message: "rate limit for this client exceeded"}, wait)
		return false
	}
	return true
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Event handles POST /events: one event.
func (h *Handler) Event(w http.ResponseWriter, r *http.Request) {
	req, ok := h.begin(w, r, endpointEvent, MaxEventBytes)
	if !ok {
		return
	}
	defer req.slot.leave()

	buf := bodyPool.Get().(*bytes.Buffer)
	defer bodyPool.Put(buf)
	if err := readBody(buf, r, MaxEventBytes, req.slot); err != nil {
		h.readFailed(w, r, err, MaxEventBytes)
		return
	}
	ev, eerr := decodeEvent(buf.Bytes())
	if eerr != nil {
		h.chargeRefused(req, buf.Len())
		writeError(w, http.StatusBadRequest, eerr, 0)
		return
	}
	if !h.limitIP(req, 1) {
		return
	}
	p, eerr, status, retry := h.resolveKey(r.Context(), req, ev.PublicKey, 1)
	if eerr != nil {
		h.keyRefused(req, status, buf.Len())
		writeError(w, status, eerr, retry)
		return
	}
	if eerr := ev.validate(); eerr != nil {
		h.chargeRefused(req, buf.Len())
		h.observeEvent(p, eventInvalid, 0, false)
		writeError(w, http.StatusBadRequest, eerr, 0)
		return
	}
	kr, err := h.verifier.Keyring(r.Context(), p.id)
	if err != nil {
		h.internal(w, "load identity keyring", err)
		return
	}
	res := kr.VerifyToken(ev.UserID, ev.IdentityToken, req.received)
	reason := res.Reason
	if reason != identity.Verified && kr.Strict {
		h.writer.Reject([]store.RejectionRow{h.rejection(req, p, -1, &ev, reason, true)})
		h.observeEvent(p, eventRefused, reason, false)
		writeError(w, http.StatusUnauthorized, &eventError{Code: CodeIdentityUnverified, Reason: reason.String(), Message: reason.Message()}, 0)
		return
	}
	rows := [1]store.EventRow{h.row(req, p, &ev, &res)}
	var results [1]Result
	if err := h.writer.Submit(r.Context(), rows[:], nil, results[:]); err != nil {
		h.submitFailed(w, err)
		return
	}
	if results[0] == Refused {
		h.chargeRefused(req, buf.Len())
		h.observeEvent(p, eventInvalid, 0, false)
		writeError(w, http.StatusBadRequest, refusedByStore(), 0)
		return
	}
	inserted := results[0] == Stored
	if reason != identity.Verified && inserted {
		h.writer.Reject([]store.RejectionRow{h.rejection(req, p, -1, &ev, reason, false)})
	}
	h.observeEvent(p, eventAccepted, reason, inserted)
	// The hot path's answer, written without reflection.
	b := make([]byte, 0, 48+len(rows[0].MessageID))
	b = append(b, `{"accepted":1,"messageId":`...)
	b = jsonx.AppendString(b, rows[0].MessageID)
	writeRaw(w, http.StatusOK, append(b, "}\n"...))
}

// rejected is one entry of a batch response's "rejected" list.
type rejected struct {
	Index int `json:"index"`
	*eventError
}

var itemsPool = sync.Pool{New: func() any { s := make([]batchItem, 0, 64); return &s }}

// Batch handles POST /events/batch: valid events land, each failing one is
// listed by its index with its code and reason.
func (h *Handler) Batch(w http.ResponseWriter, r *http.Request) {
	req, ok := h.begin(w, r, endpointBatch, MaxBatchBytes)
	if !ok {
		return
	}
	defer req.slot.leave()

	buf := bodyPool.Get().(*bytes.Buffer)
	defer bodyPool.Put(buf)
	if err := readBody(buf, r, MaxBatchBytes, req.slot); err != nil {
		h.readFailed(w, r, err, MaxBatchBytes)
		return
	}
	itemsp := itemsPool.Get().(*[]batchItem)
	bodyKey, items, eerr := decodeBatch(buf.Bytes(), (*itemsp)[:0])
	if items != nil {
		*itemsp = items[:0]
	}
	defer func() {
		s := *itemsp
		clear(s[:cap(s)]) // drop references to this request's events
		itemsPool.Put(itemsp)
	}()
	if eerr != nil {
		h.chargeRefused(req, buf.Len())
		status := http.StatusBadRequest
		switch eerr.Code {
		case CodePayloadTooLarge:
			status = http.StatusRequestEntityTooLarge
		case CodeInvalidPublicKey:
			status = http.StatusUnauthorized
		}
		writeError(w, status, eerr, 0)
		return
	}
	if !h.limitIP(req, len(items)) {
		return
	}
	p, eerr, status, retry := h.resolveKey(r.Context(), req, bodyKey, len(items))
	if eerr != nil {
		h.keyRefused(req, status, buf.Len())
		writeError(w, status, eerr, retry)
		return
	}
	kr, err := h.verifier.Keyring(r.Context(), p.id)
	if err != nil {
		h.internal(w, "load identity keyring", err)
		return
	}

	out := Outcome{Endpoint: endpointBatch, Project: p.name, Events: len(items)}
	var rej []rejected
	var enforced, reportOnly []store.RejectionRow
	rows := make([]store.EventRow, 0, len(items))
	rowItem := make([]int, 0, len(items)) // rows[k] is items[rowItem[k]]
	// Events stored unverified (strict off): recorded as report-only once
	// the commit says they were new.
	type unverified struct {
		row, item int
		reason    identity.Reason
	}
	var pending []unverified
	refusedBytes := 0
	for i := range items {
		it := &items[i]
		if it.err == nil {
			it.err = it.ev.validate()
		}
		if it.err != nil {
			rej = append(rej, rejected{i, it.err})
			out.Invalid++
			refusedBytes += it.size
			continue
		}
		res := kr.VerifyToken(it.ev.UserID, it.ev.IdentityToken, req.received)
		reason := res.Reason
		if reason != identity.Verified && kr.Strict {
			rej = append(rej, rejected{i, &eventError{Code: CodeIdentityUnverified, Reason: reason.String(), Message: reason.Message()}})
			enforced = append(enforced, h.rejection(req, p, i, &it.ev, reason, true))
			out.Rejected[reason]++
			continue
		}
		if reason != identity.Verified {
			pending = append(pending, unverified{len(rows), i, reason})
		}
		rows = append(rows, h.row(req, p, &it.ev, &res))
		rowItem = append(rowItem, i)
	}

	// The enforced rejections commit with the events: a batch answered
	// 503 and retried is counted once.
	results := make([]Result, len(rows))
	if err := h.writer.Submit(r.Context(), rows, enforced, results); err != nil {
		h.observe(&out)
		h.submitFailed(w, err)
		return
	}
	refused := false
	for k, res := range results {
		if res == Refused {
			refusedBytes += items[rowItem[k]].size
			rej = append(rej, rejected{rowItem[k], refusedByStore()})
			out.Invalid++
			refused = true
			continue
		}
		out.Accepted++
	}
	if refused {
		slices.SortFunc(rej, func(a, b rejected) int { return a.Index - b.Index })
	}
	for _, u := range pending {
		if results[u.row] == Stored {
			reportOnly = append(reportOnly, h.rejection(req, p, u.item, &items[u.item].ev, u.reason, false))
			out.ReportOnly[u.reason]++
		}
	}
	h.writer.Reject(reportOnly)
	h.chargeRefused(req, refusedBytes)
	h.observe(&out)
	if rej == nil {
		rej = []rejected{}
	}
	writeJSON(w, http.StatusOK, struct {
		Accepted int        `json:"accepted"`
		Rejected []rejected `json:"rejected"`
	}{out.Accepted, rej})
}

// row converts a verified (or report-only) event into its stored form,
// with the traits its verified JWT signed applied (signed.go).
func (h *Handler) row(req *request, p *project, ev *event, res *identity.Result) store.EventRow {
	id, serverID := ev.MessageID, false
	if id == "" {
		id, serverID = newServerID(), true
	}
	traits, signed := ev.Traits, []string(nil)
	if res.Traits != nil {
		traits, signed = applySignedTraits(ev.Type, ev.Traits, res.Traits)
	}
	return store.EventRow{
		ProjectID:    p.id,
		MessageID:    id,
		ServerID:     serverID,
		Type:         ev.Type,
		Event:        ev.Event,
		UserID:       ev.UserID,
		AnonymousID:  ev.AnonymousID,
		Timestamp:    ev.storedTime(req.received),
		ReceivedAt:   req.received,
		Verification: res.Reason.String(),
		Token:        tokenUse(res, req.received),
		Traits:       traits,
		Properties:   ev.Properties,
		Context:      ev.Context,
		SignedTraits: signed,
	}
}

const maxUserAgent = 256

func (h *Handler) rejection(req *request, p *project, index int, ev *event, reason identity.Reason, enforced bool) store.RejectionRow {
	ua := req.r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return store.RejectionRow{
		ProjectID:   p.id,
		At:          req.received,
		Endpoint:    req.endpoint,
		BatchIndex:  index,
		EventType:   ev.Type,
		UserID:      ev.UserID,
		AnonymousID: ev.AnonymousID,
		Reason:      reason.String(),
		Enforced:    enforced,
		SourceIP:    req.ip,
		UserAgent:   ua,
	}
}

// readFailed answers a body that could not be read whole.
func (h *Handler) readFailed(w http.ResponseWriter, r *http.Request, err error, limit int64) {
	switch {
	case errors.Is(err, errTooLarge):
		drain(w, r)
		writeError(w, http.StatusRequestEntityTooLarge, tooLarge(limit), 0)
	case errors.Is(err, errBusy):
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusServiceUnavailable, overloaded(), time.Second)
	case errors.Is(err, errClientBusy):
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusTooManyRequests, &eventError{Code: CodeRateLimited, Message: "too many request bytes in progress from this client"}, time.Second)
	case errors.Is(err, errBodyTimeout):
		w.Header().Set("Connection", "close")
		// The read deadline has passed; answer within a fresh write one.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Second))
		writeError(w, http.StatusRequestTimeout, &eventError{Code: CodeRequestTimeout,
			Message: "the request body did not arrive within " + h.bodyWait.String() + "; nothing was stored"}, 0)
	default:
		// The client went away or sent a broken body; nothing to store.
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusBadRequest, &eventError{Code: CodeInvalidJSON, Message: "could not read the request body"}, 0)
	}
}

func (h *Handler) submitFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrOverloaded), errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, overloaded(), time.Second)
	case errors.Is(err, ErrStore): // logged once by the writer, for the whole group
		writeError(w, http.StatusServiceUnavailable, &eventError{Code: CodeOverloaded, Message: "the store failed to commit; nothing was stored, retry later"}, 5*time.Second)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client is gone; the events may still commit (and a retry is
		// deduplicated by messageId).
		writeError(w, http.StatusServiceUnavailable, overloaded(), time.Second)
	default:
		h.log.Error("commit events", "err", err)
		writeError(w, http.StatusServiceUnavailable, &eventError{Code: CodeOverloaded, Message: "the store failed to commit; nothing was stored, retry later"}, 5*time.Second)
	}
}

func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.log.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, &eventError{Code: CodeInternal, Message: "internal error"}, 0)
}

// writeError writes the contract's error shape.
func writeError(w http.ResponseWriter, status int, e *eventError, retry time.Duration) {
	if retry > 0 { // whole seconds, rounded up: a client waiting less is refused again
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	writeJSON(w, status, struct {
		Error *eventError `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // unreachable: only our own types are written
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`)
	}
	writeRaw(w, status, append(b, '\n'))
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType // canonical keys, shared read-only values
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(body)
}

// ServerIDPrefix starts every messageId the server assigns; clients may
// not use it, so a client can never take an id the server will assign.
const ServerIDPrefix = "srv_"

// newServerID returns a messageId for an event sent without one: 130 bits
// from crypto/rand, so nobody can predict the next one. Such ids are never
// dedup keys (store.EventRow.ServerID).
func newServerID() string {
	return ServerIDPrefix + rand.Text()
}
