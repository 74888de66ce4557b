package configs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
)

const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// TestAccountsFromFileAndEnv: the wechat settings (and PUSHGATE_WECHAT_*)
// are the account default; the file's accounts list adds more; modes
// default to safe with a key, else plain.
func TestAccountsFromFileAndEnv(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
wechat:
  max_skew: "2m"
accounts:
  - name: shop
    token: shop-token
    app_id: wx_shop
    aes_key: "`+aesKey+`"
    previous_aes_key: "`+strings.Repeat("B", 43)+`"
  - name: blog
    token: blog-token
    mode: plain
    previous_token: old-blog-token
`)
	env := map[string]string{"PUSHGATE_WECHAT_TOKEN": "default-token", "PUSHGATE_WECHAT_MODE": "plain"}
	c, err := configs.Load([]string{"--config", path}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []configs.Account{
		{Name: "default", Token: "default-token", Mode: "plain"},
		{Name: "shop", Token: "shop-token", AppID: "wx_shop", AESKey: aesKey, Mode: "safe", PreviousAESKey: strings.Repeat("B", 43)},
		{Name: "blog", Token: "blog-token", Mode: "plain", PreviousToken: "old-blog-token"},
	}
	if diff := cmp.Diff(want, c.WeChatAccounts()); diff != "" {
		t.Errorf("WeChatAccounts() mismatch (-want +got):\n%s", diff)
	}
	if got := c.MaxSkewOrDefault(); got != 2*time.Minute {
		t.Errorf("MaxSkewOrDefault() = %s, want 2m", got)
	}
	if a, ok := c.Account("blog"); !ok || a.PreviousToken != "old-blog-token" {
		t.Errorf("Account(blog) = %+v, %v", a, ok)
	}
	if _, ok := c.Account("nope"); ok {
		t.Error("Account(nope) found an account")
	}
}

func TestMaxSkewZeroTurnsOff(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "0s"} {
		env := map[string]string{"PUSHGATE_WECHAT_TOKEN": "tok", "PUSHGATE_WECHAT_MAX_SKEW": v}
		c, err := configs.Load(nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if got := c.MaxSkewOrDefault(); got != 0 {
			t.Errorf("PUSHGATE_WECHAT_MAX_SKEW=%s: MaxSkewOrDefault() = %s, want 0 (off)", v, got)
		}
	}
}

func TestValidateAccounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tune func(c *configs.Config)
		want string // "" = valid
	}{
		{"accounts without default", func(c *configs.Config) {
			c.WeChat.Token = ""
			c.Accounts = []configs.Account{{Name: "shop", Token: "t"}}
		}, ""},
		{"bad name", func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "Shop/1", Token: "t"}} }, `account 1 ("Shop/1"): name must be`},
		{"twice", func(c *configs.Config) {
			c.Accounts = []configs.Account{{Name: "a", Token: "t"}, {Name: "a", Token: "t"}}
		}, `account 2 ("a"): name is given twice`},
		{"default twice", func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "default", Token: "t"}} }, "the account default is the wechat settings"},
		{"no token", func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "a"}} }, "token is required"},
		{"bad mode", func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "a", Token: "t", Mode: "SAFE"}} }, `mode must be plain, compat or safe, got "SAFE"`},
		{"safe without key", func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "a", Token: "t", Mode: "safe"}} }, "mode safe needs an aes_key"},
		{"bad previous key", func(c *configs.Config) {
			c.Accounts = []configs.Account{{Name: "a", Token: "t", PreviousAESKey: "x"}}
		}, "previous_aes_key must be exactly 43 characters"},
		{"default mode", func(c *configs.Config) { c.WeChat.Mode = "secure" }, `wechat mode must be plain, compat or safe, got "secure" (config wechat.mode, env PUSHGATE_WECHAT_MODE)`},
		{"default compat without key", func(c *configs.Config) { c.WeChat.Mode = "compat" }, "compat needs an EncodingAESKey"},
		{"negative skew", func(c *configs.Config) { d := -time.Second; c.WeChat.MaxSkew = &d }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.tune(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
