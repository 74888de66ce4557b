package pushgate_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
)

// TestDevPanelSendsInEveryMode checks that the inspector's development
// panel sends a sample push the default account takes, whatever its
// safe-mode policy: sealed in safe mode, where a plaintext one is refused.
func TestDevPanelSendsInEveryMode(t *testing.T) {
	t.Parallel()
	const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	tests := []struct {
		name   string
		mutate func(*configs.Config)
	}{
		{"plain", func(*configs.Config) {}},
		{"compat", func(c *configs.Config) { c.WeChat.AESKey, c.WeChat.Mode = aesKey, configs.ModeCompat }},
		{"safe", func(c *configs.Config) { c.WeChat.AESKey, c.WeChat.AppID = aesKey, "wxdevpanel" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			tt.mutate(cfg)
			svc, err := pushgate.New(cfg, events.NewMux(), quiet(), pushgate.WithDev())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); svc.Close() }()
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(svc.Handler())
			defer ts.Close()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			resp, err := c.PostForm(ts.URL+"/ui/login", url.Values{"token": {cfg.AdminToken}})
			if err != nil {
				t.Fatal(err)
			}
			page := new(strings.Builder)
			_, _ = io.Copy(page, resp.Body)
			resp.Body.Close()
			m := regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`).FindStringSubmatch(page.String())
			if m == nil {
				t.Fatalf("after login: no CSRF token in %.300s", page.String())
			}
			req, _ := http.NewRequest("POST", ts.URL+"/ui/api/send", strings.NewReader(`{"name":"event.CLICK"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", m[1])
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Status int    `json:"status"`
				Answer string `json:"answer"`
			}
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || got.Status != 200 {
				t.Errorf("POST /ui/api/send event.CLICK = %d %+v (%v), want the push answered 200", resp.StatusCode, got, err)
			}
		})
	}
}
