package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/models"
)

// recoverDSN is a fresh database for drv: an SQLite file or a PostgreSQL schema.
func recoverDSN(t *testing.T, drv string) string {
	t.Helper()
	if drv == models.DriverPostgres {
		return pgtest.DSN(t)
	}
	return filepath.Join(t.TempDir(), "pushgate.db")
}

// newReplica serves a Server with its own Store on the shared database dsn,
// its clock now (nil: time.Now), and a recorder for every kind.
func newReplica(t *testing.T, drv, dsn string, now func() time.Time, tune ...func(*configs.Config)) *testServer {
	t.Helper()
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken = testAdmin
	cfg.DB.Driver, cfg.DB.DSN = drv, dsn
	cfg.ReplyBudget = 2 * time.Second
	for _, f := range tune {
		f(cfg)
	}
	return serveConfig(t, cfg, now)
}

// afterGrace is a clock at which every event stored so far is older than
// the sweep's grace and every recovery lease taken with time.Now has ended.
func afterGrace() time.Time {
	return time.Now().Add(max(handlers.SweepGrace, handlers.RecoveryLease) + time.Minute)
}

// saveReceived stores a click with key as a crash leaves it: committed,
// never dispatched.
func saveReceived(t *testing.T, store *models.Store, key string, createTime int) int64 {
	t.Helper()
	raw := clickBody(key, createTime)
	e, err := events.Decode(raw, events.XML)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := events.Marshal(e)
	m := events.Describe(e)
	saved, err := store.SaveEvent(context.Background(), &models.NewEvent{DedupeKey: m.DedupeKey(events.DefaultAccount, payload), Kind: m.Kind,
		MsgType: m.MsgType, Event: m.Event, EventKey: m.EventKey, FromUser: m.FromUser, ToUser: m.ToUser,
		CreateTime: m.CreateTime, Format: "xml", Payload: payload, Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	return saved.ID
}

// keyCounter counts the handler runs of each event key, over replicas.
type keyCounter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *keyCounter) handle(ctx context.Context, e events.Event) (events.Reply, error) {
	c.mu.Lock()
	c.runs[events.Describe(e).EventKey]++
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // let the other replica catch up
	return nil, nil
}

// TestRecoverReceivedReplicas: two replicas on one database recover the same
// left-over events at the same time; each event's handler runs exactly once
// in total, and every event ends handled.
func TestRecoverReceivedReplicas(t *testing.T) {
	t.Parallel()
	const n = 50
	for _, drv := range []string{models.DriverPostgres, models.DriverSQLite} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			a := newReplica(t, drv, dsn, afterGrace)
			b := newReplica(t, drv, dsn, afterGrace)
			counter := &keyCounter{runs: map[string]int{}}
			a.rec.handle, b.rec.handle = counter.handle, counter.handle
			for i := range n {
				saveReceived(t, a.store, fmt.Sprintf("k%d", i), 5000+i)
			}

			var (
				wg        sync.WaitGroup
				recovered [2]int
			)
			start := make(chan struct{})
			for i, r := range []*testServer{a, b} {
				wg.Go(func() {
					<-start
					var err error
					recovered[i], err = r.srv.RecoverReceived(context.Background(), r.store.NewID())
					if err != nil {
						t.Errorf("replica %d: RecoverReceived = %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()

			if got := recovered[0] + recovered[1]; got != n {
				t.Errorf("RecoverReceived dispatched %d + %d = %d, want %d", recovered[0], recovered[1], got, n)
			}
			counter.mu.Lock()
			for i := range n {
				if k := fmt.Sprintf("k%d", i); counter.runs[k] != 1 {
					t.Errorf("handler of %s ran %d times, want 1", k, counter.runs[k])
				}
			}
			counter.mu.Unlock()
			eventually(t, "every event handled", func() bool {
				rows, _, err := a.store.ListEvents(context.Background(), models.EventFilter{Status: models.StatusHandled, Limit: 2 * n})
				return err == nil && len(rows) == n
			})
			for i, r := range []*testServer{a, b} {
				if got, err := r.srv.RecoverReceived(context.Background(), r.store.NewID()); err != nil || got != 0 {
					t.Errorf("replica %d: second RecoverReceived = %d, %v; want 0", i, got, err)
				}
			}
		})
	}
}

// TestRecoverLeavesLivePushOfOtherReplica: on PostgreSQL, replica A's
// start-up recovery does not take a push that replica B stored just now and
// is still handling.
func TestRecoverLeavesLivePushOfOtherReplica(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := newReplica(t, models.DriverPostgres, dsn, nil)
	b := newReplica(t, models.DriverPostgres, dsn, nil)
	release := make(chan struct{})
	b.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		<-release
		return nil, nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.push(t, "text/xml", clickBody("live", 6000))
	}()
	eventually(t, "the push is in B's handler", func() bool { return b.rec.calls.Load() == 1 })

	watermark := a.store.NewID() // taken as A starts
	if got, err := a.srv.RecoverReceived(context.Background(), watermark); err != nil || got != 0 {
		t.Errorf("A: RecoverReceived with a push in B's handler = %d, %v; want 0", got, err)
	}
	close(release)
	<-done
	if calls := a.rec.calls.Load(); calls != 0 {
		t.Errorf("A's handler ran %d times, want 0", calls)
	}
	if calls := b.rec.calls.Load(); calls != 1 {
		t.Errorf("B's handler ran %d times, want 1", calls)
	}
}

// TestRecoverBoundByDriver: an event an earlier run left received moments
// ago is recovered at start-up on SQLite (one process owns the file), but on
// PostgreSQL only once it is older than SweepGrace.
func TestRecoverBoundByDriver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		drv       string
		now, late int // recovered with a clock of now, then SweepGrace later
	}{
		{models.DriverSQLite, 1, 0},
		{models.DriverPostgres, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, tt.drv)
			r := newReplica(t, tt.drv, dsn, nil)
			id := saveReceived(t, r.store, "left", 7000)
			if got, err := r.srv.RecoverReceived(context.Background(), r.store.NewID()); err != nil || got != tt.now {
				t.Errorf("RecoverReceived at once = %d, %v; want %d", got, err, tt.now)
			}
			if tt.now > 0 {
				// The attempt is recorded with the writer's next batch.
				eventually(t, "the recovered event handled", func() bool {
					ev, err := r.store.GetEvent(context.Background(), id)
					return err == nil && ev.Status == models.StatusHandled
				})
			}
			later := newReplica(t, tt.drv, dsn, afterGrace)
			if got, err := later.srv.RecoverReceived(context.Background(), later.store.NewID()); err != nil || got != tt.late {
				t.Errorf("RecoverReceived after the grace = %d, %v; want %d", got, err, tt.late)
			}
			if calls := r.rec.calls.Load() + later.rec.calls.Load(); calls != 1 {
				t.Errorf("handlers ran %d times, want 1", calls)
			}
		})
	}
}

