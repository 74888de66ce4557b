package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
)

const (
	platformToken = "platform-token"
	platformAppID = "wx304925fbea25bcbe" // the component app id of the fixtures
	platformKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// sealedWire is a push sealed as the Open Platform and WeCom send them:
// msg_signature over the Encrypt field, no signature of the URL (WeCom),
// or with one that pushgate does not need (Open Platform).
type sealedWire struct {
	path             string
	token, key, id   string // id: the app id or receive id sealed inside
	body             []byte
	plain            bool   // send body unsealed
	stamp, nonce     string // "" = now, a fresh one
	withURLSignature bool
}

// postSealed sends w over real HTTP and returns the status and answer.
func (ts *testServer) postSealed(t testing.TB, w sealedWire) (int, string) {
	t.Helper()
	stamp, nonce := w.stamp, w.nonce
	if stamp == "" {
		stamp = strconv.FormatInt(time.Now().Unix(), 10)
	}
	if nonce == "" {
		nonce = freshNonce()
	}
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}}
	body := w.body
	if !w.plain {
		c, err := handlers.NewCrypter(w.token, w.key, w.id)
		if err != nil {
			t.Fatal(err)
		}
		var enc string
		body, enc = c.SealPush(w.body, w.id)
		q.Set("msg_signature", handlers.MsgSignature(w.token, stamp, nonce, enc))
	}
	if w.withURLSignature {
		q.Set("signature", handlers.Signature(w.token, stamp, nonce))
		q.Set("encrypt_type", "aes")
	}
	resp, err := http.Post(ts.URL+w.path+"?"+q.Encode(), "text/xml", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// api calls an API route with token ("" sends none).
func (ts *testServer) api(t testing.TB, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// serveMux serves cfg over loopback with mux (a recorder catches the rest).
func serveMux(t *testing.T, cfg *configs.Config, mux *events.Mux) *testServer {
	t.Helper()
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rec := &recorder{}
	mux.Fallback(rec)
	srv := newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: quietLogger()})
	return &testServer{Server: httptestServer(t, srv), srv: srv, store: store, rec: rec, cfg: cfg}
}

// fixture returns the body of the named fixture.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pushes {
		if p.Name == name {
			return p.Body
		}
	}
	t.Fatalf("no fixture %q", name)
	return nil
}

// platformConfig is a default account and an Open Platform account.
func platformConfig(t *testing.T, drv string) *configs.Config {
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.AdminToken, cfg.APIToken = testAdmin, testAPI
	cfg.DB.Driver, cfg.DB.DSN = drv, recoverDSN(t, drv)
	cfg.Accounts = []configs.Account{{Name: "platform", Kind: configs.KindOpenPlatform, Token: platformToken, AppID: platformAppID, AESKey: platformKey}}
	return cfg
}

// ticketPush is a component_verify_ticket push created at ct.
func ticketPush(ct int64, ticket string) []byte {
	return []byte(`<xml><AppId><![CDATA[` + platformAppID + `]]></AppId><CreateTime>` + strconv.FormatInt(ct, 10) +
		`</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[` + ticket +
		`]]></ComponentVerifyTicket></xml>`)
}

