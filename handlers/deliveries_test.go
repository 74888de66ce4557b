package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
)

// deliveryServer is the real engine with a Notifier observing pushes and the
// Deliveries routes, and a subscriber that fails until told otherwise.
type deliveryServer struct {
	*httptest.Server
	store   *models.Store
	sink    *httptest.Server
	healthy atomic.Bool
	hits    atomic.Int64
}

func newDeliveryServer(t *testing.T) *deliveryServer {
	t.Helper()
	ds := &deliveryServer{}
	ds.sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ds.hits.Add(1)
		if ds.healthy.Load() {
			io.WriteString(w, "success")
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(ds.sink.Close)
	cfg := configs.Default()
	cfg.WeChat.Token = "wechat-deliveries-token"
	cfg.AdminToken = "admin-deliveries-token"
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	cfg.Notify.URLs = []string{ds.sink.URL}
	cfg.Notify.Schedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}
	log := slog.New(slog.DiscardHandler)
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ds.store = store
	n := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	srv := newServer(t, handlers.Deps{
		Config: cfg, Store: store, Mux: events.NewMux(), Logger: log,
		Observers: []handlers.Observer{n},
		Features:  []handlers.Feature{handlers.Deliveries{Store: store, Notifier: n, Logger: log}},
	})
	ds.Server = httptest.NewServer(srv)
	t.Cleanup(ds.Server.Close)
	return ds
}

// push posts a signed click event.
func (ds *deliveryServer) push(t *testing.T, key string) {
	t.Helper()
	stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce},
		"signature": {handlers.Signature("wechat-deliveries-token", stamp, nonce)}}
	body := `<xml><ToUserName>gh_1</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime>` +
		`<MsgType>event</MsgType><Event>CLICK</Event><EventKey>` + key + `</EventKey></xml>`
	resp, err := http.Post(ds.URL+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push = %d", resp.StatusCode)
	}
}

// call sends an admin request and decodes the JSON answer into out.
func (ds *deliveryServer) call(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, ds.URL+path, nil)
	req.Header.Set("Authorization", "Bearer admin-deliveries-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type deliveryJSON struct {
	ID            string     `json:"id"`
	EventID       *string    `json:"event_id"`
	URL           string     `json:"url"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastStatus    int        `json:"last_status"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	Body          string     `json:"body"`
	History       []struct {
		Attempt int    `json:"attempt"`
		Status  int    `json:"status"`
		Error   string `json:"error"`
	} `json:"history"`
}

type deliveryPage struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	NextCursor string         `json:"next_cursor"`
}

func TestDeliveriesListAndRetry(t *testing.T) {
	t.Parallel()
	ds := newDeliveryServer(t)
	ds.push(t, "A")
	ds.push(t, "B")
	var dead deliveryPage
	deadline := time.Now().Add(10 * time.Second)
	for len(dead.Deliveries) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not dead after 10s: %+v", dead)
		}
		time.Sleep(10 * time.Millisecond)
		if code := ds.call(t, "GET", "/v1/deliveries?status=dead", &dead); code != 200 {
			t.Fatalf("GET ?status=dead = %d", code)
		}
	}
	d := dead.Deliveries[0]
	if d.EventID == nil || d.URL != ds.sink.URL || d.Attempts != 3 || d.LastStatus != 503 ||
		!strings.Contains(d.LastError, "http 503") || d.NextAttemptAt != nil || d.CreatedAt.IsZero() {
		t.Errorf("dead delivery = %+v", d)
	}
	var page deliveryPage
	ds.call(t, "GET", "/v1/deliveries?limit=1&event_id="+*d.EventID, &page)
	if len(page.Deliveries) != 1 || page.Deliveries[0].ID != d.ID || page.NextCursor != "" {
		t.Errorf("GET ?event_id = %+v, want delivery %s alone", page, d.ID)
	}
	ds.call(t, "GET", "/v1/deliveries?limit=1", &page)
	if len(page.Deliveries) != 1 || page.NextCursor == "" {
		t.Errorf("GET ?limit=1 = %+v, want one and a cursor", page)
	}

	var one deliveryJSON
	if code := ds.call(t, "GET", "/v1/deliveries/"+d.ID, &one); code != 200 || len(one.History) != 3 ||
		one.History[2].Attempt != 3 || !strings.Contains(one.Body, `"kind":"event.CLICK"`) {
		t.Errorf("GET /v1/deliveries/%s = %d %+v", d.ID, code, one)
	}

	ds.healthy.Store(true)
	var retried deliveryJSON
	if code := ds.call(t, "POST", "/v1/deliveries/"+d.ID+"/retry", &retried); code != 200 ||
		retried.Status != "pending" || retried.NextAttemptAt == nil {
		t.Fatalf("POST retry = %d %+v, want 200 and pending", code, retried)
	}
	deadline = time.Now().Add(5 * time.Second)
	for one.Status != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("retried delivery = %+v, want succeeded", one)
		}
		time.Sleep(10 * time.Millisecond)
		ds.call(t, "GET", "/v1/deliveries/"+d.ID, &one)
	}
	if one.Attempts != 4 {
		t.Errorf("attempts after the retry = %d, want 4", one.Attempts)
	}

	var e struct{ Error string }
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/v1/deliveries/" + d.ID + "/retry", http.StatusConflict}, // succeeded
		{"POST", "/v1/deliveries/123/retry", http.StatusNotFound},
		{"GET", "/v1/deliveries/123", http.StatusNotFound},
		{"POST", "/v1/deliveries/abc/retry", http.StatusBadRequest},
		{"GET", "/v1/deliveries?status=lost", http.StatusBadRequest},
		{"GET", "/v1/deliveries?event_id=x", http.StatusBadRequest},
		{"GET", "/v1/deliveries?limit=0", http.StatusBadRequest},
		{"GET", "/v1/deliveries?limit=501", http.StatusBadRequest},
		{"GET", "/v1/deliveries?cursor=!!", http.StatusBadRequest},
	} {
		e.Error = ""
		if code := ds.call(t, tt.method, tt.path, &e); code != tt.code || e.Error == "" {
			t.Errorf("%s %s = %d %q, want %d with a JSON error", tt.method, tt.path, code, e.Error, tt.code)
		}
	}
	req, _ := http.NewRequest("GET", ds.URL+"/v1/deliveries", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/deliveries without a token = %d, want 401", resp.StatusCode)
	}
}
