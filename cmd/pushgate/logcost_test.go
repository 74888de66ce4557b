package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
)

// BenchmarkLogPerPush measures the binary's line per push: logPush with
// the default logger as serve makes it (text, events.LogHandler, to a
// file as standard error redirected) at info, where it writes, and at
// warn, where it is dropped. The difference is the cost per push of
// --log-level info.
func BenchmarkLogPerPush(b *testing.B) {
	e := &events.Click{}
	e.ToUserName, e.FromUserName, e.CreateTime, e.EventKey = "gh_bench", "oUserBench", time.Now().Unix(), "k"
	e.MsgType, e.Event = "event", "CLICK"
	ctx := events.WithInfo(context.Background(), events.Info{ID: 1, Account: "default", Attempt: 1, HTTPRequestID: "0123456789abcdef0123456789abcdef"})
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run(level.String(), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "stderr"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			old := slog.Default()
			slog.SetDefault(slog.New(events.LogHandler(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))))
			defer slog.SetDefault(old)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				logPush(ctx, e)
			}
		})
	}
}