// TestOpenPlatformAuthorizationEvents: on an Open Platform account's
// authorization event URL, sealed pushes verified by msg_signature are
// stored, deduped and dispatched to their typed handlers, and answered
// "success" whatever the handler replies; the latest component_verify_ticket
// is served to the API token; plaintext, a wrong msg_signature and a
// foreign component app id are refused.
func TestOpenPlatformAuthorizationEvents(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			var (
				mu   sync.Mutex
				seen []string
			)
			note := func(s string) {
				mu.Lock()
				seen = append(seen, s)
				mu.Unlock()
			}
			mux := events.NewMux()
			events.Handle(mux, func(ctx context.Context, e *events.ComponentVerifyTicket) (events.Reply, error) {
				info, _ := events.InfoFrom(ctx)
				note("ticket:" + info.Account + ":" + e.ComponentVerifyTicket)
				return events.Text("a reply the platform URL must not send"), nil
			})
			events.Handle(mux, func(ctx context.Context, e *events.Authorized) (events.Reply, error) {
				note("authorized:" + e.AuthorizerAppid)
				return nil, nil
			})
			events.Handle(mux, func(ctx context.Context, e *events.Unauthorized) (events.Reply, error) {
				note("unauthorized:" + e.AuthorizerAppid)
				return nil, nil
			})
			ts := serveMux(t, platformConfig(t, drv), mux)
			const route = "/v1/accounts/platform/component_verify_ticket"
			if status, _ := ts.api(t, route, ""); status != http.StatusUnauthorized {
				t.Errorf("GET %s without token = %d, want 401", route, status)
			}
			if status, body := ts.api(t, route, testAPI); status != http.StatusNotFound {
				t.Errorf("GET %s before any ticket = %d %s, want 404", route, status, body)
			}
			platform := func(body []byte) sealedWire {
				return sealedWire{path: "/wechat/platform", token: platformToken, key: platformKey, id: platformAppID, body: body, withURLSignature: true}
			}

			now := time.Now().Unix()
			for _, tc := range []struct {
				name string
				w    sealedWire
			}{
				{"ticket fixture", platform(fixture(t, "component.component_verify_ticket"))},
				{"its retry", platform(fixture(t, "component.component_verify_ticket"))},
				{"second ticket", platform(ticketPush(now, "ticket@@@second"))},
				{"older ticket arriving late", platform(ticketPush(now-600, "ticket@@@older"))},
				{"authorized", platform(fixture(t, "component.authorized"))},
				{"unauthorized", platform(fixture(t, "component.unauthorized"))},
				{"no URL signature (msg_signature suffices)", func() sealedWire {
					w := platform(fixture(t, "component.updateauthorized"))
					w.withURLSignature = false
					return w
				}()},
			} {
				if status, answer := ts.postSealed(t, tc.w); status != http.StatusOK || answer != "success" {
					t.Errorf("POST %s = %d %q, want 200 success", tc.name, status, answer)
				}
			}
			mu.Lock()
			got := append([]string(nil), seen...)
			mu.Unlock()
			want := []string{
				"ticket:platform:ticket@@@lEHjsBEi_TPDey0IZxw4Zbb7JRYLOtEf9ksvDpSwzkwog3R6xEpdaK0yIee7JOyOXM0V7cp0dpM58GKmb8FSKA",
				"ticket:platform:ticket@@@second", "ticket:platform:ticket@@@older",
				"authorized:wxf8b4f85f3a794e77", "unauthorized:" + unauthorizedAppID(t),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("dispatched (-want +got):\n%s", diff)
			}
			if evs := ts.rec.events(); len(evs) != 1 || evs[0].Kind() != "component.updateauthorized" {
				t.Errorf("fallback got %v, want the updateauthorized event", evs)
			}

			status, body := ts.api(t, route, testAPI)
			var ticket struct {
				Account    string    `json:"account"`
				Ticket     string    `json:"ticket"`
				CreateTime int64     `json:"create_time"`
				ReceivedAt time.Time `json:"received_at"`
			}
			if err := json.Unmarshal(body, &ticket); status != http.StatusOK || err != nil {
				t.Fatalf("GET %s = %d %s (%v), want 200", route, status, body, err)
			}
			if ticket.Account != "platform" || ticket.Ticket != "ticket@@@second" || ticket.CreateTime != now || ticket.ReceivedAt.IsZero() {
				t.Errorf("GET %s = %+v, want the second ticket, created at %d", route, ticket, now)
			}
			for _, p := range []string{"/v1/accounts/default/component_verify_ticket", "/v1/accounts/nobody/component_verify_ticket"} {
				if status, body := ts.api(t, p, testAPI); status != http.StatusNotFound {
					t.Errorf("GET %s = %d %s, want 404", p, status, body)
				}
			}

			evsBefore, rejBefore := ts.stored(t)
			for _, tc := range []struct {
				name   string
				w      sealedWire
				status int
				msg    string
				kept   bool
			}{
				{"plaintext", func() sealedWire { w := platform(ticketPush(now, "plain")); w.plain = true; return w }(),
					http.StatusUnauthorized, "open_platform accounts accept encrypted pushes only", false},
				{"wrong token", func() sealedWire { w := platform(ticketPush(now, "x")); w.token = "not-the-token"; return w }(),
					http.StatusUnauthorized, "invalid msg_signature", false},
				{"another platform's app id", func() sealedWire { w := platform(ticketPush(now, "y")); w.id = "wx_another_component"; return w }(),
					http.StatusUnauthorized, "receive id is not ours", true},
			} {
				status, answer := ts.postSealed(t, tc.w)
				if status != tc.status || !strings.Contains(answer, tc.msg) {
					t.Errorf("POST %s = %d %q, want %d containing %q", tc.name, status, answer, tc.status, tc.msg)
				}
			}
			evsAfter, rejAfter := ts.stored(t)
			if evsAfter != evsBefore || rejAfter != rejBefore+1 {
				t.Errorf("after refusals: %d events %d rejected, want %d and %d", evsAfter, rejAfter, evsBefore, rejBefore+1)
			}
		})
	}
}

