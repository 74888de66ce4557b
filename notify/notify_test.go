package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestRetriesOnScheduleUntilSuccessOrDead runs the whole path on both drivers:
// accepted events fan out to the subscribers that want them, failures are
// retried on the schedule with the same webhook-id and a valid signature, a
// subscriber that never succeeds ends dead, and a retry sends it again.
func TestRetriesOnScheduleUntilSuccessOrDead(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s := openStore(t, drv, testDSN(t, drv))
		ctx := context.Background()
		flaky := newSink(t, func(w http.ResponseWriter, h hit, seen int) {
			switch seen {
			case 0:
				http.Error(w, "down", 500)
			case 1:
				io.WriteString(w, "fail")
			default:
				io.WriteString(w, " Success\n")
			}
		})
		dead := newSink(t, func(w http.ResponseWriter, _ hit, _ int) { w.WriteHeader(503) })
		picky := newSink(t, succeed)
		flakySecret, globalSecret := testSecret("flaky"), testSecret("global")
		schedule := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
		cfg := testConfig(schedule...)
		cfg.Secret = globalSecret
		n := startNotifier(t, s, cfg, []configs.Subscriber{
			{URL: flaky.URL, Secret: flakySecret},
			{URL: dead.URL},
			{URL: picky.URL, Kinds: []string{"subscribe"}},
		}, Options{})

		var ids []int64
		for i := range 3 {
			ids = append(ids, accept(t, s, n, i))
		}
		waitFor(t, 10*time.Second, "3 attempts of each delivery", func() bool {
			return flaky.count() == 9 && dead.count() == 9 && len(deliveries(t, s, models.DeliveryPending)) == 0
		})
		if picky.count() != 0 {
			t.Errorf("a subscriber of subscribe events got %d click deliveries", picky.count())
		}
		checkAttempts(t, flaky.snapshot(), ids, schedule, flakySecret)
		for _, d := range deliveries(t, s, "") {
			want, attempts := models.DeliverySucceeded, 3
			if d.URL == dead.URL {
				want = models.DeliveryDead
			}
			if d.Status != want || d.Attempts != attempts {
				t.Errorf("delivery to %s: status %s after %d attempts, want %s after %d", d.URL, d.Status, d.Attempts, want, attempts)
			}
			if d.URL == dead.URL && (d.LastStatus != 503 || !strings.Contains(d.LastError, "http 503")) {
				t.Errorf("dead delivery: last_status %d last_error %q", d.LastStatus, d.LastError)
			}
		}

		// An operator's retry of a dead delivery goes out at once.
		deadOnes := deliveries(t, s, models.DeliveryDead)
		asked := time.Now()
		if err := n.Retry(ctx, deadOnes[0].ID); err != nil {
			t.Fatalf("Retry = %v", err)
		}
		waitFor(t, 2*time.Second, "the retried delivery", func() bool { return dead.count() == 10 })
		if last := dead.snapshot()[9]; last.id != webhookID(deadOnes[0].ID) || last.attempt != 4 || last.at.Sub(asked) > time.Second {
			t.Errorf("retry arrived as %s attempt %d after %s", last.id, last.attempt, last.at.Sub(asked))
		}
		if err := n.Retry(ctx, 42); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("Retry(unknown) = %v, want ErrNotFound", err)
		}

		// The sync bridge's notify_url: signed with the global secret.
		id, err := n.NotifyURL(ctx, picky.URL+"/bridge", "sync.answer", []byte(`{"ok":true}`))
		if err != nil {
			t.Fatalf("NotifyURL = %v", err)
		}
		waitFor(t, 2*time.Second, "the bridge delivery", func() bool { return picky.count() == 1 })
		h := picky.snapshot()[0]
		if h.id != webhookID(id) || string(h.body) != `{"ok":true}` {
			t.Errorf("bridge delivery = %s %q", h.id, h.body)
		}
		if err := Verify(globalSecret, h.header, h.body, time.Now()); err != nil {
			t.Errorf("bridge delivery: Verify(global secret) = %v", err)
		}
		if _, err := n.NotifyURL(ctx, "ftp://x/y", "k", nil); !errors.Is(err, ErrURL) {
			t.Errorf("NotifyURL(ftp) = %v, want ErrURL", err)
		}
	})
}

