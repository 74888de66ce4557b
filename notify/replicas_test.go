package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestReplicasNeverSendAnAttemptTwice runs two Stores on one database, each
// with its own Notifier, as two replicas would. Both accept events, both scan
// for unnotified events every 100ms (racing each other's fan-out), both claim
// from the shared outbox. The sinks fail each first attempt, so retries are
// claimed by either replica. Every (webhook-id, attempt) must arrive exactly
// once, and every event must be fanned out exactly once per subscriber.
func TestReplicasNeverSendAnAttemptTwice(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		dsn := testDSN(t, drv)
		a, b := openStore(t, drv, dsn), openStore(t, drv, dsn)
		var (
			mu   sync.Mutex
			seen = map[string]int{}
		)
		answer := func(w http.ResponseWriter, h hit, n int) {
			mu.Lock()
			seen[fmt.Sprintf("%s#%d", h.id, h.attempt)]++
			mu.Unlock()
			if n == 0 {
				http.Error(w, "first attempts fail", 500)
				return
			}
			io.WriteString(w, "success")
		}
		sinks := []*sink{newSink(t, answer), newSink(t, answer)}
		subs := []configs.Subscriber{{URL: sinks[0].URL}, {URL: sinks[1].URL}}
		cfg := testConfig(50 * time.Millisecond)
		cfg.ScanPeriod, cfg.FetchSize = 100*time.Millisecond, 7
		na := startNotifier(t, a, cfg, subs, Options{})
		nb := startNotifier(t, b, cfg, subs, Options{})

		const events = 150
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < events; i += 4 {
					s, n := a, na
					if i%2 == 1 {
						s, n = b, nb
					}
					accept(t, s, n, i)
				}
			})
		}
		wg.Wait()
		want := events * len(subs)
		waitFor(t, 20*time.Second, fmt.Sprintf("%d succeeded deliveries", want), func() bool {
			return len(deliveries(t, a, models.DeliverySucceeded)) == want
		})
		time.Sleep(100 * time.Millisecond) // let a duplicate, if any, arrive

		all := deliveries(t, a, "")
		if len(all) != want {
			t.Errorf("%d deliveries, want %d (one per event and subscriber)", len(all), want)
		}
		perEvent := map[string]int{}
		for _, d := range all {
			perEvent[fmt.Sprintf("%d %s", d.EventID, d.URL)]++
			if d.Attempts != 2 {
				t.Errorf("delivery %d: %d attempts, want 2", d.ID, d.Attempts)
			}
		}
		for k, c := range perEvent {
			if c != 1 {
				t.Errorf("event and subscriber %s: %d deliveries", k, c)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2*want {
			t.Errorf("sinks saw %d distinct attempts, want %d", len(seen), 2*want)
		}
		for k, c := range seen {
			if c != 1 {
				t.Errorf("attempt %s sent %d times", k, c)
			}
		}
		if left, _ := a.UnnotifiedEvents(context.Background(), 0, 0); len(left) != 0 {
			t.Errorf("%d events still unnotified", len(left))
		}
	})
}
