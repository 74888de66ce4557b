package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestKeyRotation: with previous_token and previous_aes_key set, a push
// that verifies or opens only with the previous value is accepted and
// counted in pushgate_wechat_previous_key_total; other values are refused.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	const oldToken = "old-wechat-token"
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil, func(c *configs.Config) {
				c.WeChat.AESKey, c.WeChat.PreviousAESKey, c.WeChat.PreviousToken = testAESKey, otherAESKey, oldToken
				c.WeChat.Mode = configs.ModeCompat
				c.Accounts = []configs.Account{{Name: "shop", Token: "shop-token", PreviousToken: "shop-old"}}
			})
			steps := []struct {
				name   string
				w      wire
				status int
			}{
				{"current token", wire{path: "/wechat", token: testToken}, 200},
				{"previous token", wire{path: "/wechat", token: oldToken}, 200},
				{"current token and key", wire{path: "/wechat", token: testToken, key: testAESKey}, 200},
				{"current token, previous key", wire{path: "/wechat", token: testToken, key: otherAESKey}, 200},
				{"previous token and key", wire{path: "/wechat", token: oldToken, key: otherAESKey}, 200},
				{"unknown token", wire{path: "/wechat", token: "someone-else"}, 401},
				{"another account's previous token", wire{path: "/wechat", token: "shop-old"}, 401},
				{"shop: previous token", wire{path: "/wechat/shop", token: "shop-old"}, 200},
			}
			for i, s := range steps {
				s.w.body = clickN(i)
				if status, answer := ts.post(t, s.w); status != s.status {
					t.Errorf("%s: POST = %d %q, want %d", s.name, status, answer, s.status)
				}
			}
			if ev, _ := ts.stored(t); ev != 6 {
				t.Errorf("%d events stored, want 6", ev)
			}
			resp, err := http.Get(ts.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			for _, want := range []string{
				`pushgate_wechat_previous_key_total{account="default"} 3`,
				`pushgate_wechat_previous_key_total{account="shop"} 1`,
			} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %q:\n%s", want, body)
				}
			}
		})
	}
}
