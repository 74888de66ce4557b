package configs_test

import (
	"fmt"

	"github.com/pushgate/pushgate/configs"
)

// Load reads flags over the environment over the defaults. Passing the
// environment as a function keeps tests free of os.Setenv.
func ExampleLoad() {
	environ := map[string]string{
		"PUSHGATE_WECHAT_TOKEN":    "s3cret",
		"PUSHGATE_ADDR":            "0.0.0.0:9000",
		"PUSHGATE_DB_DRIVER":       "sqlite",
		"PUSHGATE_SYNC_TARGETS":    "42=http://worker:8000/process",
		"PUSHGATE_NOTIFY_SCHEDULE": "1m,5m",
	}
	getenv := func(key string) string { return environ[key] }

	c, err := configs.Load([]string{"--db-driver", "postgres", "--db-dsn", "postgres://db/pushgate"}, getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Addr, c.PublicURL)
	fmt.Println(c.DB.Driver, c.DB.DSN)
	fmt.Println(c.Sync.Targets["42"], c.Notify.Schedule, c.ReplyBudget)

	_, err = configs.Load(nil, func(string) string { return "" })
	fmt.Println(err)
	// Output:
	// 0.0.0.0:9000 http://localhost:9000
	// postgres postgres://db/pushgate
	// http://worker:8000/process [1m0s 5m0s] 4s
	// wechat token is required (config wechat.token, env PUSHGATE_WECHAT_TOKEN)
}

// Open Platform and WeCom accounts: kind says how their pushes arrive;
// both are always in safe mode and need an aes_key.
func ExampleAccount_ResolvedKind() {
	c := configs.Default()
	c.Accounts = []configs.Account{
		{Name: "shop", Token: "t1"},
		{Name: "platform", Kind: configs.KindOpenPlatform, Token: "t2", AppID: "wx_component",
			AESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
		{Name: "corp", Kind: configs.KindWeCom, Token: "t3", ReceiveID: configs.StringList{"ww_corp"}},
	}
	for _, a := range c.WeChatAccounts() {
		fmt.Println(a.Name, a.ResolvedKind(), a.Mode)
	}
	fmt.Println(c.Validate())
	// Output:
	// shop wechat plain
	// platform open_platform safe
	// corp wecom safe
	// account 3 ("corp"): kind wecom needs an aes_key: its pushes are always encrypted (accounts in the config file)
}

// LoadFilling fills what nothing set, before the validation: here a
// development admin token, while the WeChat token of the environment stays.
func ExampleLoadFilling() {
	getenv := func(key string) string {
		return map[string]string{"PUSHGATE_WECHAT_TOKEN": "s3cret-token"}[key]
	}
	c, err := configs.LoadFilling(nil, getenv, func(c *configs.Config) {
		if c.WeChat.Token == "" {
			c.WeChat.Token = "generated-wechat"
		}
		if c.AdminToken == "" {
			c.AdminToken = "generated-admin"
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.WeChat.Token, c.AdminToken)
	// Output:
	// s3cret-token generated-admin
}
