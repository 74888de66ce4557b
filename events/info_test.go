package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
)

type otherKey struct{}

var sinkCtx context.Context // keeps what AllocsPerRun measures on the heap

// TestWithInfo: the context WithInfo makes carries its Info through the
// contexts derived from it, leaves other values and cancellation to its
// parent, and an inner WithInfo wins; one allocation each.
func TestWithInfo(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "other"))
	want := events.Info{ID: 7, Account: "acct", Attempt: 2, HTTPRequestID: "r-7", ReceivedAt: time.Unix(1700000000, 0)}
	ctx := events.WithInfo(parent, want)
	child, cancelChild := context.WithTimeout(ctx, time.Hour)
	defer cancelChild()
	for name, c := range map[string]context.Context{"WithInfo": ctx, "a child": child, "WithoutCancel": context.WithoutCancel(ctx)} {
		if got, ok := events.InfoFrom(c); !ok || got != want {
			t.Errorf("InfoFrom(%s) = %+v, %v; want %+v", name, got, ok, want)
		}
		if got := c.Value(otherKey{}); got != "other" {
			t.Errorf("%s.Value(otherKey) = %v, want the parent's", name, got)
		}
	}
	inner := events.WithInfo(child, events.Info{ID: 8})
	if got, _ := events.InfoFrom(inner); got.ID != 8 {
		t.Errorf("InfoFrom(inner) = %+v, want the inner Info", got)
	}
	if _, ok := events.InfoFrom(parent); ok {
		t.Error("InfoFrom(parent) found an Info")
	}
	cancel()
	<-child.Done() // a child of WithInfo's context ends with its parent
	if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Errorf("after cancel: Err() = %v, child %v; want context.Canceled", ctx.Err(), child.Err())
	}
	if n := testing.AllocsPerRun(100, func() { sinkCtx = events.WithInfo(parent, want) }); n != 1 {
		t.Errorf("WithInfo allocates %v times, want 1", n)
	}
}
