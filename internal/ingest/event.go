// Package ingest turns POST /events and /events/batch requests into
// committed events: it decodes and validates them, verifies identity tokens
// through the cached verifier, records rejections, and hands accepted events
// to a group-committing writer, acknowledging only after commit.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sendora/sendora/internal/jsonx"
)

// MaxNesting is how deep traits, properties and context may nest: {} is
// one level, {"a":{}} two. Deeper values are refused before they reach the
// store, whose JSON functions (the profile merge) have their own, lower
// limits and would fail the event at commit.
const MaxNesting = 32

// Limits from the wire contract.
const (
	MaxEventBytes    = 32 << 10  // one event, and the body of POST /events
	MaxBatchBytes    = 512 << 10 // the body of POST /events/batch
	MaxBatchEvents   = 500
	MaxMessageIDLen  = 100 // characters
	maxStringFieldsB = 8 << 10
)

// Error codes from the wire contract.
const (
	CodeInvalidJSON          = "INVALID_JSON"
	CodeInvalidEvent         = "INVALID_EVENT"
	CodeInvalidPublicKey     = "INVALID_PUBLIC_KEY"
	CodeIdentityUnverified   = "IDENTITY_UNVERIFIED"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeRateLimited          = "RATE_LIMITED"
	CodeOverloaded           = "OVERLOADED"
	CodeRequestTimeout       = "REQUEST_TIMEOUT"
	CodeOriginNotAllowed     = "ORIGIN_NOT_ALLOWED"
	CodeInternal             = "INTERNAL"
)

// wireEvent is an event as SDKs send it. Traits, properties and context stay
// raw JSON: they are stored as sent, and decoding them would dominate the
// cost of ingestion. Unknown fields are ignored, so older servers accept
// newer SDKs' events.
type wireEvent struct {
	PublicKey     string          `json:"publicKey"`
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
	SentAt        string          `json:"sentAt"`
}

