// Command pushgate receives WeChat pushes, stores each exactly once,
// dispatches it to handlers and answers within WeChat's budget. Its
// handlers only log each push; a program of your own runs your handlers
// the same way, with pushgate.Main (see the package pushgate).
//
//	pushgate serve [flags]              run the receiver (see --help)
//	pushgate send [--server URL] [NAME|FILE ...]   post signed sample pushes
//	pushgate events list [filters] [--json]        list stored events
//	pushgate replay --id ID | [filters]            run handlers again
//	pushgate deliveries list|retry ID              outbound notifications
package main

import (
	"context"
	"log/slog"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/events"
)

func main() {
	mux := events.NewMux()
	mux.Fallback(events.HandlerFunc(logPush))
	pushgate.Main(mux)
}

// logPush is the binary's handler: one line per push at info (with its
// http_request_id), none at --log-level warn.
func logPush(ctx context.Context, e events.Event) (events.Reply, error) {
	h := e.Head()
	slog.InfoContext(ctx, "push", "kind", e.Kind(), "from", h.FromUserName, "to", h.ToUserName, "create_time", h.CreateTime)
	return nil, nil
}
