package configs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxBodyLimit is the largest BodyLimit Validate accepts: 64 MiB.
const MaxBodyLimit = 64 << 20

// MaxReplyBudget is the largest ReplyBudget Validate accepts.
const MaxReplyBudget = 30 * time.Second

// Known values of the enumerated settings.
var (
	dbDrivers = []string{"sqlite", "postgres"}
	logLevels = []string{"debug", "info", "warn", "error"}
)

// Validate checks every setting and reports every problem at once, joined
// with errors.Join; nil means c is ready to serve. Each message names the
// setting and where to set it, e.g.
// "wechat token is required (config wechat.token, env PUSHGATE_WECHAT_TOKEN)".
// Messages never
// repeat a secret's value. Validate expects SetDefaults to have run: a zero
// count or duration is reported, not defaulted.
func (c *Config) Validate() error {
	var p problems
	if c.WeChat.Token == "" && len(c.Accounts) == 0 {
		p.add("PUSHGATE_WECHAT_TOKEN", "is required")
	}
	if k := c.WeChat.AESKey; k != "" && !validAESKey(k) {
		p.add("PUSHGATE_WECHAT_AES_KEY", "must be exactly 43 characters of A-Z, a-z, 0-9, + and / (got %d characters)", len(k))
	}
	if k := c.WeChat.PreviousAESKey; k != "" && !validAESKey(k) {
		p.add("PUSHGATE_WECHAT_PREVIOUS_AES_KEY", "must be exactly 43 characters of A-Z, a-z, 0-9, + and / (got %d characters)", len(k))
	}
	if m := c.WeChat.Mode; m != "" && !slices.Contains(modes, m) {
		p.add("PUSHGATE_WECHAT_MODE", "must be plain, compat or safe, got %q", m)
	} else if (m == ModeCompat || m == ModeSafe) && c.WeChat.AESKey == "" {
		p.add("PUSHGATE_WECHAT_MODE", "%s needs an EncodingAESKey (%s)", m, where("PUSHGATE_WECHAT_AES_KEY"))
	}
	if c.WeChat.MaxSkew != nil && *c.WeChat.MaxSkew < 0 {
		p.add("PUSHGATE_WECHAT_MAX_SKEW", "must not be negative (0 turns the check off), got %s", *c.WeChat.MaxSkew)
	}
	p.validateAccounts(c)
	if !slices.Contains(dbDrivers, c.DB.Driver) {
		p.add("PUSHGATE_DB_DRIVER", "must be sqlite or postgres, got %q", c.DB.Driver)
	}
	if c.DB.DSN == "" {
		p.add("PUSHGATE_DB_DSN", "is required")
	}
	if c.DB.Retention < time.Hour {
		p.add("PUSHGATE_RETENTION", "must be at least 1h, got %s", c.DB.Retention)
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		p.add("PUSHGATE_ADDR", "must be host:port, got %q", c.Addr)
	}
	if !isHTTPURL(c.PublicURL) {
		p.add("PUSHGATE_PUBLIC_URL", "must be an http or https URL, got %q", c.PublicURL)
	}
	if c.BodyLimit <= 0 || c.BodyLimit > MaxBodyLimit {
		p.add("PUSHGATE_BODY_LIMIT", "must be between 1 and %d bytes (64 MiB), got %d", MaxBodyLimit, c.BodyLimit)
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		p.add("PUSHGATE_LOG_LEVEL", "must be one of %s, got %q", strings.Join(logLevels, ", "), c.LogLevel)
	}
	if c.HTTP.MaxHeaderBytes < 4<<10 || c.HTTP.MaxHeaderBytes > 1<<20 {
		p.add("PUSHGATE_HTTP_MAX_HEADER_BYTES", "must be between 4096 and 1048576, got %d", c.HTTP.MaxHeaderBytes)
	}
	p.positive("PUSHGATE_HTTP_READ_HEADER_TIMEOUT", c.HTTP.ReadHeaderTimeout)
	p.positive("PUSHGATE_HTTP_READ_TIMEOUT", c.HTTP.ReadTimeout)
	p.positive("PUSHGATE_HTTP_IDLE_TIMEOUT", c.HTTP.IdleTimeout)
	if c.HTTP.WriteTimeout < 0 {
		p.add("PUSHGATE_HTTP_WRITE_TIMEOUT", "must not be negative (0: none), got %s", c.HTTP.WriteTimeout)
	}
	if c.Refused.BodyCap <= 0 || c.Refused.BodyCap > MaxBodyLimit {
		p.add("PUSHGATE_REFUSED_BODY_CAP", "must be between 1 and %d bytes, got %d", MaxBodyLimit, c.Refused.BodyCap)
	}
	p.positive("PUSHGATE_REFUSED_RETENTION", c.Refused.Retention)
	if c.Refused.TotalCap < c.Refused.BodyCap {
		p.add("PUSHGATE_REFUSED_TOTAL_CAP", "must be at least the refused body cap (%d bytes), got %d", c.Refused.BodyCap, c.Refused.TotalCap)
	}
	if c.Refused.Rate <= 0 {
		p.add("PUSHGATE_REFUSED_RATE", "must be positive, got %d", c.Refused.Rate)
	}
	if c.Refused.Burst <= 0 {
		p.add("PUSHGATE_REFUSED_BURST", "must be positive, got %d", c.Refused.Burst)
	}
	p.token("PUSHGATE_ADMIN_TOKEN", c.AdminToken)
	p.token("PUSHGATE_API_TOKEN", c.APIToken)

	p.positive("PUSHGATE_REPLY_BUDGET", c.ReplyBudget)
	if c.ReplyBudget > MaxReplyBudget {
		// WeChat gives up on an answer after 5 s anyway; a longer budget
		// only holds connections (and the grace before recovery takes a
		// push as abandoned, handlers.SweepGrace, assumes seconds).
		p.add("PUSHGATE_REPLY_BUDGET", "must be at most %s, got %s", MaxReplyBudget, c.ReplyBudget)
	}
	p.positive("PUSHGATE_STORE_WAIT", c.StoreWait)
	if c.StoreWait > MaxReplyBudget {
		p.add("PUSHGATE_STORE_WAIT", "must be at most %s, got %s", MaxReplyBudget, c.StoreWait)
	}
	p.positive("PUSHGATE_SHUTDOWN_TIMEOUT", c.ShutdownTimeout)
	p.positive("PUSHGATE_RESULT_VALIDITY", c.Results.Validity)
	p.positive("PUSHGATE_RESULT_MAX_WAIT", c.Results.MaxWait)
	for _, api := range sortedKeys(c.Results.PerAPI) {
		if d := c.Results.PerAPI[api]; api == "" || d <= 0 {
			p.add("PUSHGATE_RESULT_PER_API", "entry %q=%s needs an api name and a positive duration", api, d)
		}
	}

	p.validateSync(&c.Sync)
	p.validateNotify(&c.Notify)
	return errors.Join(p...)
}

