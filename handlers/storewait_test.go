package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// TestStoreWaitBoundsPush: while the database holds a push's commit, the
// push is answered 503 once StoreWait has passed (WeChat then retries); the
// commit lands later and the push is dispatched once; the retry is a
// duplicate, gets the original's reply and is not dispatched again.
func TestStoreWaitBoundsPush(t *testing.T) {
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			dsn := recoverDSN(t, drv)
			cfg := configs.Default()
			cfg.WeChat.Token = testToken
			cfg.AdminToken = testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, dsn
			cfg.StoreWait = 300 * time.Millisecond
			ts := serveConfig(t, cfg, nil)
			ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
				return events.Text("late but once"), nil
			}
			body := clickBody("late", 8000)
			release := lockDatabase(t, drv, dsn)
			type answered struct {
				code int
				body string
			}
			first := make(chan answered, 1)
			go func() {
				code, answer := ts.push(t, "text/xml", body)
				first <- answered{code, answer}
			}()
			select {
			case a := <-first:
				if a.code != http.StatusServiceUnavailable {
					t.Fatalf("push while the commit is held = %d %q; want 503", a.code, a.body)
				}
			case <-time.After(3 * time.Second):
				release()
				<-first
				t.Fatalf("push while the commit is held: no answer after 3s; want 503 after about %s", cfg.StoreWait)
			}
			release()
			eventually(t, "the late commit to be dispatched", func() bool { return ts.rec.calls.Load() == 1 })
			code, answer := ts.push(t, "text/xml", body)
			if code != http.StatusOK || !strings.Contains(answer, "late but once") {
				t.Errorf("retry = %d %q, want 200 with the original's reply", code, answer)
			}
			time.Sleep(100 * time.Millisecond)
			if n := ts.rec.calls.Load(); n != 1 {
				t.Errorf("handler ran %d times for a push and its retry, want 1", n)
			}
			rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{})
			if err != nil || len(rows) != 1 || rows[0].Attempts != 1 || rows[0].Duplicates != 1 {
				t.Errorf("ListEvents = %+v, %v; want one event, 1 attempt, 1 duplicate", rows, err)
			}
		})
	}
}
