package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestUnstorableTextRefused: pushes whose text PostgreSQL cannot hold (a
// NUL character in any header string) are refused 400 and kept, on every
// retry, on both drivers; a refusal whose own text (its Content-Type) is
// not UTF-8 is kept with that text escaped. WeChat is never left retrying.
func TestUnstorableTextRefused(t *testing.T) {
	pushes := map[string]string{
		"FromUserName": `{"ToUserName":"gh_x","FromUserName":"o\u0000x","CreateTime":1700000000,"MsgType":"event","Event":"CLICK","EventKey":"k"}`,
		"ToUserName":   `{"ToUserName":"gh\u0000","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event","Event":"CLICK","EventKey":"k"}`,
		"EventKey":     `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event","Event":"CLICK","EventKey":"\u0000"}`,
		"Event":        `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event","Event":"CL\u0000ICK","EventKey":"k"}`,
		"MsgType":      `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"te\u0000xt","Content":"hi","MsgId":1}`,
		"MsgId":        `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"text","Content":"hi","MsgId":"1\u0000"}`,
	}
	for _, drv := range []string{models.DriverPostgres, models.DriverSQLite} {
		t.Run(drv, func(t *testing.T) {
			cfg := configs.Default()
			cfg.WeChat.Token, cfg.AdminToken = testToken, testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, recoverDSN(t, drv)
			ts := serveConfig(t, cfg, nil)
			refused := 0
			for field, body := range pushes {
				for try := range 2 { // the push, then WeChat's retry
					code, answer := ts.push(t, "application/json", []byte(body))
					if code == http.StatusBadRequest {
						refused++
					}
					if code != http.StatusBadRequest && code != http.StatusOK {
						t.Errorf("push with NUL in %s, try %d = %d %q; want 400 (or stored: 200), never 503", field, try, code, answer)
					}
				}
			}
			if got := len(ts.refusalsKept(t)); got != refused {
				t.Errorf("kept %d refusals of %d refused pushes", got, refused)
			}
			if refused != 2*len(pushes) {
				t.Errorf("refused %d of %d pushes with NUL in a header string", refused, 2*len(pushes))
			}
			req, _ := http.NewRequest("POST", ts.signedURL("ct"), strings.NewReader("not a push"))
			req.Header.Set("Content-Type", "text/xml; x=\xff\xfe")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("junk with a non-UTF-8 Content-Type = %d, want 400", resp.StatusCode)
			}
			kept := ts.refusalsKept(t)
			if len(kept) != refused+1 || kept[0].Raw != "not a push" {
				t.Fatalf("kept %d refusals, newest %+v; want %d, the junk", len(kept), kept[0], refused+1)
			}
		})
	}
}