// TestRecoverSkipsClaimedEvent: recovery leaves an event another recoverer
// has claimed, and takes it once that claim's lease has ended.
func TestRecoverSkipsClaimedEvent(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			r := newReplica(t, drv, dsn, afterGrace)
			id := saveReceived(t, r.store, "claimed", 8000)
			// Another replica, its clock at afterGrace too, has it.
			if won, err := r.store.ClaimReceived(context.Background(), id, afterGrace(), handlers.RecoveryLease); err != nil || !won {
				t.Fatalf("ClaimReceived = %v, %v; want true", won, err)
			}
			if got, err := r.srv.RecoverReceived(context.Background(), r.store.NewID()); err != nil || got != 0 {
				t.Errorf("RecoverReceived of a claimed event = %d, %v; want 0", got, err)
			}
			expired := newReplica(t, drv, dsn, func() time.Time { return afterGrace().Add(handlers.RecoveryLease) })
			if got, err := expired.srv.RecoverReceived(context.Background(), expired.store.NewID()); err != nil || got != 1 {
				t.Errorf("RecoverReceived after the claim's lease = %d, %v; want 1", got, err)
			}
			if calls := r.rec.calls.Load() + expired.rec.calls.Load(); calls != 1 {
				t.Errorf("handlers ran %d times, want 1", calls)
			}
		})
	}
}