// unauthorizedAppID is the AuthorizerAppid of the unauthorized fixture.
func unauthorizedAppID(t testing.TB) string {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(fixture(t, "component.unauthorized")); err != nil {
		t.Fatal(err)
	}
	return doc.Root().SelectElement("AuthorizerAppid").Text()
}

// TestOpenPlatformAuthorizerMessages: pushes of authorized accounts on
// /wechat/{account}/{authorizer_appid} are opened with the platform's key,
// stored with the authorizer's app id (filterable), deduped per
// authorizer, dispatched with it in events.Info, and their replies sealed
// with the platform's key.
func TestOpenPlatformAuthorizerMessages(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			mux := events.NewMux()
			events.Handle(mux, func(ctx context.Context, e *events.TextMessage) (events.Reply, error) {
				info, _ := events.InfoFrom(ctx)
				return events.Text("to " + info.Account + "/" + info.AuthorizerAppID), nil
			})
			ts := serveMux(t, platformConfig(t, drv), mux)
			text := fixture(t, "text")
			at := func(app string) sealedWire {
				body := text
				if app != "wxauth1" { // another authorized account: its own original id
					body = bytes.ReplaceAll(text, []byte("gh_e136c6e50636"), []byte("gh_"+app))
				}
				return sealedWire{path: "/wechat/platform/" + app, token: platformToken, key: platformKey, id: platformAppID, body: body, withURLSignature: true}
			}
			opener, err := handlers.NewCrypter(platformToken, platformKey, platformAppID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ app, want string }{
				{"wxauth1", "to platform/wxauth1"},
				{"wxauth1", "to platform/wxauth1"}, // the retry: the original's reply
				{"wx_auth_2", "to platform/wx_auth_2"},
			} {
				status, answer := ts.postSealed(t, at(tc.app))
				if status != http.StatusOK {
					t.Fatalf("POST /wechat/platform/%s = %d %q", tc.app, status, answer)
				}
				reply := openReply(t, opener, answer)
				if !strings.Contains(reply, "<![CDATA["+tc.want+"]]>") {
					t.Errorf("reply on /wechat/platform/%s = %s, want content %q", tc.app, reply, tc.want)
				}
			}
			for _, app := range []string{"wxauth1", "wx_auth_2"} {
				status, body := ts.admin(t, "GET", "/v1/events?authorizer_appid="+app, "")
				var page struct {
					Events []struct {
						Account         string `json:"account"`
						AuthorizerAppID string `json:"authorizer_appid"`
						Duplicates      int    `json:"duplicates"`
					} `json:"events"`
				}
				if err := json.Unmarshal(body, &page); status != http.StatusOK || err != nil {
					t.Fatalf("GET /v1/events?authorizer_appid=%s = %d %s", app, status, body)
				}
				if len(page.Events) != 1 || page.Events[0].Account != "platform" || page.Events[0].AuthorizerAppID != app {
					t.Errorf("GET /v1/events?authorizer_appid=%s = %+v, want one event of platform/%s", app, page.Events, app)
				}
			}
			for _, tc := range []struct {
				name, path string
				status     int
				msg        string
			}{
				{"bad app id", "/wechat/platform/wx-bad", http.StatusBadRequest, "invalid authorizer app id"},
				{"not a platform", "/wechat/default/wxauth1", http.StatusNotFound, "not an open_platform account"},
				{"unknown account", "/wechat/nobody/wxauth1", http.StatusNotFound, "unknown account"},
			} {
				w := at("x")
				w.path = tc.path
				status, answer := ts.postSealed(t, w)
				if status != tc.status || !strings.Contains(answer, tc.msg) {
					t.Errorf("POST %s (%s) = %d %q, want %d containing %q", tc.path, tc.name, status, answer, tc.status, tc.msg)
				}
			}
			if evs, rej := ts.stored(t); evs != 2 || rej != 0 {
				t.Errorf("stored %d events, %d rejected; want 2 and 0", evs, rej)
			}
		})
	}
}

