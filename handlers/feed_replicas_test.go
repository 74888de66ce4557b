package handlers_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/stream"
)

// TestFeedTwoReplicasPostgres: two servers share one PostgreSQL database; a
// push accepted by A reaches the stream, the WebSocket and a held long poll
// of B (woken by LISTEN/NOTIFY), and the other way round.
func TestFeedTwoReplicasPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	opts := stream.Options{Settle: 300 * time.Millisecond}
	a := newFeedServer(t, feedOpts{driver: "postgres", dsn: dsn, hub: opts})
	b := newFeedServer(t, feedOpts{driver: "postgres", dsn: dsn, hub: opts})
	sseB := b.openSSE(t, "")
	wsB := b.dialWS(t, "")
	sseA := a.openSSE(t, "")
	held := make(chan []item, 1)
	go func() {
		_, items, _ := b.poll(t, "wait=20")
		held <- items
	}()
	waitUntil(t, func() bool { return b.hub.Held() == 1 }, "B holds the long poll")

	start := time.Now()
	a.click(t, "CLICK", "u", "from-a")
	if diff := cmp.Diff([]string{"from-a"}, keys(sseB.read(t, 1, 10*time.Second))); diff != "" {
		t.Errorf("B's stream (-want +got):\n%s", diff)
	}
	t.Logf("A's push reached B's stream in %v", time.Since(start))
	if diff := cmp.Diff([]string{"from-a"}, itemKeys(readWS(t, wsB, 1))); diff != "" {
		t.Errorf("B's WebSocket (-want +got):\n%s", diff)
	}
	select {
	case items := <-held:
		if diff := cmp.Diff([]string{"from-a"}, itemKeys(items)); diff != "" {
			t.Errorf("B's held long poll (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Error("B's held long poll was not released by A's push")
	}
	b.click(t, "VIEW", "u", "from-b")
	if diff := cmp.Diff([]string{"from-a", "from-b"}, keys(sseA.read(t, 2, 10*time.Second))); diff != "" {
		t.Errorf("A's stream (-want +got):\n%s", diff)
	}
}
