package events

import (
	"context"
	"fmt"
	"time"
)

// Info is what pushgate tells a handler about the stored event it is
// handling, beside the event itself. pushgate dispatches every acknowledged
// push at least once: a crash after the push was stored and before its
// handler finished makes pushgate dispatch it again at start-up, and an
// operator may replay it. Use ID (with Attempt and Replay) to make a
// handler's side effects idempotent.
type Info struct {
	// ID is the stored event's id, unique and stable across replays.
	ID int64
	// Account is the name of the account the push arrived for ("default"
	// for the /wechat route).
	Account string
	// AuthorizerAppID is, for a push an Open Platform account received on
	// behalf of an official account or mini program that authorized it
	// (POST /wechat/{account}/{authorizer_appid}), that account's app id;
	// "" otherwise.
	AuthorizerAppID string
	// Attempt counts the dispatches of this event, this one included: 1 on
	// the first.
	Attempt int
	// Replay is true when an operator asked for this dispatch (a replay),
	// false for the first dispatch and for recovery after a crash.
	Replay bool
	// ReceivedAt is when pushgate received the push.
	ReceivedAt time.Time
	// HTTPRequestID is the id of the HTTP request that delivered the push
	// (its X-Request-Id when sane, else one pushgate made), stored with the
	// event: replays and recovery carry the original's. LogHandler adds it
	// to every log line written with a context that carries it.
	HTTPRequestID string
}

type infoKey struct{}

// infoCtx is a context carrying an Info: one allocation, where
// context.WithValue makes two (its context, and the Info boxed in an
// interface). pushgate makes one for every push.
type infoCtx struct {
	context.Context
	info Info
}

// Value answers InfoFrom's key with the Info, and other keys as the parent
// does.
func (c *infoCtx) Value(key any) any {
	if key == (infoKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

func (c *infoCtx) String() string { return fmt.Sprintf("%v.WithInfo(%d)", c.Context, c.info.ID) }

// WithInfo returns a copy of ctx that carries info; pushgate calls it
// before it dispatches an event, and tests of handlers may too.
func WithInfo(ctx context.Context, info Info) context.Context {
	return &infoCtx{ctx, info}
}

// InfoFrom returns the Info pushgate put in a handler's context, and false
// when ctx carries none (a handler called directly, outside pushgate).
func InfoFrom(ctx context.Context) (Info, bool) {
	if p, ok := ctx.Value(infoKey{}).(*Info); ok {
		return *p, true
	}
	return Info{}, false
}