// openReply opens a sealed passive reply.
func openReply(t testing.TB, c *handlers.Crypter, answer string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(answer); err != nil || doc.Root() == nil {
		t.Fatalf("reply %q is not XML: %v", answer, err)
	}
	field := func(name string) string {
		if el := doc.Root().SelectElement(name); el != nil {
			return el.Text()
		}
		t.Fatalf("reply %q has no %s", answer, name)
		return ""
	}
	plain, err := c.Open(field("MsgSignature"), field("TimeStamp"), field("Nonce"), field("Encrypt"))
	if err != nil {
		t.Fatalf("opening reply %q: %v", answer, err)
	}
	return string(plain)
}

// TestWeComAccount: a wecom account answers WeCom's URL check (WeCom's own
// sample and a round trip) with the decrypted echostr, takes sealed pushes
// for its receive ids verified by msg_signature, seals its replies for the
// corp, and refuses plaintext, a foreign receive id (kept), stale
// timestamps and reused nonces.
func TestWeComAccount(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			cfg := configs.Default()
			cfg.WeChat.Token = testToken
			cfg.AdminToken = testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, recoverDSN(t, drv)
			cfg.Accounts = []configs.Account{{Name: "corp", Kind: configs.KindWeCom, Token: weComSampleToken,
				AESKey: weComSampleKey, ReceiveID: configs.StringList{weComSampleCorpID, "suite_1"}}}
			mux := events.NewMux()
			events.Handle(mux, func(ctx context.Context, e *events.TextMessage) (events.Reply, error) {
				return events.Text("agent " + strconv.FormatInt(e.AgentID, 10) + " got " + e.Content), nil
			})
			ts := serveMux(t, cfg, mux)

			sealer, _ := handlers.NewCrypter(weComSampleToken, weComSampleKey, weComSampleCorpID)
			foreign, _ := handlers.NewCrypter(weComSampleToken, weComSampleKey, "ww_other")
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			own := sealer.Seal([]byte("round-trip-echo"))
			suite, _ := handlers.NewCrypter(weComSampleToken, weComSampleKey, "suite_1")
			suiteEcho := suite.Seal([]byte("suite-echo"))
			other := foreign.Seal([]byte("not ours"))
			for _, tc := range []struct {
				name                 string
				sig, ts, nonce, echo string
				status               int
				want                 string
			}{
				{"WeCom's sample", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", weComSampleEcho, 200, "1616140317555161061"},
				{"round trip", handlers.MsgSignature(weComSampleToken, stamp, "n1", own), stamp, "n1", own, 200, "round-trip-echo"},
				{"second receive id", handlers.MsgSignature(weComSampleToken, stamp, "n1", suiteEcho), stamp, "n1", suiteEcho, 200, "suite-echo"},
				{"bad signature", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4", "1409659589", "263014780", weComSampleEcho, 401, "invalid msg_signature"},
				{"foreign receive id", handlers.MsgSignature(weComSampleToken, stamp, "n1", other), stamp, "n1", other, 401, "receive id is not ours"},
			} {
				q := url.Values{"msg_signature": {tc.sig}, "timestamp": {tc.ts}, "nonce": {tc.nonce}, "echostr": {tc.echo}}
				resp, err := http.Get(ts.URL + "/wechat/corp?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
					t.Errorf("GET /wechat/corp (%s) = %d %q, want %d %q", tc.name, resp.StatusCode, b, tc.status, tc.want)
				}
			}

			corp := func(body []byte) sealedWire {
				return sealedWire{path: "/wechat/corp", token: weComSampleToken, key: weComSampleKey, id: weComSampleCorpID, body: body}
			}
			status, answer := ts.postSealed(t, corp(fixture(t, "text~wecom")))
			if status != http.StatusOK {
				t.Fatalf("POST text~wecom = %d %q", status, answer)
			}
			w, _ := handlers.NewWeComCrypter(weComSampleToken, weComSampleKey, weComSampleCorpID)
			reply := openWeComReply(t, w, answer)
			if !strings.Contains(reply, "<![CDATA[agent 1 got this is a test]]>") {
				t.Errorf("reply = %s, want the handler's text", reply)
			}
			if status, answer := ts.postSealed(t, corp(fixture(t, "text~wecom"))); status != http.StatusOK || !strings.Contains(openWeComReply(t, w, answer), "agent 1 got") {
				t.Errorf("retry = %d %q, want the original's reply", status, answer)
			}
			if status, answer := ts.postSealed(t, corp(fixture(t, "event.change_contact"))); status != http.StatusOK || answer != "success" {
				t.Errorf("POST event.change_contact = %d %q, want 200 success", status, answer)
			}
			if evs := ts.rec.events(); len(evs) != 1 || evs[0].Kind() != "event.change_contact" {
				t.Errorf("fallback got %v, want the change_contact event", evs)
			}

			// The same URL twice: one timestamp for both (taken per post, two
			// posts could straddle a second and be two different URLs).
			nonce, stamp := freshNonce(), strconv.FormatInt(time.Now().Unix(), 10)
			for _, tc := range []struct {
				name   string
				w      sealedWire
				status int
				msg    string
			}{
				{"foreign receive id", func() sealedWire { w := corp(clickN(1)); w.id = "ww_other"; return w }(), 401, "receive id is not ours"},
				{"plaintext", func() sealedWire { w := corp(clickN(2)); w.plain = true; return w }(), 401, "wecom accounts accept encrypted pushes only"},
				{"wrong token", func() sealedWire { w := corp(clickN(3)); w.token = "other"; return w }(), 401, "invalid msg_signature"},
				{"stale", func() sealedWire { w := corp(clickN(4)); w.stamp = "1409659813"; return w }(), 401, "timestamp outside the allowed window"},
				{"first under a nonce", func() sealedWire { w := corp(clickN(5)); w.nonce, w.stamp = nonce, stamp; return w }(), 200, "success"},
				{"second body under it", func() sealedWire { w := corp(clickN(6)); w.nonce, w.stamp = nonce, stamp; return w }(), 401, "nonce already used"},
			} {
				status, answer := ts.postSealed(t, tc.w)
				if status != tc.status || !strings.Contains(answer, tc.msg) {
					t.Errorf("POST %s = %d %q, want %d containing %q", tc.name, status, answer, tc.status, tc.msg)
				}
			}
			if evs, rej := ts.stored(t); evs != 3 || rej != 1 {
				t.Errorf("stored %d events, %d rejected; want 3 (text, change_contact, click) and 1 (the foreign receive id)", evs, rej)
			}
		})
	}
}

