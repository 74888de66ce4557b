package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"github.com/pushgate/pushgate/internal/pgtest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema set-up

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// drivers is the table the behavioural tests run against.
var drivers = []string{models.DriverSQLite, models.DriverPostgres}

// testPostgresDSN gives the test its own PostgreSQL schema (see internal/pgtest).
func testPostgresDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// testDSN returns a fresh database for drv.
func testDSN(t testing.TB, drv string) string {
	t.Helper()
	if drv == models.DriverPostgres {
		return testPostgresDSN(t)
	}
	return filepath.Join(t.TempDir(), "pushgate.db")
}

// openStore opens a Store on dsn and closes it when the test ends.
func openStore(t testing.TB, drv, dsn string) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), drv, dsn, models.Options{})
	if err != nil {
		t.Fatalf("models.Open(%s) = %v", drv, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachDriver runs f as a subtest per driver.
func eachDriver(t *testing.T, f func(t *testing.T, drv string)) {
	t.Helper()
	for _, drv := range drivers {
		t.Run(drv, func(t *testing.T) { f(t, drv) })
	}
}

// testConfig is a Notify configuration with a fast schedule and short timeouts.
func testConfig(schedule ...time.Duration) configs.Notify {
	return configs.Notify{
		Schedule: schedule, ConnectTimeout: time.Second, ReadTimeout: time.Second,
		PoolCore: 4, PoolMax: 8, QueueSize: 16, ScanPeriod: 5 * time.Second, FetchSize: 50,
	}
}

// startNotifier starts a Notifier and stops it when the test ends.
func startNotifier(t testing.TB, s *models.Store, cfg configs.Notify, subs []configs.Subscriber, opt Options) *Notifier {
	t.Helper()
	if opt.Lease == 0 {
		opt.Lease = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = testLogger(t)
	}
	n := New(s, cfg, subs, opt)
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop = %v", err)
		}
	})
	return n
}

// accept stores click event i and tells n, as the push handler does.
func accept(t testing.TB, s *models.Store, n *Notifier, i int) int64 {
	t.Helper()
	id, e, err := saveClick(s, i)
	if err != nil {
		t.Fatalf("SaveEvent = %v", err)
	}
	if n != nil {
		n.Accepted(context.Background(), id, e)
	}
	return id
}

// saveClick stores click event i.
func saveClick(s *models.Store, i int) (int64, events.Event, error) {
	e := &events.Click{}
	e.ToUserName, e.FromUserName, e.CreateTime = "gh_test", "oUser", 1700000000+int64(i)
	e.MsgType, e.Event, e.EventKey = "event", "CLICK", "KEY_"+strconv.Itoa(i)
	payload, err := events.Marshal(e)
	if err != nil {
		return 0, nil, err
	}
	m := events.Describe(e)
	saved, err := s.SaveEvent(context.Background(), &models.NewEvent{
		DedupeKey: m.DedupeKey(events.DefaultAccount, payload), Kind: m.Kind, MsgType: m.MsgType, Event: m.Event, EventKey: m.EventKey,
		FromUser: m.FromUser, ToUser: m.ToUser, CreateTime: m.CreateTime, Format: "json", Payload: payload,
	})
	return saved.ID, e, err
}

// hit is one request a sink received.
type hit struct {
	id      string // webhook-id
	attempt int
	at      time.Time
	header  http.Header
	body    []byte
	msg     Message
}

// sink is a loopback subscriber. answer decides each response from the hit
// and how many times this webhook-id was seen before (0 for the first).
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	byID   map[string]int
	answer func(w http.ResponseWriter, h hit, seen int)
}

func newSink(t testing.TB, answer func(w http.ResponseWriter, h hit, seen int)) *sink {
	s := &sink{byID: map[string]int{}, answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hit{id: r.Header.Get(HeaderID), at: time.Now(), header: r.Header.Clone(), body: body}
		h.attempt, _ = strconv.Atoi(r.Header.Get(HeaderAttempt))
		json.Unmarshal(body, &h.msg)
		s.mu.Lock()
		seen := s.byID[h.id]
		s.byID[h.id]++
		s.hits = append(s.hits, h)
		s.mu.Unlock()
		s.answer(w, h, seen)
	}))
	t.Cleanup(s.Close)
	return s
}

// succeed answers "success".
func succeed(w http.ResponseWriter, _ hit, _ int) { io.WriteString(w, "success") }

func (s *sink) snapshot() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

// waitFor polls cond every few milliseconds for up to d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliveries lists every delivery with status ("" for all).
func deliveries(t testing.TB, s *models.Store, status string) []models.Delivery {
	t.Helper()
	var out []models.Delivery
	cursor := ""
	for {
		page, next, err := s.ListDeliveries(context.Background(), models.DeliveryFilter{
			Status: status, Limit: models.MaxPageSize, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListDeliveries = %v", err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// testSecret is a valid secret for tests.
func testSecret(word string) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString([]byte(word))
}

// testLogger logs through t.Log, so that logs show with -v or on failure only.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
