package events

import (
	"context"
	"fmt"
	"slices"
)

// Handler handles one decoded event. A nil Reply means "answer success";
// a non-nil one is sent back to WeChat as the passive reply, if the handler
// returns within the reply budget (then the answer is "success" and the
// handler's outcome is still recorded).
//
// Delivery guarantees, as pushgate dispatches events:
//
//   - At least once: a push is acknowledged only after it is stored; if the
//     process dies before its handler returned, the event is dispatched
//     again at the next start (or by the sweep of another replica).
//   - Never twice for the platform's retries: a retry of a stored push
//     (same MsgId, or the same content) is answered with the original's
//     reply and not dispatched.
//   - Replays are explicit: an operator's replay dispatches again, with
//     Info.Replay set.
//
// So make side effects idempotent with the stored event's id: InfoFrom(ctx)
// gives the id, the attempt number, whether this is a replay and when the
// push was received. The returned error decides the outcome: nil records
// the event handled; an error records it failed (not dispatched again on
// its own), explicitly so with Permanent; RetryAfter asks for another
// dispatch later. The context ends after a minute (handlers.HandlerTimeout).
type Handler interface {
	Handle(ctx context.Context, e Event) (Reply, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, e Event) (Reply, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e Event) (Reply, error) { return f(ctx, e) }

// Middleware wraps a Handler: recover, log, time out, measure.
type Middleware func(Handler) Handler

// Mux dispatches events to the handler registered for their kind. Register
// handlers and middleware before the first Dispatch; after that a Mux is
// safe for concurrent use.
type Mux struct {
	handlers   map[string]Handler
	fallback   Handler
	middleware []Middleware
	accounts   map[string]*Mux // ForAccount's
	account    string          // the account of a Mux made by ForAccount
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{handlers: make(map[string]Handler)} }

// Handle registers fn for the events of type P, its kind read from the type
// itself:
//
//	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
//		return events.Text("you clicked " + e.EventKey), nil
//	})
//
// The delivery guarantees and the meaning of fn's error are those of
// Handler. It panics if fn is nil or the kind already has a handler.
func Handle[E any, P interface {
	*E
	Event
}](m *Mux, fn func(ctx context.Context, e P) (Reply, error)) {
	if fn == nil {
		panic("events: Handle with a nil func")
	}
	kind := P(new(E)).Kind()
	m.HandleKind(kind, HandlerFunc(func(ctx context.Context, e Event) (Reply, error) {
		typed, ok := e.(P)
		if !ok {
			return nil, fmt.Errorf("events: handler for %q got a %T", kind, e)
		}
		return fn(ctx, typed)
	}))
}

// HandleKind registers h for a kind by name (see Kinds). It panics if h is
// nil or the kind already has a handler.
func (m *Mux) HandleKind(kind string, h Handler) {
	if h == nil {
		panic("events: HandleKind(" + kind + ") with a nil handler")
	}
	if _, dup := m.handlers[kind]; dup {
		panic("events: a handler for " + kind + " is already registered")
	}
	m.handlers[kind] = h
}

// Fallback registers h for every kind that has no handler of its own,
// unknown kinds included. It panics if h is nil or a fallback is set.
func (m *Mux) Fallback(h Handler) {
	if h == nil {
		panic("events: Fallback with a nil handler")
	}
	if m.fallback != nil {
		panic("events: a fallback is already registered")
	}
	m.fallback = h
}

// Use appends middleware; the first added is the outermost.
func (m *Mux) Use(mw ...Middleware) { m.middleware = append(m.middleware, mw...) }

// Handles reports whether Dispatch would find a handler for kind.
func (m *Mux) Handles(kind string) bool {
	_, ok := m.handlers[kind]
	return ok || m.fallback != nil
}

// Dispatch runs the handler for e's kind, wrapped in the middleware: the
// handler of the account ctx's Info names when it has one (see ForAccount),
// else m's own. With no handler and no fallback it returns an error
// wrapping ErrNoHandler.
func (m *Mux) Dispatch(ctx context.Context, e Event) (Reply, error) {
	h := m.accountHandler(ctx, e.Kind())
	if h == nil {
		var ok bool
		h, ok = m.handlers[e.Kind()]
		if !ok {
			if m.fallback == nil {
				return nil, fmt.Errorf("%w %q", ErrNoHandler, e.Kind())
			}
			h = m.fallback
		}
	}
	return m.wrap(h).Handle(ctx, e)
}

// Kinds returns the kinds that have a handler of their own, sorted (the
// fallback is not a kind). Compare them with the package's Kinds to find a
// registration no decoder produces, such as "event.click" for
// "event.CLICK": pushgate.New logs those as a warning.
func (m *Mux) Kinds() []string {
	kinds := make([]string, 0, len(m.handlers))
	for k := range m.handlers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// UnknownKinds returns the kinds of m's handlers that no decoder produces,
// sorted: such a handler is never called (a push of a kind the decoders do
// not know arrives as a Generic event, under its own kind).
func (m *Mux) UnknownKinds() []string {
	known := Kinds()
	var unknown []string
	for _, k := range m.Kinds() {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	return unknown
}