// TestWeComSampleCallback: WeCom's own sample callback (sealed in 2014, so
// with the freshness window off) is opened and stored as the text "hello"
// from mycreate to app 218.
func TestWeComSampleCallback(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configs.Config) {
		off := time.Duration(0)
		c.WeChat.MaxSkew = &off
		c.Accounts = []configs.Account{{Name: "corp", Kind: configs.KindWeCom, Token: weComSampleToken,
			AESKey: weComSampleKey, ReceiveID: configs.StringList{weComSampleCorpID}}}
	})
	q := url.Values{"msg_signature": {"477715d11cdb4164915debcba66cb864d751f3e6"}, "timestamp": {"1409659813"}, "nonce": {"1372623149"}}
	resp, err := http.Post(ts.URL+"/wechat/corp?"+q.Encode(), "text/xml", strings.NewReader(weComSampleBody))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "success" {
		t.Fatalf("POST sample = %d %q, want 200 success", resp.StatusCode, b)
	}
	evs := ts.rec.events()
	text, ok := (*events.TextMessage)(nil), len(evs) == 1
	if ok {
		text, ok = evs[0].(*events.TextMessage)
	}
	if !ok || text.Content != "hello" || text.FromUserName != "mycreate" || text.AgentID != 218 {
		t.Errorf("dispatched %v, want the text hello from mycreate to agent 218", evs)
	}
	rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Account: "corp"})
	if err != nil || len(rows) != 1 || rows[0].Kind != "text" {
		t.Errorf("stored %v, %v; want one text of corp", rows, err)
	}
}

