package configs_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
)

// env turns a map into a getenv function.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a temporary YAML file and returns its path.
func writeFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pushgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
addr: "10.0.0.1:7000"
log_level: warn
db: {dsn: file.db, retention: 48h}
wechat: {token: file-token, aes_key: file-key}
notify: {schedule: [1m, 5m]}
`)
	getenv := env(map[string]string{
		"PUSHGATE_DB_DSN":         "env.db",
		"PUSHGATE_LOG_LEVEL":      "error",
		"PUSHGATE_WECHAT_TOKEN":   "env-token",
		"PUSHGATE_WECHAT_AES_KEY": strings.Repeat("k", 43),
		"PUSHGATE_BODY_LIMIT":     "2048",
	})
	args := []string{"--config", path, "--log-level=debug", "-wechat-token", "flag-token", "--wechat-aes-key="}
	c, err := configs.Load(args, getenv)
	if err != nil {
		t.Fatalf("Load(%q) = %v", args, err)
	}
	tests := []struct {
		setting string
		got     any
		want    any
	}{
		{"addr (file)", c.Addr, "10.0.0.1:7000"},
		{"public url (derived from file's addr)", c.PublicURL, "http://10.0.0.1:7000"},
		{"db retention (file)", c.DB.Retention, 48 * time.Hour},
		{"notify schedule (file)", c.Notify.Schedule, []time.Duration{time.Minute, 5 * time.Minute}},
		{"db dsn (env over file)", c.DB.DSN, "env.db"},
		{"body limit (env over default)", c.BodyLimit, int64(2048)},
		{"log level (flag over env over file)", c.LogLevel, "debug"},
		{"wechat token (flag over env over file)", c.WeChat.Token, "flag-token"},
		{"wechat aes key (empty flag over env)", c.WeChat.AESKey, ""},
		{"db driver (default)", c.DB.Driver, "sqlite"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("Load: %s mismatch (-want +got):\n%s", tt.setting, diff)
		}
	}
}

func TestApplyEnvParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want func(*configs.Config)
	}{
		{
			name: "sync targets",
			env:  map[string]string{"PUSHGATE_SYNC_TARGETS": " 42=http://h/p?a=b , 43=http://h/q,"},
			want: func(c *configs.Config) {
				c.Sync.Targets = map[string]string{"42": "http://h/p?a=b", "43": "http://h/q"}
			},
		},
		{
			name: "notify schedule",
			env:  map[string]string{"PUSHGATE_NOTIFY_SCHEDULE": "30s, 1m30s,2h"},
			want: func(c *configs.Config) {
				c.Notify.Schedule = []time.Duration{30 * time.Second, 90 * time.Second, 2 * time.Hour}
			},
		},
		{
			name: "notify urls",
			env:  map[string]string{"PUSHGATE_NOTIFY_URLS": "http://a/x, ,https://b/y"},
			want: func(c *configs.Config) { c.Notify.URLs = []string{"http://a/x", "https://b/y"} },
		},
		{
			name: "per-api validity",
			env:  map[string]string{"PUSHGATE_RESULT_PER_API": "getUserInfo=2h,send=90s"},
			want: func(c *configs.Config) {
				c.Results.PerAPI = map[string]time.Duration{"getUserInfo": 2 * time.Hour, "send": 90 * time.Second}
			},
		},
		{
			name: "scalars",
			env: map[string]string{
				"PUSHGATE_REPLY_BUDGET": "3s", "PUSHGATE_NOTIFY_POOL_CORE": "4",
				"PUSHGATE_WECHAT_APPID": "wx123", "PUSHGATE_NOTIFY_SECRET": "whsec_AQ==",
			},
			want: func(c *configs.Config) {
				c.ReplyBudget, c.Notify.PoolCore, c.WeChat.AppID, c.Notify.Secret = 3*time.Second, 4, "wx123", "whsec_AQ=="
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, want := configs.Default(), configs.Default()
			tt.want(want)
			if err := configs.ApplyEnv(got, env(tt.env)); err != nil {
				t.Fatalf("ApplyEnv(%v) = %v", tt.env, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ApplyEnv(%v) mismatch (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}

func TestApplyEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"PUSHGATE_RETENTION": "3 days"}, []string{`db retention: "3 days" is not a duration like 90s or 2h (config db.retention, env PUSHGATE_RETENTION)`}},
		{map[string]string{"PUSHGATE_REPLY_BUDGET": "4"}, []string{"PUSHGATE_REPLY_BUDGET"}},
		{map[string]string{"PUSHGATE_BODY_LIMIT": "1MB"}, []string{`body limit: "1MB" is not an integer (config body_limit, env PUSHGATE_BODY_LIMIT)`}},
		{map[string]string{"PUSHGATE_NOTIFY_POOL_MAX": "many"}, []string{"PUSHGATE_NOTIFY_POOL_MAX"}},
		{map[string]string{"PUSHGATE_SYNC_TARGETS": "42"}, []string{`sync targets: "42" is not key=value (config sync.targets, env PUSHGATE_SYNC_TARGETS)`}},
		{map[string]string{"PUSHGATE_SYNC_TARGETS": "42=http://a,42=http://b"}, []string{`key "42" is given twice`}},
		{map[string]string{"PUSHGATE_NOTIFY_SCHEDULE": "2m,soon"}, []string{`"soon" is not a duration`, "PUSHGATE_NOTIFY_SCHEDULE"}},
		{map[string]string{"PUSHGATE_NOTIFY_SCHEDULE": " , "}, []string{"notify schedule: lists no duration (config notify.schedule, env PUSHGATE_NOTIFY_SCHEDULE)"}},
		{map[string]string{"PUSHGATE_RESULT_PER_API": "send=later"}, []string{"send:", "PUSHGATE_RESULT_PER_API"}},
		{ // every bad variable is reported at once
			map[string]string{"PUSHGATE_RETENTION": "x", "PUSHGATE_SHUTDOWN_TIMEOUT": "y"},
			[]string{"PUSHGATE_RETENTION", "PUSHGATE_SHUTDOWN_TIMEOUT"},
		},
	}
	for _, tt := range tests {
		err := configs.ApplyEnv(configs.Default(), env(tt.env))
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("ApplyEnv(%v) = %v, want an error containing %q", tt.env, err, w)
			}
		}
		// Load reports the same error, naming the variable.
		if _, lerr := configs.Load(nil, env(tt.env)); lerr == nil || !strings.Contains(lerr.Error(), tt.want[0]) {
			t.Errorf("Load(nil, %v) = %v, want an error containing %q", tt.env, lerr, tt.want[0])
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown top-level key", "addr: \":80\"\nlisten: \":80\"\n", "field listen not found"},
		{"unknown nested key", "notify:\n  retries: 3\n", "field retries not found"},
		{"unknown subscriber key", "notify:\n  subscribers:\n    - url: http://a\n      secrett: x\n", "field secrett not found"},
		{"number as duration", "reply_budget: 4\n", "time.Duration"},
		{"bad duration", "db:\n  retention: forever\n", "forever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.yaml)
			err := configs.LoadFile(path, &configs.Config{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadFile(%q) = %v, want an error naming the file and containing %q", tt.yaml, err, tt.want)
			}
		})
	}
	if err := configs.LoadFile(filepath.Join(t.TempDir(), "missing.yaml"), &configs.Config{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want os.ErrNotExist", err)
	}
	c := configs.Default()
	if err := configs.LoadFile(writeFile(t, "# only a comment\n"), c); err != nil {
		t.Errorf("LoadFile(comment only) = %v, want nil", err)
	}
	if diff := cmp.Diff(configs.Default(), c); diff != "" {
		t.Errorf("LoadFile(comment only) changed the config (-want +got):\n%s", diff)
	}
}

func TestLoadArgs(t *testing.T) {
	t.Parallel()
	token := env(map[string]string{"PUSHGATE_WECHAT_TOKEN": "t"})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--body-limit", "big"}, `body limit: "big" is not an integer (--body-limit)`},
		{[]string{"--retention", "1y"}, "(--retention)"},
		{[]string{"--notify-schedule", "1m,x"}, "(--notify-schedule)"},
		{[]string{"--config", "/nonexistent/pushgate.yaml"}, "config file"},
		{[]string{"--db-driver", "mysql"}, `db driver must be sqlite or postgres, got "mysql" (config db.driver, env PUSHGATE_DB_DRIVER)`},
	}
	for _, tt := range tests {
		c, err := configs.Load(tt.args, token)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
		if c != nil {
			t.Errorf("Load(%q) returned a config with its error", tt.args)
		}
	}
	if _, err := configs.Load([]string{"--help"}, token); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Load(--help) = %v, want flag.ErrHelp", err)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	configs.Usage(&b)
	for _, w := range []string{"-config file", "-wechat-token", "PUSHGATE_WECHAT_TOKEN", "PUSHGATE_NOTIFY_FETCH_SIZE"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("Usage() does not mention %q:\n%s", w, b.String())
		}
	}
}