// checkAttempts checks the hits of a sink that succeeded on the third attempt
// of each event's delivery: one webhook-id per event, attempts 1, 2, 3 in
// order, each retry within a second of its scheduled time, every body the
// same signed message.
func checkAttempts(t *testing.T, hits []hit, events []int64, schedule []time.Duration, secret string) {
	t.Helper()
	byEvent := map[int64][]hit{}
	for _, h := range hits {
		byEvent[h.msg.ID] = append(byEvent[h.msg.ID], h)
		if err := Verify(secret, h.header, h.body, time.Now()); err != nil {
			t.Errorf("%s attempt %d: Verify = %v", h.id, h.attempt, err)
		}
	}
	for _, ev := range events {
		hs := byEvent[ev]
		if len(hs) != 3 {
			t.Errorf("event %d: %d hits, want 3", ev, len(hs))
			continue
		}
		for i, h := range hs {
			if h.id != hs[0].id || h.attempt != i+1 || string(h.body) != string(hs[0].body) {
				t.Errorf("event %d hit %d: id %s attempt %d, want id %s attempt %d and the same body",
					ev, i, h.id, h.attempt, hs[0].id, i+1)
			}
			if i == 0 {
				continue
			}
			gap := h.at.Sub(hs[i-1].at)
			if gap < schedule[i-1] || gap > schedule[i-1]+time.Second {
				t.Errorf("event %d: retry %d came %s after the failure, want %s (+ under 1s)", ev, i, gap, schedule[i-1])
			}
		}
		m := hs[0].msg
		if m.Kind != "event.CLICK" || m.MsgType != "event" || m.Event != "CLICK" || m.ReceivedAt.IsZero() ||
			!strings.Contains(string(m.Payload), `"EventKey":"KEY_`) {
			t.Errorf("event %d: message %+v", ev, m)
		}
	}
}

// TestStartUpScanFansOutUnnotifiedEvents: events committed while no notifier
// ran (a crash between commit and fan-out) are delivered after start, once.
func TestStartUpScanFansOutUnnotifiedEvents(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s := openStore(t, drv, testDSN(t, drv))
		sk := newSink(t, succeed)
		for i := range 30 {
			accept(t, s, nil, i)
		}
		n := startNotifier(t, s, testConfig(time.Second), []configs.Subscriber{{URL: sk.URL}}, Options{})
		// Accepted for an event the scan also finds: still one delivery.
		n.Accepted(context.Background(), deliveriesEventID(t, s), nil)
		waitFor(t, 5*time.Second, "30 deliveries", func() bool {
			return len(deliveries(t, s, models.DeliverySucceeded)) == 30
		})
		time.Sleep(50 * time.Millisecond)
		if got := sk.count(); got != 30 {
			t.Errorf("sink got %d requests, want 30", got)
		}
		if left, _ := s.UnnotifiedEvents(context.Background(), 0, 0); len(left) != 0 {
			t.Errorf("%d events still unnotified", len(left))
		}
	})
}

// deliveriesEventID returns the id of some stored event.
func deliveriesEventID(t *testing.T, s *models.Store) int64 {
	t.Helper()
	evs, _, err := s.ListEvents(context.Background(), models.EventFilter{Limit: 1})
	if err != nil || len(evs) == 0 {
		t.Fatalf("ListEvents = %v, %v", evs, err)
	}
	return evs[0].ID
}

// TestAcceptedNeverWaitsOnSubscribers: a subscriber that hangs does not slow
// Accepted, and Stop gives back what it had claimed but not sent.
func TestAcceptedNeverWaitsOnSubscribers(t *testing.T) {
	t.Parallel()
	s := openStore(t, models.DriverSQLite, testDSN(t, models.DriverSQLite))
	hang := make(chan struct{})
	defer close(hang)
	sk := newSink(t, func(w http.ResponseWriter, _ hit, _ int) { <-hang })
	cfg := testConfig(time.Minute)
	cfg.PoolCore, cfg.PoolMax, cfg.QueueSize = 1, 2, 3
	cfg.ReadTimeout = 30 * time.Second
	n := New(s, cfg, []configs.Subscriber{{URL: sk.URL}}, Options{Lease: time.Minute, Logger: testLogger(t)})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var slowest time.Duration
	for i := range 20 {
		id := accept(t, s, nil, i)
		start := time.Now()
		n.Accepted(context.Background(), id, nil)
		slowest = max(slowest, time.Since(start))
	}
	if slowest > 5*time.Millisecond {
		t.Errorf("slowest Accepted took %s", slowest)
	}
	waitFor(t, 5*time.Second, "both workers to hang and 20 deliveries", func() bool {
		return sk.count() == 2 && len(deliveries(t, s, "")) == 20
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with hanging sends = %v, want DeadlineExceeded", err)
	}
	ds := deliveries(t, s, models.DeliveryPending)
	if len(ds) != 20 {
		t.Fatalf("%d pending deliveries, want 20", len(ds))
	}
	for _, d := range ds {
		if d.Lease != 0 || d.Attempts != 0 {
			t.Errorf("after Stop, delivery %d has lease %d and %d attempts; want released, none", d.ID, d.Lease, d.Attempts)
		}
	}
	if _, err := n.NotifyURL(context.Background(), sk.URL, "k", nil); !errors.Is(err, ErrStopped) {
		t.Errorf("NotifyURL after Stop = %v, want ErrStopped", err)
	}
}

func TestStartRejectsBadSecret(t *testing.T) {
	t.Parallel()
	n := New(nil, configs.Notify{Secret: "nope"}, []configs.Subscriber{{URL: "http://x", Secret: "whsec_!!"}}, Options{})
	err := n.Start(context.Background())
	if !errors.Is(err, ErrSecret) || !strings.Contains(err.Error(), "subscriber http://x") {
		t.Errorf("Start with bad secrets = %v, want ErrSecret naming both", err)
	}
}
