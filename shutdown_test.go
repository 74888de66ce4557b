package pushgate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// TestServeLetsHandlersFinish stops a Service while a handler runs past the
// reply budget, and checks that Serve returns only once the handler has
// finished and its outcome is stored.
func TestServeLetsHandlersFinish(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.ReplyBudget = 100 * time.Millisecond
	var finished atomic.Bool
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		time.Sleep(700 * time.Millisecond)
		finished.Store(true)
		return nil, nil
	})
	svc, err := pushgate.New(cfg, mux, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := pushgate.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()

	if got := postClick("http://"+ln.Addr().String(), cfg.WeChat.Token, "SLOW"); got != "200 success" {
		t.Fatalf("push = %q, want 200 success (the handler outlives the budget)", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if !finished.Load() {
		t.Fatal("Serve returned before the handler finished")
	}
	store, err := models.Open(context.Background(), "sqlite", cfg.DB.DSN, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rows, err := store.ReceivedEvents(context.Background(), 10, 0)
	if err != nil || len(rows) != 0 {
		t.Errorf("events left received after the shutdown = %d (%v), want 0", len(rows), err)
	}
}
