package configs_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pushgate/pushgate/configs"
)

// want is Default() spelled out: the defaults of the settings table.
func want() *configs.Config {
	c := &configs.Config{
		Addr:            "127.0.0.1:8080",
		PublicURL:       "http://127.0.0.1:8080",
		BodyLimit:       1 << 20,
		ReplyBudget:     4 * time.Second,
		StoreWait:       3 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        "info",
		DB:              configs.DB{Driver: "sqlite", DSN: "pushgate.db", Retention: 30 * 24 * time.Hour},
		HTTP:            configs.HTTP{MaxHeaderBytes: 16 << 10, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
		Refused:         configs.Refused{BodyCap: 64 << 10, Retention: 7 * 24 * time.Hour, TotalCap: 1 << 30, Rate: 10, Burst: 50},
		Results:         configs.Results{Validity: 24 * time.Hour, MaxWait: 300 * time.Second},
		Sync:            configs.Sync{DefaultTimeout: 60 * time.Second, MaxTimeout: 300 * time.Second},
	}
	skew := 5 * time.Minute
	c.WeChat.MaxSkew = &skew
	c.Notify = configs.Notify{
		Schedule: []time.Duration{
			2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
			6 * time.Hour, 6 * time.Hour, 10 * time.Hour, 15 * time.Hour, 15 * time.Hour,
		},
		ConnectTimeout: 10 * time.Second,
		ReadTimeout:    10 * time.Second,
		PoolCore:       10,
		PoolMax:        50,
		QueueSize:      100,
		ScanPeriod:     120 * time.Second,
		FetchSize:      100,
	}
	return c
}

// valid is Default() plus the one setting without a default.
func valid() *configs.Config {
	c := configs.Default()
	c.WeChat.Token = "wechat-token"
	return c
}

func TestDefault(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(want(), configs.Default()); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if err := valid().Validate(); err != nil {
		t.Errorf("Default() with a token: Validate() = %v, want nil", err)
	}
}

func TestSetDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		addr      string
		publicURL string
		wantURL   string
	}{
		{"derived from addr", "10.0.0.5:9000", "", "http://10.0.0.5:9000"},
		{"empty host", ":9000", "", "http://localhost:9000"},
		{"unspecified v4 host", "0.0.0.0:9000", "", "http://localhost:9000"},
		{"unspecified v6 host", "[::]:9000", "", "http://localhost:9000"},
		{"v6 host", "[::1]:9000", "", "http://[::1]:9000"},
		{"explicit kept", ":9000", "https://push.example.com", "https://push.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &configs.Config{Addr: tt.addr, PublicURL: tt.publicURL}
			c.SetDefaults()
			if c.PublicURL != tt.wantURL {
				t.Errorf("SetDefaults() with addr %q: PublicURL = %q, want %q", tt.addr, c.PublicURL, tt.wantURL)
			}
			again := *c
			again.Notify.Schedule = append([]time.Duration(nil), c.Notify.Schedule...)
			again.SetDefaults()
			if diff := cmp.Diff(c, &again); diff != "" {
				t.Errorf("second SetDefaults() changed the config (-first +second):\n%s", diff)
			}
		})
	}
}

func TestShippedFile(t *testing.T) {
	t.Parallel()
	c := &configs.Config{}
	if err := configs.LoadFile("pushgate.yaml", c); err != nil {
		t.Fatalf("LoadFile(pushgate.yaml) = %v", err)
	}
	// The file documents every default except the derived public URL,
	// which it leaves empty.
	w := want()
	w.PublicURL = ""
	if diff := cmp.Diff(w, c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("pushgate.yaml differs from the defaults (-want +got):\n%s", diff)
	}
	c.SetDefaults()
	if diff := cmp.Diff(configs.Default(), c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("pushgate.yaml + SetDefaults() differs from Default() (-want +got):\n%s", diff)
	}
	err := c.Validate()
	if err == nil || err.Error() != "wechat token is required (config wechat.token, env PUSHGATE_WECHAT_TOKEN)" {
		t.Errorf("pushgate.yaml: Validate() = %v, want only the missing token", err)
	}
}

func TestNotifySubscribers(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Notify.Secret = "whsec_ZGVmYXVsdA=="
	c.Notify.URLs = []string{"http://a/hook", "http://b/hook", "http://a/hook"}
	c.Notify.Subscribers = []configs.Subscriber{
		{URL: "http://b/hook", Kinds: []string{"click"}, ReadTimeout: time.Minute},
		{URL: "http://c/hook", Secret: "whsec_b3du", ConnectTimeout: time.Second},
	}
	got := c.NotifySubscribers()
	wantSubs := []configs.Subscriber{
		{URL: "http://a/hook", Secret: "whsec_ZGVmYXVsdA==", ConnectTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second},
		{URL: "http://b/hook", Secret: "whsec_ZGVmYXVsdA==", Kinds: []string{"click"}, ConnectTimeout: 10 * time.Second, ReadTimeout: time.Minute},
		{URL: "http://c/hook", Secret: "whsec_b3du", ConnectTimeout: time.Second, ReadTimeout: 10 * time.Second},
	}
	if diff := cmp.Diff(wantSubs, got); diff != "" {
		t.Errorf("NotifySubscribers() mismatch (-want +got):\n%s", diff)
	}
	got[1].Kinds[0] = "changed"
	if c.Notify.Subscribers[0].Kinds[0] != "click" {
		t.Errorf("NotifySubscribers() result shares Kinds with the config")
	}
}

func TestResultValidity(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Results.PerAPI = map[string]time.Duration{"getUserInfo": 2 * time.Hour, "zero": 0}
	tests := []struct {
		api  string
		want time.Duration
	}{
		{"getUserInfo", 2 * time.Hour},
		{"zero", 24 * time.Hour},
		{"other", 24 * time.Hour},
		{"", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := c.ResultValidity(tt.api); got != tt.want {
			t.Errorf("ResultValidity(%q) = %v, want %v", tt.api, got, tt.want)
		}
	}
}
