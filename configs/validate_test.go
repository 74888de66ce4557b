package configs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
)

func TestValidateRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*configs.Config)
		want   string // "" means valid
	}{
		{"token required", func(c *configs.Config) { c.WeChat.Token = "" }, "wechat token is required (config wechat.token, env PUSHGATE_WECHAT_TOKEN)"},
		{"driver postgres", func(c *configs.Config) { c.DB.Driver = "postgres" }, ""},
		{"driver unknown", func(c *configs.Config) { c.DB.Driver = "mysql" }, `db driver must be sqlite or postgres, got "mysql" (config db.driver, env PUSHGATE_DB_DRIVER)`},
		{"dsn empty", func(c *configs.Config) { c.DB.DSN = "" }, "db dsn is required (config db.dsn, env PUSHGATE_DB_DSN)"},
		{"addr no port", func(c *configs.Config) { c.Addr = "localhost" }, `addr must be host:port, got "localhost" (config addr, env PUSHGATE_ADDR)`},
		{"addr empty port", func(c *configs.Config) { c.Addr = "localhost:" }, "(config addr, env PUSHGATE_ADDR)"},
		{"addr any host", func(c *configs.Config) { c.Addr = ":8080" }, ""},
		{"public url scheme", func(c *configs.Config) { c.PublicURL = "ftp://h" }, `public url must be an http or https URL, got "ftp://h" (config public_url, env PUSHGATE_PUBLIC_URL)`},
		{"public url relative", func(c *configs.Config) { c.PublicURL = "/hook" }, "(config public_url, env PUSHGATE_PUBLIC_URL)"},
		{"public url https", func(c *configs.Config) { c.PublicURL = "https://push.example.com/base" }, ""},
		{"body limit zero", func(c *configs.Config) { c.BodyLimit = 0 }, "body limit must be between 1 and 67108864 bytes (64 MiB), got 0 (config body_limit, env PUSHGATE_BODY_LIMIT)"},
		{"body limit max", func(c *configs.Config) { c.BodyLimit = 64 << 20 }, ""},
		{"body limit over", func(c *configs.Config) { c.BodyLimit = 64<<20 + 1 }, "(config body_limit, env PUSHGATE_BODY_LIMIT)"},
		{"aes key ok", func(c *configs.Config) { c.WeChat.AESKey = strings.Repeat("aB3+/", 8) + "xyz" }, ""},
		{"aes key short", func(c *configs.Config) { c.WeChat.AESKey = "abc" }, "wechat aes key must be exactly 43 characters of A-Z, a-z, 0-9, + and / (got 3 characters) (config wechat.aes_key, env PUSHGATE_WECHAT_AES_KEY)"},
		{"aes key alphabet", func(c *configs.Config) { c.WeChat.AESKey = strings.Repeat("a", 42) + "=" }, "(config wechat.aes_key, env PUSHGATE_WECHAT_AES_KEY)"},
		{"admin token short", func(c *configs.Config) { c.AdminToken = "short" }, "admin token must be at least 8 characters, got 5 (config admin_token, env PUSHGATE_ADMIN_TOKEN)"},
		{"api token short", func(c *configs.Config) { c.APIToken = "1234567" }, "api token must be at least 8 characters, got 7 (config api_token, env PUSHGATE_API_TOKEN)"},
		{"tokens ok", func(c *configs.Config) { c.AdminToken, c.APIToken = "12345678", "abcdefgh" }, ""},
		{"sync conv_id", func(c *configs.Config) { c.Sync.Targets = map[string]string{"abc": "http://h/p"} }, `sync targets conv_id "abc" must be a number (config sync.targets, env PUSHGATE_SYNC_TARGETS)`},
		{"sync url", func(c *configs.Config) { c.Sync.Targets = map[string]string{"42": "h/p"} }, `sync targets conv_id 42: must be an http or https URL, got "h/p" (config sync.targets, env PUSHGATE_SYNC_TARGETS)`},
		{"sync default over max", func(c *configs.Config) { c.Sync.DefaultTimeout = time.Hour }, "(config sync.default_timeout, env PUSHGATE_SYNC_DEFAULT_TIMEOUT)"},
		{"sync max timeout", func(c *configs.Config) { c.Sync.MaxTimeout = -1 }, "sync max timeout must be positive, got -1ns (config sync.max_timeout, env PUSHGATE_SYNC_MAX_TIMEOUT)"},
		{"notify url", func(c *configs.Config) { c.Notify.URLs = []string{"http://ok/x", "mailto:a@b"} }, `notify urls must be http or https URLs, got "mailto:a@b" (config notify.urls, env PUSHGATE_NOTIFY_URLS)`},
		{"notify secret prefix", func(c *configs.Config) { c.Notify.Secret = "c2VjcmV0" }, `notify secret must be "whsec_" followed by base64 of at least one byte (config notify.secret, env PUSHGATE_NOTIFY_SECRET)`},
		{"notify secret base64", func(c *configs.Config) { c.Notify.Secret = "whsec_!!" }, "(config notify.secret, env PUSHGATE_NOTIFY_SECRET)"},
		{"notify secret empty key", func(c *configs.Config) { c.Notify.Secret = "whsec_" }, "(config notify.secret, env PUSHGATE_NOTIFY_SECRET)"},
		{"notify secret ok", func(c *configs.Config) { c.Notify.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, ""},
		{"schedule empty", func(c *configs.Config) { c.Notify.Schedule = nil }, "notify schedule must list at least one delay (config notify.schedule, env PUSHGATE_NOTIFY_SCHEDULE)"},
		{"schedule zero", func(c *configs.Config) { c.Notify.Schedule[2] = 0 }, "notify schedule entry 3 must be positive, got 0s (config notify.schedule, env PUSHGATE_NOTIFY_SCHEDULE)"},
		{"pool core", func(c *configs.Config) { c.Notify.PoolCore = 0 }, "notify pool core must be at least 1, got 0 (config notify.pool_core, env PUSHGATE_NOTIFY_POOL_CORE)"},
		{"pool max", func(c *configs.Config) { c.Notify.PoolMax = 5 }, "notify pool max must be at least notify pool core (10), got 5 (config notify.pool_max, env PUSHGATE_NOTIFY_POOL_MAX)"},
		{"queue zero ok", func(c *configs.Config) { c.Notify.QueueSize = 0 }, ""},
		{"queue negative", func(c *configs.Config) { c.Notify.QueueSize = -1 }, "notify queue size must not be negative, got -1 (config notify.queue_size, env PUSHGATE_NOTIFY_QUEUE_SIZE)"},
		{"fetch size", func(c *configs.Config) { c.Notify.FetchSize = 0 }, "(config notify.fetch_size, env PUSHGATE_NOTIFY_FETCH_SIZE)"},
		{"reply budget", func(c *configs.Config) { c.ReplyBudget = 0 }, "reply budget must be positive, got 0s (config reply_budget, env PUSHGATE_REPLY_BUDGET)"},
		{"reply budget too long", func(c *configs.Config) { c.ReplyBudget = time.Minute }, "reply budget must be at most 30s, got 1m0s (config reply_budget, env PUSHGATE_REPLY_BUDGET)"},
		{"reply budget at most", func(c *configs.Config) { c.ReplyBudget = configs.MaxReplyBudget }, ""},
		{"shutdown timeout", func(c *configs.Config) { c.ShutdownTimeout = 0 }, "(config shutdown_timeout, env PUSHGATE_SHUTDOWN_TIMEOUT)"},
		{"result validity", func(c *configs.Config) { c.Results.Validity = 0 }, "(config results.validity, env PUSHGATE_RESULT_VALIDITY)"},
		{"result max wait", func(c *configs.Config) { c.Results.MaxWait = 0 }, "(config results.max_wait, env PUSHGATE_RESULT_MAX_WAIT)"},
		{"per api", func(c *configs.Config) { c.Results.PerAPI = map[string]time.Duration{"send": 0} }, `result per-api validity entry "send"=0s needs an api name and a positive duration (config results.per_api, env PUSHGATE_RESULT_PER_API)`},
		{"connect timeout", func(c *configs.Config) { c.Notify.ConnectTimeout = 0 }, "(config notify.connect_timeout, env PUSHGATE_NOTIFY_CONNECT_TIMEOUT)"},
		{"read timeout", func(c *configs.Config) { c.Notify.ReadTimeout = 0 }, "(config notify.read_timeout, env PUSHGATE_NOTIFY_READ_TIMEOUT)"},
		{"scan period", func(c *configs.Config) { c.Notify.ScanPeriod = 0 }, "(config notify.scan_period, env PUSHGATE_NOTIFY_SCAN_PERIOD)"},
		{"retention", func(c *configs.Config) { c.DB.Retention = 59 * time.Minute }, "db retention must be at least 1h, got 59m0s (config db.retention, env PUSHGATE_RETENTION)"},
		{"retention 1h", func(c *configs.Config) { c.DB.Retention = time.Hour }, ""},
		{"refused rate", func(c *configs.Config) { c.Refused.Rate = -1 }, "refused rate must be positive, got -1 (config refused.rate, env PUSHGATE_REFUSED_RATE)"},
		{"refused burst", func(c *configs.Config) { c.Refused.Burst = 0 }, "refused burst must be positive, got 0 (config refused.burst, env PUSHGATE_REFUSED_BURST)"},
		{"log level", func(c *configs.Config) { c.LogLevel = "verbose" }, `log level must be one of debug, info, warn, error, got "verbose" (config log_level, env PUSHGATE_LOG_LEVEL)`},
		{"subscriber url", func(c *configs.Config) { c.Notify.Subscribers = []configs.Subscriber{{URL: "nope"}} }, `notify subscriber 1: url must be an http or https URL, got "nope" (notify.subscribers in the config file)`},
		{"subscriber secret", func(c *configs.Config) {
			c.Notify.Subscribers = []configs.Subscriber{{URL: "http://a"}, {URL: "http://b", Secret: "plain"}}
		}, "notify subscriber 2: secret must be"},
		{"subscriber timeout", func(c *configs.Config) {
			c.Notify.Subscribers = []configs.Subscriber{{URL: "http://a", ReadTimeout: -time.Second}}
		}, "notify subscriber 1: timeouts must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.mutate(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			case tt.want != "" && strings.Count(err.Error(), "\n") != 0:
				t.Errorf("Validate() = %v, want exactly one problem", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := valid()
	c.WeChat.Token = ""
	c.WeChat.AESKey = "short"
	c.DB.Driver = "oracle"
	c.BodyLimit = -1
	c.Notify.PoolCore = 0
	c.Sync.Targets = map[string]string{"x": "ftp://h", "7": "http://ok"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want every problem")
	}
	wantEnvs := []string{
		"PUSHGATE_WECHAT_TOKEN", "PUSHGATE_WECHAT_AES_KEY", "PUSHGATE_DB_DRIVER",
		"PUSHGATE_BODY_LIMIT", "PUSHGATE_NOTIFY_POOL_CORE",
	}
	lines := strings.Split(err.Error(), "\n")
	for _, env := range wantEnvs {
		if !strings.Contains(err.Error(), ", env "+env+")") {
			t.Errorf("Validate() = %v, want a problem naming %s", err, env)
		}
	}
	if got, want := len(lines), len(wantEnvs)+2; got != want { // +2: conv_id and URL of target x
		t.Errorf("Validate() reported %d problems, want %d:\n%v", got, want, err)
	}
	if u, ok := err.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != len(lines) {
		t.Errorf("Validate() error is not an errors.Join of each problem: %#v", err)
	}
	if strings.Contains(err.Error(), "short") {
		t.Errorf("Validate() = %v, repeats a secret's value", err)
	}
}

func TestLoadValidates(t *testing.T) {
	t.Parallel()
	_, err := configs.Load([]string{"--admin-token", "abc"}, env(map[string]string{"PUSHGATE_DB_DRIVER": "mysql"}))
	for _, w := range []string{"PUSHGATE_WECHAT_TOKEN", "PUSHGATE_DB_DRIVER", "PUSHGATE_ADMIN_TOKEN"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Load() = %v, want a problem naming %s", err, w)
		}
	}
}
