package events

import (
	"context"
	"fmt"
)

// Handler handles one decoded event. A nil Reply means "answer success".
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
// It panics if fn is nil or the kind already has a handler.
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