// openWeComReply opens a reply sealed in WeCom's envelope.
func openWeComReply(t testing.TB, w *handlers.WeComCrypter, answer string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(answer); err != nil || doc.Root() == nil {
		t.Fatalf("reply %q is not XML: %v", answer, err)
	}
	get := func(n string) string {
		if el := doc.Root().SelectElement(n); el != nil {
			return el.Text()
		}
		return ""
	}
	plain, id, err := w.Open(get("MsgSignature"), get("TimeStamp"), get("Nonce"), get("Encrypt"))
	if err != nil || id != weComSampleCorpID {
		t.Fatalf("opening reply %q: %q, %v (want sealed for %s)", answer, id, errors.Unwrap(err), weComSampleCorpID)
	}
	return string(plain)
}

// TestComponentTicketAcrossReplicas: two replicas share PostgreSQL; tickets
// pushed to either are read, the latest by CreateTime, from both.
func TestComponentTicketAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := recoverDSN(t, models.DriverPostgres)
	platform := func(c *configs.Config) {
		c.APIToken = testAPI
		c.Accounts = []configs.Account{{Name: "platform", Kind: configs.KindOpenPlatform, Token: platformToken, AppID: platformAppID, AESKey: platformKey}}
	}
	a := newReplica(t, models.DriverPostgres, dsn, nil, platform)
	b := newReplica(t, models.DriverPostgres, dsn, nil, platform)
	now := time.Now().Unix()
	for _, p := range []struct {
		to   *testServer
		ct   int64
		body string
	}{{a, now - 600, "on-a"}, {b, now, "on-b"}, {a, now - 1200, "late-on-a"}} {
		w := sealedWire{path: "/wechat/platform", token: platformToken, key: platformKey, id: platformAppID, body: ticketPush(p.ct, p.body)}
		if status, answer := p.to.postSealed(t, w); status != http.StatusOK || answer != "success" {
			t.Fatalf("POST ticket %s = %d %q", p.body, status, answer)
		}
	}
	for i, r := range []*testServer{a, b} {
		status, body := r.api(t, "/v1/accounts/platform/component_verify_ticket", testAPI)
		if status != http.StatusOK || !strings.Contains(string(body), `"ticket":"on-b"`) {
			t.Errorf("replica %d: GET ticket = %d %s, want on-b", i, status, body)
		}
	}
}

// TestPlatformOversizeNotKept: an Open Platform or WeCom push over the size
// limit is 413 and, since its msg_signature (inside the body) was never
// checked, not kept; a wechat account's, signed in its URL, is kept.
func TestPlatformOversizeNotKept(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configs.Config) {
		c.BodyLimit = 512
		c.Accounts = []configs.Account{
			{Name: "platform", Kind: configs.KindOpenPlatform, Token: platformToken, AppID: platformAppID, AESKey: platformKey},
			{Name: "corp", Kind: configs.KindWeCom, Token: weComSampleToken, AESKey: weComSampleKey, ReceiveID: configs.StringList{weComSampleCorpID}},
		}
	})
	big := []byte("<xml><Encrypt>" + strings.Repeat("A", 1024) + "</Encrypt></xml>")
	for _, tc := range []struct {
		path string
		kept int
	}{{"/wechat/platform", 0}, {"/wechat/corp", 0}, {"/wechat/default", 1}} {
		_, before := ts.stored(t)
		stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
		q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}, "msg_signature": {"x"}}
		resp, err := http.Post(ts.URL+tc.path+"?"+q.Encode(), "text/xml", strings.NewReader(string(big)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, after := ts.stored(t)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || after-before != tc.kept {
			t.Errorf("POST %s over the limit = %d, %d kept; want 413, %d kept", tc.path, resp.StatusCode, after-before, tc.kept)
		}
	}
}

