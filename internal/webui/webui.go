// Package webui renders the dashboard's pages: buffered templ output, the
// per-request CSP nonce, and the one function that turns a handler's error
// into an error page.
package webui

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"

	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// Code classifies an error for the dashboard: it picks the status and
// whether the message may be shown.
type Code int

// Error codes. Only Internal errors hide their message.
const (
	Internal    Code = iota
	Invalid          // 400: the request is malformed
	NotFound         // 404
	Conflict         // 409: refused in the current state
	Forbidden        // 403
	TooMany          // 429
	Unavailable      // 503
)

var statusOf = map[Code]int{
	Internal:    http.StatusInternalServerError,
	Invalid:     http.StatusBadRequest,
	NotFound:    http.StatusNotFound,
	Conflict:    http.StatusConflict,
	Forbidden:   http.StatusForbidden,
	TooMany:     http.StatusTooManyRequests,
	Unavailable: http.StatusServiceUnavailable,
}

var headingOf = map[Code]string{
	Internal:    "Something went wrong",
	Invalid:     "That request was not understood",
	NotFound:    "Page not found",
	Conflict:    "That cannot be done now",
	Forbidden:   "Not allowed",
	TooMany:     "Too many requests",
	Unavailable: "Busy, try again",
}

// Error is an error whose Message is safe to show an admin.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, logged for Internal errors, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a message for the admin.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Status returns the HTTP status for err: 500 unless it is an *Error.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return statusOf[e.Code]
	}
	return http.StatusInternalServerError
}

type nonceKey struct{}

// NewNonce returns a fresh CSP nonce: 128 random bits.
func NewNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// WithNonce returns ctx carrying the response's CSP nonce, for the page's
// <script> tags and for templ's own script helpers.
func WithNonce(ctx context.Context, nonce string) context.Context {
	return templ.WithNonce(context.WithValue(ctx, nonceKey{}, nonce), nonce)
}

// Nonce returns the request's CSP nonce ("" outside the page middleware).
func Nonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// Renderer writes pages and error pages.
type Renderer struct {
	log    *slog.Logger
	viewer func(*http.Request) string
}

// New returns a Renderer. viewer names the signed-in admin of a request
// ("" when nobody is), for the top bar of error pages.
func New(log *slog.Logger, viewer func(*http.Request) string) *Renderer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if viewer == nil {
		viewer = func(*http.Request) string { return "" }
	}
	return &Renderer{log: log, viewer: viewer}
}

// Chrome returns the shared page chrome for a request.
func (rd *Renderer) Chrome(r *http.Request, title, nav string) layout.Chrome {
	return layout.Chrome{Title: title, Admin: rd.viewer(r), Nonce: Nonce(r.Context()), Nav: nav}
}

// Page renders c fully into memory and only then writes it with status, so
// a render error becomes a 500 page, not half a page.
func (rd *Renderer) Page(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		return fmt.Errorf("webui: render: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		// Pages show live state and who is signed in: never serve them from a cache.
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		rd.log.Debug("write page", "err", err)
	}
	return nil
}

// Error renders err as an error page: the message of an *Error, or
// "internal error" for anything else, which is logged once here.
func (rd *Renderer) Error(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client hung up and the work stopped with it (a canceled
		// query, an interrupted statement): not a server error, and its
		// error text (which may hold what the client typed, an email) is
		// not logged. 499 is nginx's "client closed request";
		// nobody receives it, the access log records it.
		rd.log.InfoContext(r.Context(), "client went away before the answer", "route", r.Pattern)
		w.WriteHeader(499)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: Internal, Err: err}
	}
	status := statusOf[e.Code]
	msg := e.Message
	if e.Code == Internal {
		rd.log.ErrorContext(r.Context(), "dashboard request failed", "route", r.Pattern, "err", err)
		msg = "Internal error. The server log has the details."
	}
	h := w.Header()
	h.Del("Content-Disposition")
	h.Set("Cache-Control", "no-store")
	c := pages.Error(pages.ErrorPage{
		Chrome:  rd.Chrome(r, headingOf[e.Code], ""),
		Status:  status,
		Heading: headingOf[e.Code],
		Message: msg,
	})
	if perr := rd.Page(w, r, status, c); perr != nil {
		rd.log.ErrorContext(r.Context(), "render error page", "err", perr)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// HandlerFunc is a dashboard handler that can fail.
type HandlerFunc func(http.ResponseWriter, *http.Request) error

// Handle adapts fn to http.Handler, rendering its error, if any.
func (rd *Renderer) Handle(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			rd.Error(w, r, err)
		}
	})
}

// NotFound renders the 404 page.
func (rd *Renderer) NotFound(w http.ResponseWriter, r *http.Request) {
	rd.Error(w, r, Errorf(NotFound, "There is no page at this address."))
}

// Redirect answers a form post with 303 See Other, so a reload of the next
// page is a GET and never repeats the post.
func Redirect(w http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// maxForm bounds a dashboard form post; the largest is a token check.
const maxForm = 64 << 10

// ParseForm reads a form post of at most 64 KiB into r.PostForm.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &Error{Code: Invalid, Message: "The form could not be read.", Err: err}
	}
	return nil
}

// Duration writes a duration the way the pages talk: "12 h", "90 min", "60 s".
func Duration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	default:
		return fmt.Sprintf("%d s", (d+time.Second/2)/time.Second)
	}
}
