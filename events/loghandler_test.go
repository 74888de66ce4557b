package events_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/pushgate/pushgate/events"
)

// TestLogHandler: a record logged with a context carrying an Info with an
// HTTPRequestID gets http_request_id; others are left as they are, and
// With and WithGroup keep the wrapping.
func TestLogHandler(t *testing.T) {
	for _, c := range []struct {
		name string
		ctx  context.Context
		log  func(*slog.Logger, context.Context)
		want string
	}{
		{"with id", events.WithInfo(context.Background(), events.Info{HTTPRequestID: "r1"}),
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "k", 1) }, "level=INFO msg=m k=1 http_request_id=r1\n"},
		{"no info", context.Background(),
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") }, "level=INFO msg=m\n"},
		{"info without id", events.WithInfo(context.Background(), events.Info{ID: 3}),
			func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") }, "level=INFO msg=m\n"},
		{"With", events.WithInfo(context.Background(), events.Info{HTTPRequestID: "r2"}),
			func(l *slog.Logger, ctx context.Context) { l.With("a", "b").WarnContext(ctx, "m") }, "level=WARN msg=m a=b http_request_id=r2\n"},
		{"WithGroup", events.WithInfo(context.Background(), events.Info{HTTPRequestID: "r3"}),
			func(l *slog.Logger, ctx context.Context) { l.WithGroup("g").InfoContext(ctx, "m", "k", 1) }, "level=INFO msg=m g.k=1 g.http_request_id=r3\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			l := slog.New(events.LogHandler(slog.NewTextHandler(&b, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})))
			c.log(l, c.ctx)
			if got := b.String(); got != c.want {
				t.Errorf("Got(%s) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}

// LogHandler: every line of one push carries its request id.
func ExampleLogHandler() {
	l := slog.New(events.LogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	ctx := events.WithInfo(context.Background(), events.Info{ID: 1, HTTPRequestID: "req-7"})
	l.InfoContext(ctx, "push", "kind", "event.CLICK")
	// Output: level=INFO msg=push kind=event.CLICK http_request_id=req-7
}