// TestAuthorizerInWebhook: the webhook body of a push received for an
// authorizer names it.
func TestAuthorizerInWebhook(t *testing.T) {
	t.Parallel()
	got := make(chan notify.Message, 4)
	sink := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		got <- m
		io.WriteString(w, "success")
	}))
	cfg := platformConfig(t, models.DriverSQLite)
	cfg.Notify.URLs = []string{sink.URL}
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	n := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: quietLogger()})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	srv := newServer(t, handlers.Deps{Config: cfg, Store: store, Mux: events.NewMux(), Logger: quietLogger(), Observers: []handlers.Observer{n}})
	ts := &testServer{Server: httptestServer(t, srv), srv: srv, store: store, cfg: cfg}
	w := sealedWire{path: "/wechat/platform/wxauth1", token: platformToken, key: platformKey, id: platformAppID, body: fixture(t, "text")}
	if status, answer := ts.postSealed(t, w); status != http.StatusOK {
		t.Fatalf("POST = %d %q", status, answer)
	}
	select {
	case m := <-got:
		if m.Account != "platform" || m.AuthorizerAppID != "wxauth1" || m.Kind != "text" {
			t.Errorf("webhook body = %+v, want the text of platform/wxauth1", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook within 10s")
	}
}

// TestAuthorizerPathMatchesPush: the msg_signature of an authorizer's push
// does not cover the route's {authorizer_appid}, so with the freshness
// window off (max_skew 0: no nonce is single-use) a push captured on one
// authorizer's route could be posted again on another's and be stored and
// dispatched as that authorizer's. The push's ToUserName (the authorized
// account's original id) is the authorizer's: once stored for one
// authorizer, it is refused (401, kept as a refused push) on another's
// route, while that route takes its own account's pushes and the first
// route its retries.
func TestAuthorizerPathMatchesPush(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			cfg := platformConfig(t, drv)
			zero := time.Duration(0)
			cfg.WeChat.MaxSkew = &zero
			ts := serveConfig(t, cfg, nil)
			textTo := func(to string) []byte {
				// to is gh_ and a digit: the MsgIds differ too.
				return []byte(`<xml><ToUserName><![CDATA[` + to + `]]></ToUserName><FromUserName><![CDATA[o_user]]></FromUserName>` +
					`<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[pay 100]]></Content><MsgId>` + to[3:] + `77</MsgId></xml>`)
			}
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			at := func(app string, body []byte) sealedWire {
				return sealedWire{path: "/wechat/platform/" + app, token: platformToken, key: platformKey, id: platformAppID,
					body: body, stamp: stamp, nonce: "captured", withURLSignature: true}
			}
			steps := []struct {
				name     string
				w        sealedWire
				status   int
				events   int
				rejected int
			}{
				{"gh_1 on its authorizer's route", at("wxauth_a", textTo("gh_1")), 200, 1, 0},
				{"its retry", at("wxauth_a", textTo("gh_1")), 200, 1, 0},
				{"gh_1 replayed on another authorizer's route", at("wxauth_b", textTo("gh_1")), 401, 1, 1},
				{"gh_2 on that route", at("wxauth_b", textTo("gh_2")), 200, 2, 1},
				{"gh_2 replayed on the first route", at("wxauth_a", textTo("gh_2")), 401, 2, 2},
			}
			for _, s := range steps {
				status, answer := ts.postSealed(t, s.w)
				if status != s.status {
					t.Errorf("%s: POST %s = %d %q, want %d", s.name, s.w.path, status, answer, s.status)
				}
				if ev, rej := ts.stored(t); ev != s.events || rej != s.rejected {
					t.Errorf("%s: stored %d events and %d refused pushes, want %d and %d", s.name, ev, rej, s.events, s.rejected)
				}
			}
		})
	}
}
