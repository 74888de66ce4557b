package events

import "context"

// ForAccount returns the Mux of handlers for the account named name alone,
// creating it on the first call (later calls return the same Mux). Register
// on it as on m, before the first Dispatch:
//
//	events.Handle(mux.ForAccount("shop"), func(ctx context.Context, e *events.Click) (events.Reply, error) { … })
//
// When m dispatches an event whose context's Info names that account (as
// pushgate's always does; see InfoFrom), the account's Mux is consulted
// first: if it Handles the kind (a handler of its own, or its fallback), its
// handler runs, wrapped in its middleware and then in m's; otherwise m's
// handler runs, as for every other account. Handlers registered on m itself
// serve all accounts.
//
// ForAccount panics if name is empty or m is itself the Mux of an account.
func (m *Mux) ForAccount(name string) *Mux {
	if name == "" {
		panic("events: ForAccount with an empty account name")
	}
	if m.account != "" {
		panic("events: ForAccount(" + name + ") on the Mux of account " + m.account)
	}
	if child := m.accounts[name]; child != nil {
		return child
	}
	if m.accounts == nil {
		m.accounts = make(map[string]*Mux)
	}
	child := NewMux()
	child.account = name
	m.accounts[name] = child
	return child
}

// accountHandler returns the handler of the account named in ctx's Info
// for kind, wrapped in that account's middleware, or nil.
func (m *Mux) accountHandler(ctx context.Context, kind string) Handler {
	if len(m.accounts) == 0 {
		return nil
	}
	info, ok := InfoFrom(ctx)
	if !ok {
		return nil
	}
	child := m.accounts[info.Account]
	if child == nil {
		return nil
	}
	h, ok := child.handlers[kind]
	if !ok {
		if child.fallback == nil {
			return nil
		}
		h = child.fallback
	}
	return child.wrap(h)
}

// wrap applies m's middleware to h, the first added outermost.
func (m *Mux) wrap(h Handler) Handler {
	for i := len(m.middleware) - 1; i >= 0; i-- {
		h = m.middleware[i](h)
	}
	return h
}
