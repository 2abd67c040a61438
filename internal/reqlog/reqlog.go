// Package reqlog carries facts a handler learns (the project, how many
// events) to the access log line the server writes for each request.
package reqlog

import (
	"context"
	"net/http"
)

// Info is filled in by handlers and read by the access log.
type Info struct {
	Project string
	Events  int
}

type key struct{}

// With returns r carrying a fresh Info, and the Info.
func With(r *http.Request) (*http.Request, *Info) {
	info := &Info{}
	return r.WithContext(context.WithValue(r.Context(), key{}, info)), info
}

// From returns the request's Info, or a throwaway one when the request did
// not pass through the access log (tests of a bare handler).
func From(ctx context.Context) *Info {
	if info, ok := ctx.Value(key{}).(*Info); ok {
		return info
	}
	return &Info{}
}