// eventError is why one event is refused: a contract code, the identity
// reason for IDENTITY_UNVERIFIED, the offending field for INVALID_EVENT.
type eventError struct {
	Code    string `json:"code"`
	Reason  string `json:"reason,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *eventError) Error() string { return e.Code + ": " + e.Message }

func invalid(field, format string, args ...any) *eventError {
	return &eventError{Code: CodeInvalidEvent, Field: field, Message: fmt.Sprintf(format, args...)}
}

// event is a decoded, validated event ready to verify and store.
type event struct {
	wireEvent
	timestamp time.Time // zero when absent
	sentAt    time.Time // zero when absent
}

// decodeError maps a JSON decoding error for one event to the contract.
func decodeError(err error) *eventError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return invalid("", "event must be a JSON object, not %s", te.Value)
		}
		return invalid(te.Field, "%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return &eventError{Code: CodeInvalidJSON, Message: "body is not valid JSON: " + jsonSyntax(err)}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "a JSON value"
	}
	return "a " + goKind
}

// jsonSyntax describes a syntax error without echoing input back.
func jsonSyntax(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "malformed"
}

// validate checks one decoded event against the contract and parses its
// times. It returns the first problem, naming the field.
func (e *event) validate() *eventError {
	switch e.Type {
	case "identify", "track", "page":
	case "":
		return invalid("type", "type is required: identify, track or page")
	default:
		return invalid("type", "type must be identify, track or page")
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return invalid("userId", "userId or anonymousId is required")
	}
	if e.Type == "track" && e.Event == "" {
		return invalid("event", "event (the event name) is required for track")
	}
	for _, f := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"traits", e.Traits}, {"properties", e.Properties}, {"context", e.Context}} {
		if !isObjectOrNull(f.raw) {
			return invalid(f.name, "%s must be an object", f.name)
		}
		if jsonx.Nesting(f.raw, MaxNesting) > MaxNesting {
			return invalid(f.name, "%s nests deeper than %d levels", f.name, MaxNesting)
		}
	}
	e.Traits, e.Properties, e.Context = dropNull(e.Traits), dropNull(e.Properties), dropNull(e.Context)
	for _, f := range [...]struct{ name, v string }{{"userId", e.UserID}, {"anonymousId", e.AnonymousID}, {"event", e.Event}} {
		if len(f.v) > maxStringFieldsB {
			return invalid(f.name, "%s is longer than %d bytes", f.name, maxStringFieldsB)
		}
	}
	if utf8.RuneCountInString(e.MessageID) > MaxMessageIDLen {
		return invalid("messageId", "messageId is longer than %d characters", MaxMessageIDLen)
	}
	if strings.HasPrefix(e.MessageID, ServerIDPrefix) {
		return invalid("messageId", "messageId may not start with %q: that prefix is kept for ids the server assigns", ServerIDPrefix)
	}
	var ok bool
	if e.timestamp, ok = parseTime(e.Timestamp); !ok {
		return invalid("timestamp", "timestamp must be an RFC 3339 time like 2026-11-24T10:00:00Z, in a year from %d to %d", minYear, maxYear)
	}
	if e.sentAt, ok = parseTime(e.SentAt); !ok {
		return invalid("sentAt", "sentAt must be an RFC 3339 time like 2026-11-24T10:00:01Z, in a year from %d to %d", minYear, maxYear)
	}
	return nil
}

// The years a timestamp or sentAt may be written with.
const minYear, maxYear = 1970, 9999

// parseTime parses an optional RFC 3339 time ("" is the zero time) whose
// year, as written, is from minYear to maxYear.
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < minYear || t.Year() > maxYear {
		return time.Time{}, false
	}
	return t, true
}

// isObjectOrNull reports whether raw (already valid JSON) is absent, null or
// an object.
func isObjectOrNull(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) == 0 || raw[0] == '{' || bytes.Equal(raw, []byte("null"))
}

func dropNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || raw[0] == 'n' { // encoding/json hands RawMessage trimmed
		return nil
	}
	return raw
}

// MaxFuture is how far past its receipt an event's stored time may lie.
const MaxFuture = 24 * time.Hour

// epoch is the earliest stored time.
var epoch = time.Unix(0, 0).UTC()

// storedTime is the event's time corrected for the client's clock skew:
// timestamp + (receivedAt − sentAt), as Segment and RudderStack do, clamped
// into [1970-01-01, receivedAt + 24 h] so a wild clock (or a hostile one)
// cannot store a time that sorts before everything, lies years ahead, or
// cannot be written back out as RFC 3339. Without a timestamp it is the
// time the server received the event.
func (e *event) storedTime(receivedAt time.Time) time.Time {
	if e.timestamp.IsZero() {
		return receivedAt
	}
	t := e.timestamp
	if !e.sentAt.IsZero() {
		t = t.Add(receivedAt.Sub(e.sentAt)) // Sub saturates; Add of a saturated skew stays ordered
	}
	if hi := receivedAt.Add(MaxFuture); t.After(hi) {
		return hi
	}
	if t.Before(epoch) {
		return epoch
	}
	return t.UTC()
}

// decodeEvent decodes the body of POST /events: one event object.
func decodeEvent(body []byte) (event, *eventError) {
	var e event
	if err := json.Unmarshal(body, &e.wireEvent); err != nil {
		return e, decodeError(err)
	}
	if !validInput(body) {
		return e, invalidText()
	}
	return e, nil
}

// validInput reports whether every string of an event's JSON is valid
// Unicode without U+0000 (see jsonx.HasNUL: no store could keep it alike).
func validInput(b []byte) bool { return jsonx.ValidText(b) && !jsonx.HasNUL(b) }

// invalidText is the error for strings that are not valid Unicode.
func invalidText() *eventError {
	return &eventError{Code: CodeInvalidJSON, Message: "strings must be valid UTF-8 without U+0000 (and a \\u escape of a UTF-16 surrogate must come in a pair)"}
}

// batchItem is one element of a batch's events: the event, or why it failed.
type batchItem struct {
	ev   event
	err  *eventError
	size int // bytes of the event in the body
}

// decodeBatch decodes {"publicKey": "...", "events": [...]} event by event,
// so one malformed event is rejected by its index while the others land. It
// fails as a whole for broken JSON, a wrong envelope, or more than
// MaxBatchEvents events.
func decodeBatch(body []byte, items []batchItem) (publicKey string, _ []batchItem, _ *eventError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	fail := func(err error) (string, []batchItem, *eventError) {
		return "", nil, decodeError(err)
	}
	// One pass over the whole body settles the usual case; only a body
	// with invalid text is checked event by event, to name the events.
	textOK := validInput(body)
	var eventsAt [][2]int64 // where each event lies in body, when !textOK
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if tok != json.Delim('{') {
		return "", nil, &eventError{Code: CodeInvalidJSON, Message: `batch body must be an object: {"publicKey": "...", "events": [...]}`}
	}
	sawEvents := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		switch tok {
		case "publicKey":
			if err := dec.Decode(&publicKey); err != nil {
				var se *json.SyntaxError
				if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
					return fail(err)
				}
				return "", nil, &eventError{Code: CodeInvalidPublicKey, Message: "publicKey must be a string"}
			}
		case "events":
			sawEvents = true
			items = items[:0]
			eventsAt = eventsAt[:0]
			tok, err := dec.Token()
			if err != nil {
				return fail(err)
			}
			if tok == nil { // "events": null
				continue
			}
			if tok != json.Delim('[') {
				return "", nil, &eventError{Code: CodeInvalidJSON, Message: "events must be an array of event objects"}
			}
			for dec.More() {
				if len(items) == MaxBatchEvents {
					return "", nil, &eventError{Code: CodePayloadTooLarge, Message: fmt.Sprintf("a batch holds at most %d events", MaxBatchEvents)}
				}
				start := dec.InputOffset()
				var it batchItem
				err := dec.Decode(&it.ev.wireEvent)
				if err != nil {
					var te *json.UnmarshalTypeError
					if !errors.As(err, &te) { // syntax error: the stream is lost
						return fail(err)
					}
					it.err = decodeError(err)
				}
				end := dec.InputOffset()
				it.size = int(end - start)
				if it.err == nil && end-start > MaxEventBytes {
					it.err = &eventError{Code: CodePayloadTooLarge, Message: fmt.Sprintf("an event is at most %d bytes", MaxEventBytes)}
				}
				if !textOK {
					eventsAt = append(eventsAt, [2]int64{start, end})
					if it.err == nil && !validInput(body[start:end]) {
						it.err = invalidText()
					}
				}
				items = append(items, it)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return fail(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return fail(err)
		}
		return "", nil, &eventError{Code: CodeInvalidJSON, Message: "body has data after the batch object"}
	}
	if !sawEvents {
		return "", nil, &eventError{Code: CodeInvalidJSON, Message: `batch body needs "events": an array of event objects`}
	}
	if !textOK && !envelopeTextOK(body, eventsAt) {
		return "", nil, invalidText()
	}
	return publicKey, items, nil
}

// envelopeTextOK checks the text of body outside the events' spans: the
// envelope's own strings (the key, unknown fields).
func envelopeTextOK(body []byte, eventsAt [][2]int64) bool {
	var prev int64
	for _, at := range eventsAt {
		if !validInput(body[prev:at[0]]) {
			return false
		}
		prev = at[1]
	}
	return validInput(body[prev:])
}