// TestSweepGraceCoversHandler: a push may stay received for its commit
// (within the reply budget) and its handler's run (HandlerTimeout); the
// sweep must wait longer, and a recovery claim must outlast a dispatch.
func TestSweepGraceCoversHandler(t *testing.T) {
	t.Parallel()
	budget := configs.MaxReplyBudget // the longest Validate accepts
	if handlers.SweepGrace <= budget+handlers.HandlerTimeout {
		t.Errorf("SweepGrace = %s, want more than reply budget %s + HandlerTimeout %s", handlers.SweepGrace, budget, handlers.HandlerTimeout)
	}
	if handlers.RecoveryLease <= handlers.HandlerTimeout {
		t.Errorf("RecoveryLease = %s, want more than HandlerTimeout %s", handlers.RecoveryLease, handlers.HandlerTimeout)
	}
}

// TestReplayOfReceivedEvent: an admin replay of an event still received
// answers 409 while the event may be in a handler (in flight here; younger
// than the grace on PostgreSQL, where another replica may have it; claimed
// by a recovery), and dispatches it once otherwise; a bulk replay counts
// such events as busy. Handled events replay freely.
func TestReplayOfReceivedEvent(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			var clock atomic.Int64 // offset added to time.Now
			now := func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
			r := newReplica(t, drv, dsn, now)
			replay := func(id int64) int {
				status, _ := r.admin(t, "POST", fmt.Sprintf("/v1/events/%d/replay", id), "")
				return status
			}

			// In flight here: the push's handler is blocked.
			release := make(chan struct{})
			r.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
				if events.Describe(e).EventKey == "live" {
					<-release
				}
				return nil, nil
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.push(t, "text/xml", clickBody("live", 8000))
			}()
			eventually(t, "the push is in its handler", func() bool { return r.rec.calls.Load() == 1 })
			live, _ := r.list(t, "event_key=live")
			if len(live) != 1 {
				t.Fatalf("listed %d live events, want 1", len(live))
			}
			var liveID int64
			fmt.Sscan(live[0].ID, &liveID)
			got := make(chan int, 1)
			go func() { got <- replay(liveID) }()
			select {
			case code := <-got:
				if code != http.StatusConflict {
					t.Errorf("replay of an event in its handler = %d, want 409", code)
				}
			case <-time.After(10 * time.Second):
				t.Error("replay of an event in its handler waited for that handler: it ran it again")
			}
			close(release)
			<-done

			// Left received (a crash): young, then old.
			id := saveReceived(t, r.store, "left", 8001)
			want := http.StatusOK
			if drv == models.DriverPostgres {
				want = http.StatusConflict // another replica may be handling it
			}
			if got := replay(id); got != want {
				t.Errorf("replay of a young received event = %d, want %d", got, want)
			}
			clock.Store(int64(handlers.SweepGrace + time.Minute))
			if drv == models.DriverPostgres {
				if got := replay(id); got != http.StatusOK {
					t.Errorf("replay of an old received event = %d, want 200", got)
				}
			}
			if ev, err := r.store.GetEvent(context.Background(), id); err != nil || ev.Status != models.StatusHandled {
				t.Errorf("after its replay the event is %+v, %v; want handled", ev, err)
			}
			if got := replay(id); got != http.StatusOK {
				t.Errorf("replay of a handled event = %d, want 200", got)
			}

			// Claimed by a recovery: busy, also in a bulk replay.
			claimed := saveReceived(t, r.store, "claimed", 8002)
			if won, err := r.store.ClaimReceived(context.Background(), claimed, now(), handlers.RecoveryLease); err != nil || !won {
				t.Fatalf("ClaimReceived = %v, %v", won, err)
			}
			if got := replay(claimed); got != http.StatusConflict {
				t.Errorf("replay of a claimed event = %d, want 409", got)
			}
			status, body := r.admin(t, "POST", "/v1/replay", `{"status":"received"}`)
			var counts struct{ Matched, Handled, Failed, Busy int }
			if status != http.StatusOK || json.Unmarshal(body, &counts) != nil || counts.Matched != 1 || counts.Busy != 1 || counts.Handled != 0 {
				t.Errorf("POST /v1/replay {status: received} = %d %s, want 1 matched, 1 busy", status, body)
			}
		})
	}
}
