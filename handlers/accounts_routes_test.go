package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
)

// TestAccountsEndToEnd serves three accounts on one receiver over real
// HTTP: each push is stored, dispatched and notified with its account; a
// handler registered for one account serves it first and learns the
// account from its context; the admin listings filter by account; an
// unknown account is 404 and nothing is stored.
func TestAccountsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				seen    []string // "handler:account:key"
				webhook []notify.Message
			)
			sink := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m notify.Message
				if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
					t.Errorf("webhook body: %v", err)
				}
				mu.Lock()
				webhook = append(webhook, m)
				mu.Unlock()
				io.WriteString(w, "success")
			}))
			cfg := configs.Default()
			cfg.WeChat.Token = testToken
			cfg.AdminToken = testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, recoverDSN(t, drv)
			cfg.Accounts = []configs.Account{{Name: "shop", Token: "shop-token"}, {Name: "blog", Token: "blog-token"}}
			cfg.Notify.URLs = []string{sink.URL}
			log := slog.New(slog.DiscardHandler)
			store, err := models.Open(context.Background(), drv, cfg.DB.DSN, models.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			n := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log})
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Stop(context.Background()) })
			record := func(who string) func(ctx context.Context, e *events.Click) (events.Reply, error) {
				return func(ctx context.Context, e *events.Click) (events.Reply, error) {
					info, ok := events.InfoFrom(ctx)
					if !ok {
						t.Errorf("handler context carries no events.Info")
					}
					mu.Lock()
					seen = append(seen, who+":"+info.Account+":"+e.EventKey)
					mu.Unlock()
					return nil, nil
				}
			}
			mux := events.NewMux()
			events.Handle(mux, record("shared"))
			events.Handle(mux.ForAccount("shop"), record("shop"))
			srv, err := handlers.New(handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: log, Observers: []handlers.Observer{n}})
			if err != nil {
				t.Fatal(err)
			}
			ts := &testServer{Server: httptest.NewServer(srv), srv: srv, store: store, cfg: cfg}
			t.Cleanup(ts.Close)

			click := func(key string) []byte {
				return []byte(`<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime>` +
					`<MsgType>event</MsgType><Event>CLICK</Event><EventKey>` + key + `</EventKey></xml>`)
			}
			posts := []struct {
				w      wire
				status int
				answer string
			}{
				{wire{path: "/wechat", token: testToken, body: click("same")}, 200, "success"},
				{wire{path: "/wechat/default", token: testToken, body: click("d2")}, 200, "success"},
				// The same push for another account is another event.
				{wire{path: "/wechat/shop", token: "shop-token", body: click("same")}, 200, "success"},
				{wire{path: "/wechat/blog", token: "blog-token", body: click("b1")}, 200, "success"},
				{wire{path: "/wechat/shop", token: testToken, body: click("x")}, 401, "invalid signature"},
				{wire{path: "/wechat/nope", token: testToken, body: click("x")}, 404, `unknown account "nope"`},
				{wire{path: "/wechat/blog", token: "blog-token", body: []byte("<xml>not closed")}, 400, ""},
			}
			for _, p := range posts {
				status, answer := ts.post(t, p.w)
				if status != p.status || !strings.Contains(answer, p.answer) {
					t.Errorf("POST %s = %d %q, want %d %q", p.w.path, status, answer, p.status, p.answer)
				}
			}
			resp, err := http.Get(ts.URL + "/wechat/nope?signature=x&timestamp=1&nonce=2&echostr=e")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("GET /wechat/nope = %d %s, want 404 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
			}

			mu.Lock()
			got := slices.Sorted(slices.Values(seen))
			mu.Unlock()
			want := []string{"shared:blog:b1", "shared:default:d2", "shared:default:same", "shop:shop:same"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("handlers saw (-want +got):\n%s", diff)
			}

			for account, wantN := range map[string]int{"": 4, "default": 2, "shop": 1, "blog": 1, "nope": 0} {
				status, body := ts.admin(t, "GET", "/v1/events?account="+account, "")
				var page struct {
					Events []struct {
						Account string `json:"account"`
					} `json:"events"`
				}
				if err := json.Unmarshal(body, &page); err != nil || status != 200 {
					t.Fatalf("GET /v1/events?account=%s = %d %s", account, status, body)
				}
				if len(page.Events) != wantN {
					t.Errorf("GET /v1/events?account=%s = %d events, want %d", account, len(page.Events), wantN)
				}
				for _, e := range page.Events {
					if account != "" && e.Account != account {
						t.Errorf("GET /v1/events?account=%s returned an event of %q", account, e.Account)
					}
				}
			}
			for account, wantN := range map[string]int{"blog": 1, "shop": 0, "": 1} {
				_, body := ts.admin(t, "GET", "/v1/rejected?account="+account, "")
				var page struct {
					Rejected []struct {
						Account string `json:"account"`
					} `json:"rejected"`
				}
				json.Unmarshal(body, &page)
				if len(page.Rejected) != wantN || wantN == 1 && page.Rejected[0].Account != "blog" {
					t.Errorf("GET /v1/rejected?account=%s = %s, want %d of blog", account, body, wantN)
				}
			}

			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				k := len(webhook)
				mu.Unlock()
				if k >= 4 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			var accounts []string
			for _, m := range webhook {
				accounts = append(accounts, m.Account)
			}
			mu.Unlock()
			slices.Sort(accounts)
			if diff := cmp.Diff([]string{"blog", "default", "default", "shop"}, accounts); diff != "" {
				t.Errorf("webhook bodies' accounts (-want +got):\n%s", diff)
			}
		})
	}
}