// aesAlphabet is the alphabet of an EncodingAESKey.
const aesAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// modes are the safe-mode policies.
var modes = []string{ModePlain, ModeCompat, ModeSafe}

func validAESKey(k string) bool { return len(k) == 43 && strings.Trim(k, aesAlphabet) == "" }

// validAccountName reports whether name is 1 to 64 characters of a-z, 0-9,
// "_" and "-".
func validAccountName(name string) bool {
	return name != "" && len(name) <= 64 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}

// validateAccounts checks the accounts list.
func (p *problems) validateAccounts(c *Config) {
	seen := map[string]bool{}
	if c.WeChat.Token != "" {
		seen[DefaultAccount] = true
	}
	for i, a := range c.Accounts {
		name := fmt.Sprintf("account %d (%q)", i+1, a.Name)
		at := func(format string, args ...any) {
			*p = append(*p, fmt.Errorf("%s: %s (accounts in the config file)", name, fmt.Sprintf(format, args...)))
		}
		switch {
		case !validAccountName(a.Name):
			at("name must be 1 to 64 characters of a-z, 0-9, _ and -")
		case seen[a.Name] && a.Name == DefaultAccount:
			at("the account default is the wechat settings (PUSHGATE_WECHAT_*); list it here only when those are empty")
		case seen[a.Name]:
			at("name is given twice")
		}
		seen[a.Name] = true
		if a.Token == "" {
			at("token is required")
		}
		for _, k := range []struct{ field, v string }{{"aes_key", a.AESKey}, {"previous_aes_key", a.PreviousAESKey}} {
			if k.v != "" && !validAESKey(k.v) {
				at("%s must be exactly 43 characters of A-Z, a-z, 0-9, + and / (got %d characters)", k.field, len(k.v))
			}
		}
		switch a.Kind {
		case "", KindWeChat:
			if a.Mode != "" && !slices.Contains(modes, a.Mode) {
				at("mode must be plain, compat or safe, got %q", a.Mode)
			} else if (a.Mode == ModeCompat || a.Mode == ModeSafe) && a.AESKey == "" {
				at("mode %s needs an aes_key", a.Mode)
			}
			if len(a.ReceiveID) > 0 {
				at("receive_id is for wecom accounts only")
			}
		case KindOpenPlatform, KindWeCom:
			if a.AESKey == "" {
				at("kind %s needs an aes_key: its pushes are always encrypted", a.Kind)
			}
			if a.Mode != "" && a.Mode != ModeSafe {
				at("kind %s is always in safe mode, got mode %q", a.Kind, a.Mode)
			}
			if a.Kind == KindOpenPlatform && a.AppID == "" {
				at("kind open_platform needs app_id: the platform's component app id, sealed in every push")
			}
			if a.Kind == KindOpenPlatform && len(a.ReceiveID) > 0 {
				at("receive_id is for wecom accounts only (an open_platform account's is its app_id)")
			}
			if a.Kind == KindWeCom && len(a.ReceiveID) == 0 {
				at("kind wecom needs receive_id: the corp id, or the suite id of a third-party application")
			}
		default:
			at("kind must be wechat, open_platform or wecom, got %q", a.Kind)
		}
	}
}

