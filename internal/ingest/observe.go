package ingest

import "github.com/sendora/sendora/internal/identity"

// Outcome is what one request's events came to, reported to
// Config.Observe once it is known. Only requests whose public key resolved
// are reported: a request refused as a whole (bad JSON, unknown key, too
// large, rate limited, overloaded before reading) shows in the HTTP status
// counts instead. It holds names and counts only, never a userId or token.
type Outcome struct {
	Endpoint string // "/events" or "/events/batch"
	Project  string // the project's name
	Events   int    // events in the request
	// Accepted counts events acknowledged: stored, or retries of stored ones.
	Accepted int
	// Invalid counts events refused as INVALID_EVENT.
	Invalid int
	// Rejected counts events strict mode refused, by identity.Reason.
	Rejected [identity.NumReasons]int32
	// ReportOnly counts events stored unverified with strict mode off, by
	// identity.Reason; a retry of a stored event is not counted again.
	ReportOnly [identity.NumReasons]int32
}

// observe hands o to the observer. o is passed by value so that reporting
// allocates nothing.
func (h *Handler) observe(o *Outcome) {
	if h.onOutcome != nil {
		h.onOutcome(*o)
	}
}

// eventResult is how POST /events ended for its one event.
type eventResult uint8

const (
	eventInvalid eventResult = iota
	eventRefused
	eventAccepted
)

// observeEvent reports POST /events: reason is the verification result,
// inserted whether the event was new (only for eventAccepted).
func (h *Handler) observeEvent(p *project, res eventResult, reason identity.Reason, inserted bool) {
	if h.onOutcome == nil {
		return
	}
	o := Outcome{Endpoint: endpointEvent, Project: p.name, Events: 1}
	switch res {
	case eventInvalid:
		o.Invalid = 1
	case eventRefused:
		o.Rejected[reason] = 1
	case eventAccepted:
		o.Accepted = 1
		if reason != identity.Verified && inserted {
			o.ReportOnly[reason] = 1
		}
	}
	h.onOutcome(o)
}
