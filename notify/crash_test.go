package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// The crash test re-executes this test binary as a pushgate stand-in: with
// crashHelperEnv set, TestMain runs crashHelper instead of the tests.
const (
	crashHelperEnv = "PUSHGATE_NOTIFY_CRASH_HELPER" // "produce" or "drain"
	crashDSNEnv    = "PUSHGATE_NOTIFY_CRASH_DSN"
	crashSinkEnv   = "PUSHGATE_NOTIFY_CRASH_SINK"
	crashEvents    = 400
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashHelperEnv); mode != "" {
		if err := crashHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "crash helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashHelper is the process that gets killed. "produce" stores events one by
// one, telling its Notifier of each, and never returns (the test kills it).
// "drain" starts a Notifier on the same database and returns once nothing is
// left to notify or deliver.
func crashHelper(mode string) error {
	ctx := context.Background()
	s, err := models.Open(ctx, models.DriverSQLite, os.Getenv(crashDSNEnv), models.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	cfg := testConfig(200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond)
	cfg.ReadTimeout = 500 * time.Millisecond
	n := New(s, cfg, []configs.Subscriber{{URL: os.Getenv(crashSinkEnv), Secret: testSecret("crash")}},
		Options{Lease: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer n.Stop(ctx)
	if mode == "produce" {
		for i := range crashEvents {
			id, e, err := saveClick(s, i)
			if err != nil {
				return err
			}
			n.Accepted(ctx, id, e)
			time.Sleep(time.Millisecond)
		}
		select {} // until killed
	}
	for {
		time.Sleep(20 * time.Millisecond)
		left, err := s.UnnotifiedEvents(ctx, 1, 0)
		if err != nil {
			return err
		}
		_, pending, err := s.NextDeliveryDue(ctx)
		if err != nil {
			return err
		}
		if len(left) == 0 && !pending {
			return nil
		}
	}
}

// TestKill9LosesNoDelivery kills a notifying process with SIGKILL in the middle
// of its work (events being stored and fanned out, attempts in flight, retries
// pending), restarts it, and checks that every stored event was delivered.
func TestKill9LosesNoDelivery(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t, models.DriverSQLite)
	var (
		mu        sync.Mutex
		successes = map[string]int{}
	)
	sk := newSink(t, func(w http.ResponseWriter, h hit, seen int) {
		time.Sleep(2 * time.Millisecond)
		if seen == 0 && h.msg.ID%3 == 0 {
			http.Error(w, "not yet", 500) // leave retries pending at the kill
			return
		}
		mu.Lock()
		successes[h.id]++
		mu.Unlock()
		io.WriteString(w, "success")
	})
	run := func(mode string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+mode, crashDSNEnv+"="+dsn, crashSinkEnv+"="+sk.URL)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s helper: %v", mode, err)
		}
		return cmd
	}

	producer := run("produce")
	exited := make(chan error, 1)
	go func() { exited <- producer.Wait() }()
	deadline := time.After(15 * time.Second)
	for sk.count() < 120 {
		select {
		case err := <-exited:
			t.Fatalf("producer exited before the kill: %v", err)
		case <-deadline:
			producer.Process.Kill()
			t.Fatalf("the sink got only %d requests in 15s", sk.count())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := producer.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-exited
	atKill := sk.count()

	drainer := run("drain")
	done := make(chan error, 1)
	go func() { done <- drainer.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("drain helper: %v", err)
		}
	case <-time.After(15 * time.Second):
		drainer.Process.Kill()
		t.Fatal("the restarted notifier did not finish within 15s")
	}

	s := openStore(t, models.DriverSQLite, dsn)
	evs, _, err := s.ListEvents(context.Background(), models.EventFilter{Limit: models.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	ds := deliveries(t, s, "")
	t.Logf("killed after %d requests with %d of %d events stored; %d requests in all",
		atKill, len(evs), crashEvents, sk.count())
	byEvent := map[int64]models.Delivery{}
	for _, d := range ds {
		if _, dup := byEvent[d.EventID]; dup {
			t.Errorf("event %d has more than one delivery", d.EventID)
		}
		byEvent[d.EventID] = d
	}
	mu.Lock()
	defer mu.Unlock()
	var resent int
	for _, ev := range evs {
		d, ok := byEvent[ev.ID]
		switch {
		case !ev.Notified || !ok:
			t.Errorf("event %d: notified %v, delivery %v", ev.ID, ev.Notified, ok)
		case d.Status != models.DeliverySucceeded:
			t.Errorf("event %d: delivery %s after %d attempts (%s)", ev.ID, d.Status, d.Attempts, d.LastError)
		case successes[webhookID(d.ID)] == 0:
			t.Errorf("event %d: the sink never answered success to %s", ev.ID, webhookID(d.ID))
		}
		if n := successes[webhookID(d.ID)]; n > 1 {
			resent += n - 1
		}
	}
	// At-least-once: only attempts in flight at the kill may arrive twice.
	if resent > 8 {
		t.Errorf("%d deliveries arrived twice; only the few in flight at the kill may", resent)
	}
	t.Logf("%d successful deliveries arrived twice (in flight at the kill)", resent)
}