// validateSync checks the sync settings.
func (p *problems) validateSync(s *Sync) {
	for _, id := range sortedKeys(s.Targets) {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			p.add("PUSHGATE_SYNC_TARGETS", "conv_id %q must be a number", id)
		}
		if u := s.Targets[id]; !isHTTPURL(u) {
			p.add("PUSHGATE_SYNC_TARGETS", "conv_id %s: must be an http or https URL, got %q", id, u)
		}
	}
	p.positive("PUSHGATE_SYNC_DEFAULT_TIMEOUT", s.DefaultTimeout)
	p.positive("PUSHGATE_SYNC_MAX_TIMEOUT", s.MaxTimeout)
	if s.MaxTimeout > 0 && s.DefaultTimeout > s.MaxTimeout {
		p.add("PUSHGATE_SYNC_DEFAULT_TIMEOUT", "%s must not exceed sync max timeout %s", s.DefaultTimeout, s.MaxTimeout)
	}
}

// validateNotify checks the notification settings, subscribers included.
func (p *problems) validateNotify(n *Notify) {
	for _, u := range n.URLs {
		if !isHTTPURL(u) {
			p.add("PUSHGATE_NOTIFY_URLS", "must be http or https URLs, got %q", u)
		}
	}
	if n.Secret != "" && !validSecret(n.Secret) {
		p.add("PUSHGATE_NOTIFY_SECRET", `must be "whsec_" followed by base64 of at least one byte`)
	}
	if len(n.Schedule) == 0 {
		p.add("PUSHGATE_NOTIFY_SCHEDULE", "must list at least one delay")
	}
	for i, d := range n.Schedule {
		if d <= 0 {
			p.add("PUSHGATE_NOTIFY_SCHEDULE", "entry %d must be positive, got %s", i+1, d)
		}
	}
	p.positive("PUSHGATE_NOTIFY_CONNECT_TIMEOUT", n.ConnectTimeout)
	p.positive("PUSHGATE_NOTIFY_READ_TIMEOUT", n.ReadTimeout)
	p.positive("PUSHGATE_NOTIFY_SCAN_PERIOD", n.ScanPeriod)
	if n.PoolCore < 1 {
		p.add("PUSHGATE_NOTIFY_POOL_CORE", "must be at least 1, got %d", n.PoolCore)
	}
	if n.PoolMax < n.PoolCore {
		p.add("PUSHGATE_NOTIFY_POOL_MAX", "must be at least notify pool core (%d), got %d", n.PoolCore, n.PoolMax)
	}
	if n.QueueSize < 0 {
		p.add("PUSHGATE_NOTIFY_QUEUE_SIZE", "must not be negative, got %d", n.QueueSize)
	}
	if n.FetchSize < 1 {
		p.add("PUSHGATE_NOTIFY_FETCH_SIZE", "must be at least 1, got %d", n.FetchSize)
	}
	for i, s := range n.Subscribers {
		name := fmt.Sprintf("notify subscriber %d", i+1)
		if !isHTTPURL(s.URL) {
			p.addAt(name, "url must be an http or https URL, got %q", s.URL)
		}
		if s.Secret != "" && !validSecret(s.Secret) {
			p.addAt(name, `secret must be "whsec_" followed by base64 of at least one byte`)
		}
		if s.ConnectTimeout < 0 || s.ReadTimeout < 0 {
			p.addAt(name, "timeouts must not be negative")
		}
		if slices.Contains(s.Kinds, "") {
			p.addAt(name, "kinds must not contain an empty kind")
		}
	}
}

// problems collects Validate's findings.
type problems []error

// add records that the setting read from env has the problem format
// describes: "<setting> <problem> (config <key>, env <env>)".
func (p *problems) add(env, format string, args ...any) {
	name := env
	for _, s := range settings {
		if s.env == env {
			name = s.name
		}
	}
	*p = append(*p, fmt.Errorf("%s %s (%s)", name, fmt.Sprintf(format, args...), where(env)))
}

// addAt records a problem of a file-only setting.
func (p *problems) addAt(name, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s (notify.subscribers in the config file)", name, fmt.Sprintf(format, args...)))
}

// positive records a duration that is not positive.
func (p *problems) positive(env string, d time.Duration) {
	if d <= 0 {
		p.add(env, "must be positive, got %s", d)
	}
}

// token records a bearer token that is set but shorter than 8 characters.
func (p *problems) token(env, tok string) {
	if tok != "" && len(tok) < 8 {
		p.add(env, "must be at least 8 characters, got %d", len(tok))
	}
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validSecret reports whether s is "whsec_" then standard base64 of at
// least one byte.
func validSecret(s string) bool {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(key) > 0
}

// sortedKeys returns m's keys in order, so messages come out stable.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
