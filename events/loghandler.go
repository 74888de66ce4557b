package events

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so that a record logged with a context carrying an
// Info with an HTTPRequestID (a handler's context, or a push's request in
// pushgate) gets an attribute http_request_id: every line of one push can
// be found by it. pushgate's default logger is wrapped already; wrap the
// handler of a logger you pass to pushgate.WithLogger to have the same.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if info, ok := InfoFrom(ctx); ok && info.HTTPRequestID != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("http_request_id", info.HTTPRequestID))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
