package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

const otherAESKey = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"

// wire is one push as a sender puts it on the wire.
type wire struct {
	path  string // "/wechat" or "/wechat/NAME"
	token string // signs the URL (and msg_signature)
	body  []byte
	// key seals body when set (safe mode), with appID inside.
	key, appID string
	// encryptType overrides the encrypt_type parameter ("-" leaves it out).
	encryptType string
	stamp       string // "" = now, "none" = empty
	nonce       string // "" = a fresh one
}

var nonces atomic.Int64

// post sends w over real HTTP and returns the status and answer.
func (ts *testServer) post(t testing.TB, w wire) (int, string) {
	t.Helper()
	stamp, nonce := w.stamp, w.nonce
	switch stamp {
	case "":
		stamp = strconv.FormatInt(time.Now().Unix(), 10)
	case "none":
		stamp = ""
	}
	if nonce == "" {
		nonce = freshNonce()
	}
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(w.token, stamp, nonce)}}
	body := w.body
	if w.key != "" {
		c, err := handlers.NewCrypter(w.token, w.key, w.appID)
		if err != nil {
			t.Fatal(err)
		}
		var enc string
		body, enc = c.SealPush(w.body, "gh_test")
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", handlers.MsgSignature(w.token, stamp, nonce, enc))
	}
	switch w.encryptType {
	case "":
	case "-":
		q.Del("encrypt_type")
	default:
		q.Set("encrypt_type", w.encryptType)
	}
	resp, err := http.Post(ts.URL+w.path+"?"+q.Encode(), "text/xml", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stored counts the stored events and rejected pushes.
func (ts *testServer) stored(t testing.TB) (events, rejected int) {
	t.Helper()
	rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	rej, _, err := ts.store.ListRejected(context.Background(), 500, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(rows), len(rej)
}

// clickN is a distinct CLICK push per n.
func clickN(n int) []byte {
	return []byte(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>` +
		`<CreateTime>` + strconv.FormatInt(time.Now().Unix(), 10) + `</CreateTime><MsgType><![CDATA[event]]></MsgType>` +
		`<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[K` + strconv.Itoa(n) + `]]></EventKey></xml>`)
}

// TestSafeModePolicy: per account, safe accepts sealed pushes only (a
// plaintext one is 401 and not stored, whatever encrypt_type says), compat
// takes both, plain refuses sealed ones; /healthz lists each mode.
func TestSafeModePolicy(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil, func(c *configs.Config) {
				c.WeChat.AESKey, c.WeChat.AppID = testAESKey, "wx_app" // default: safe
				c.Accounts = []configs.Account{
					{Name: "mixed", Token: "mixed-token", AESKey: otherAESKey, Mode: "compat"},
					{Name: "open", Token: "open-token"},
				}
			})
			n := 0
			cases := []struct {
				name   string
				w      wire
				status int
				answer string
				stored bool // as an event
			}{
				{"safe: sealed", wire{path: "/wechat", token: testToken, key: testAESKey, appID: "wx_app"}, 200, "success", true},
				{"safe: plaintext", wire{path: "/wechat", token: testToken}, 401, "safe mode", false},
				{"safe: plaintext, encrypt_type=aes", wire{path: "/wechat", token: testToken, encryptType: "aes"}, 401, "safe mode", false},
				{"safe: plaintext, encrypt_type=AES", wire{path: "/wechat/default", token: testToken, encryptType: "AES"}, 401, "safe mode", false},
				{"safe: sealed, encrypt_type dropped", wire{path: "/wechat", token: testToken, key: testAESKey, appID: "wx_app", encryptType: "-"}, 200, "success", true},
				{"compat: plaintext", wire{path: "/wechat/mixed", token: "mixed-token"}, 200, "success", true},
				{"compat: sealed", wire{path: "/wechat/mixed", token: "mixed-token", key: otherAESKey}, 200, "success", true},
				{"plain: plaintext", wire{path: "/wechat/open", token: "open-token"}, 200, "success", true},
				{"plain: sealed", wire{path: "/wechat/open", token: "open-token", key: otherAESKey}, 400, "no EncodingAESKey", false},
			}
			wantEvents, wantRejected := 0, 0
			for _, c := range cases {
				n++
				c.w.body = clickN(n)
				status, answer := ts.post(t, c.w)
				if status != c.status || !strings.Contains(answer, c.answer) {
					t.Errorf("%s: POST = %d %q, want %d containing %q", c.name, status, answer, c.status, c.answer)
				}
				if c.stored {
					wantEvents++
				} else if c.status == 400 {
					wantRejected++
				}
				if ev, rej := ts.stored(t); ev != wantEvents || rej != wantRejected {
					t.Errorf("%s: after it %d events and %d rejected pushes are stored, want %d and %d", c.name, ev, rej, wantEvents, wantRejected)
				}
			}
			resp, err := http.Get(ts.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var health struct {
				Accounts []handlers.AccountInfo `json:"accounts"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
				t.Fatal(err)
			}
			want := []handlers.AccountInfo{
				{Name: "default", Kind: "wechat", Mode: "safe", Path: "/wechat/default"},
				{Name: "mixed", Kind: "wechat", Mode: "compat", Path: "/wechat/mixed"},
				{Name: "open", Kind: "wechat", Mode: "plain", Path: "/wechat/open"},
			}
			if diff := cmp.Diff(want, health.Accounts); diff != "" {
				t.Errorf("/healthz accounts (-want +got):\n%s", diff)
			}
		})
	}
}
