// Package configs holds pushgate's settings: one documented [Config] struct,
// its defaults, loading from a YAML file, the environment and command-line
// flags, and validation that reports every problem at once.
//
// Precedence, lowest first: defaults < --config FILE < PUSHGATE_* environment
// variables < flags. [Load] applies all of them; [Default], [LoadFile],
// [ApplyEnv], [Config.SetDefaults] and [Config.Validate] are the pieces.
//
// The package has no global state: everything is passed in, including the
// environment (as a getenv function), so tests need no process environment.
package configs

import (
	"net"
	"net/http"
	"slices"
	"time"
)

// Default values. Settings not listed here default to their zero value.
const (
	defaultAddr            = "127.0.0.1:8080"
	defaultBodyLimit       = 1 << 20
	defaultReplyBudget     = 4 * time.Second
	defaultShutdownTimeout = 10 * time.Second
	defaultStoreWait       = 3 * time.Second
	defaultLogLevel        = "info"
	defaultDBDriver        = "sqlite"
	defaultDBDSN           = "pushgate.db"
	defaultRetention       = 30 * 24 * time.Hour
	defaultResultValidity  = 24 * time.Hour
	defaultResultMaxWait   = 300 * time.Second
	defaultSyncTimeout     = 60 * time.Second
	defaultSyncMaxTimeout  = 300 * time.Second
	defaultNotifyConnect   = 10 * time.Second
	defaultNotifyRead      = 10 * time.Second
	defaultPoolCore        = 10
	defaultPoolMax         = 50
	defaultQueueSize       = 100
	defaultScanPeriod      = 120 * time.Second
	defaultFetchSize       = 100
	defaultMaxSkew         = 5 * time.Minute
	defaultRefusedBodyCap  = 64 << 10
	defaultRefusedKeep     = 7 * 24 * time.Hour
	defaultRefusedTotal    = 1 << 30
	defaultRefusedRate     = 10
	defaultRefusedBurst    = 50
	defaultMaxHeaderBytes  = 16 << 10
	defaultReadHeader      = 10 * time.Second
	defaultReadTimeout     = 30 * time.Second
	defaultIdleTimeout     = 2 * time.Minute
)

// defaultSchedule is the notify retry schedule: 10 retries, 2 minutes to 15 hours apart.
var defaultSchedule = []time.Duration{
	2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	6 * time.Hour, 6 * time.Hour, 10 * time.Hour, 15 * time.Hour, 15 * time.Hour,
}

// Config is every setting of a pushgate server. The yaml tags are the keys of
// the --config file (see configs/pushgate.yaml); each setting's environment
// variable is named in its comment.
type Config struct {
	// Addr is the listen address, host:port. PUSHGATE_ADDR; default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// PublicURL is the base URL others reach pushgate at, used to build
	// callback URLs. PUSHGATE_PUBLIC_URL; default "http://" + Addr, with
	// "localhost" standing in for an empty or unspecified (0.0.0.0, ::) host.
	PublicURL string `yaml:"public_url"`
	// BodyLimit is the largest push body accepted, in bytes (at most 64 MiB).
	// PUSHGATE_BODY_LIMIT; default 1 MiB.
	BodyLimit int64 `yaml:"body_limit"`
	// ReplyBudget is how long a push handler may run before pushgate answers
	// "success" anyway (at most MaxReplyBudget). PUSHGATE_REPLY_BUDGET;
	// default 4s.
	ReplyBudget time.Duration `yaml:"reply_budget"`
	// StoreWait is how long a push waits for its row to be committed before
	// pushgate answers 503, so that WeChat (which gives up after 5s) sends
	// its retry. A commit that lands later is dispatched once all the same;
	// the retry is then a duplicate. At most MaxReplyBudget.
	// PUSHGATE_STORE_WAIT; default 3s.
	StoreWait time.Duration `yaml:"store_wait"`
	// ShutdownTimeout bounds a graceful shutdown. PUSHGATE_SHUTDOWN_TIMEOUT; default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error. PUSHGATE_LOG_LEVEL; default info.
	LogLevel string `yaml:"log_level"`

	// DB is the event store.
	DB DB `yaml:"db"`
	// WeChat holds the platform credentials that prove pushes genuine: those
	// of the account named "default", served on /wechat, and the settings
	// every account shares.
	WeChat WeChat `yaml:"wechat"`
	// Accounts are more accounts served on one receiver, each on
	// /wechat/{name}. File only. Use [Config.WeChatAccounts] for the list
	// with the default account first and modes resolved.
	Accounts []Account `yaml:"accounts"`
	// HTTP bounds the HTTP server's connections.
	HTTP HTTP `yaml:"http"`
	// Refused bounds what is kept of refused pushes (400, 413).
	Refused Refused `yaml:"refused"`

	// AdminToken is the bearer token of the admin routes; empty means they
	// refuse every request. At least 8 characters. PUSHGATE_ADMIN_TOKEN.
	AdminToken string `yaml:"admin_token"`
	// APIToken is the bearer token of the results and sync routes; empty means
	// they refuse every request. At least 8 characters. PUSHGATE_API_TOKEN.
	APIToken string `yaml:"api_token"`

	// Results governs stored results of async APIs and callbacks.
	Results Results `yaml:"results"`
	// Sync governs the sync-over-async API (POST /v1/sync).
	Sync Sync `yaml:"sync"`
	// Notify governs outbound notifications and their retries.
	Notify Notify `yaml:"notify"`
}

// DB configures the event store.
type DB struct {
	// Driver is "sqlite" or "postgres". PUSHGATE_DB_DRIVER; default "sqlite".
	Driver string `yaml:"driver"`
	// DSN is the SQLite file or PostgreSQL connection string.
	// PUSHGATE_DB_DSN; default "pushgate.db".
	DSN string `yaml:"dsn"`
	// Retention is how long handled events and succeeded deliveries are
	// kept before pruning (at least 1h); received and failed events, and
	// pending and dead deliveries, are kept. PUSHGATE_RETENTION; default
	// 720h (30 days).
	Retention time.Duration `yaml:"retention"`
}

// HTTP bounds what the HTTP server holds per connection.
type HTTP struct {
	// MaxHeaderBytes bounds a request's header (WeChat's need well under
	// 16 KiB; Go's default of 1 MiB let half-sent headers hold memory).
	// PUSHGATE_HTTP_MAX_HEADER_BYTES; default 16384.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ReadHeaderTimeout bounds reading a request's header.
	// PUSHGATE_HTTP_READ_HEADER_TIMEOUT; default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	// PUSHGATE_HTTP_READ_TIMEOUT; default 30s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its header to the end
	// of its answer; 0, the default, means none, as long polls
	// (results.max_wait) hold their answer for minutes.
	// PUSHGATE_HTTP_WRITE_TIMEOUT; default 0.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout bounds a kept-alive connection waiting for its next
	// request. PUSHGATE_HTTP_IDLE_TIMEOUT; default 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// HTTPServer returns an http.Server serving h with the limits of c.HTTP.
func (c *Config) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    c.HTTP.MaxHeaderBytes,
		ReadHeaderTimeout: c.HTTP.ReadHeaderTimeout,
		ReadTimeout:       c.HTTP.ReadTimeout,
		WriteTimeout:      c.HTTP.WriteTimeout,
		IdleTimeout:       c.HTTP.IdleTimeout,
	}
}

// Refused bounds the storage of refused pushes, which anyone holding one
// signed URL can send.
type Refused struct {
	// BodyCap is how many bytes of a refused body are kept (with the whole
	// body's length and SHA-256); a 413 keeps only this head.
	// PUSHGATE_REFUSED_BODY_CAP; default 65536 (64 KiB).
	BodyCap int64 `yaml:"body_cap"`
	// Retention is how long refused pushes are kept. PUSHGATE_REFUSED_RETENTION;
	// default 168h (7 days).
	Retention time.Duration `yaml:"retention"`
	// TotalCap bounds the bytes of all refused bodies kept; past it the
	// oldest are dropped first (counted in pushgate_refused_total).
	// PUSHGATE_REFUSED_TOTAL_CAP; default 1073741824 (1 GiB).
	TotalCap int64 `yaml:"total_cap"`
	// Rate is how many refusals per second one remote address may have
	// kept; over it (after Burst) they are counted, not stored.
	// PUSHGATE_REFUSED_RATE; default 10.
	Rate int `yaml:"rate"`
	// Burst is how many refusals one remote address may have kept at once
	// above Rate. PUSHGATE_REFUSED_BURST; default 50.
	Burst int `yaml:"burst"`
}

// WeChat holds the credentials of the default account and the freshness
// window of every account.
type WeChat struct {
	// Token signs every push; required unless Accounts lists accounts.
	// PUSHGATE_WECHAT_TOKEN.
	Token string `yaml:"token"`
	// AppID is the official account's app id. PUSHGATE_WECHAT_APPID.
	AppID string `yaml:"app_id"`
	// AESKey is the EncodingAESKey, exactly 43 characters of [A-Za-z0-9+/];
	// empty turns safe mode (encrypted pushes) off. PUSHGATE_WECHAT_AES_KEY.
	AESKey string `yaml:"aes_key"`
	// Mode is the safe-mode policy: plain, compat or safe (see
	// [Account.Mode]); empty means safe when AESKey is set, else plain.
	// PUSHGATE_WECHAT_MODE.
	Mode string `yaml:"mode"`
	// PreviousToken is the token before the last change in WeChat's
	// console: a push signed with it is still accepted, and counted.
	// PUSHGATE_WECHAT_PREVIOUS_TOKEN.
	PreviousToken string `yaml:"previous_token"`
	// PreviousAESKey is the EncodingAESKey before the last change: a push
	// sealed with it is still opened, and counted.
	// PUSHGATE_WECHAT_PREVIOUS_AES_KEY.
	PreviousAESKey string `yaml:"previous_aes_key"`
	// MaxSkew is the freshness window of every account: a push whose
	// timestamp is further than this from the server's clock is refused,
	// and a (timestamp, nonce) pair seen within it cannot carry another
	// body. 0 turns both checks off. PUSHGATE_WECHAT_MAX_SKEW; default 5m.
	MaxSkew *time.Duration `yaml:"max_skew"`
}

// Safe-mode policies of an account (WeChat's 明文模式, 兼容模式, 安全模式).
const (
	// ModePlain accepts plaintext pushes only.
	ModePlain = "plain"
	// ModeCompat accepts plaintext pushes and opens sealed ones.
	ModeCompat = "compat"
	// ModeSafe accepts sealed pushes only: a plaintext one is refused (401).
	ModeSafe = "safe"
)

// Kinds of account: what pushes an account receives and how they are sealed.
const (
	// KindWeChat is an official account or mini program (the default):
	// URL signature, and the safe-mode policy of Mode.
	KindWeChat = "wechat"
	// KindOpenPlatform is a third-party platform (开放平台): its
	// authorization events on /wechat/{name}, the pushes of the accounts
	// that authorized it on /wechat/{name}/{authorizer_appid}; always
	// sealed with its AESKey for its component app id (AppID), checked by
	// msg_signature.
	KindOpenPlatform = "open_platform"
	// KindWeCom is a WeCom (企业微信) application or suite: always sealed,
	// checked by msg_signature, for one of its ReceiveID.
	KindWeCom = "wecom"
)

// Account is one WeChat account served on /wechat/{Name}.
type Account struct {
	// Name names the account in routes, stored rows and filters: 1 to 64
	// characters of a-z, 0-9, "_" and "-".
	Name string `yaml:"name"`
	// Kind is wechat (default), open_platform or wecom. Open Platform and
	// WeCom accounts need an AESKey and are always in safe mode.
	Kind string `yaml:"kind"`
	// ReceiveID lists the receive ids a WeCom account accepts sealed
	// messages for: the corp id for a corp's own application, the suite id
	// for a third-party application (one id, or a list); replies are
	// sealed for the first. Required for wecom, refused for other kinds.
	ReceiveID StringList `yaml:"receive_id"`
	// Token signs its pushes; required.
	Token string `yaml:"token"`
	// AppID is its app id, checked inside sealed pushes when set.
	AppID string `yaml:"app_id"`
	// AESKey is its EncodingAESKey (43 characters); needed by compat and
	// safe modes.
	AESKey string `yaml:"aes_key"`
	// Mode is plain, compat or safe; empty means safe when AESKey is set,
	// else plain.
	Mode string `yaml:"mode"`
	// PreviousToken and PreviousAESKey are the values before the last
	// change in WeChat's console, still accepted so that no push is lost
	// while the console and pushgate are updated.
	PreviousToken  string `yaml:"previous_token"`
	PreviousAESKey string `yaml:"previous_aes_key"`
}

// ResolvedKind returns a's Kind, or its default, wechat.
func (a Account) ResolvedKind() string {
	if a.Kind == "" {
		return KindWeChat
	}
	return a.Kind
}

// ResolvedMode returns a's Mode, or its default: safe when an AESKey is
// set, else plain. Open Platform and WeCom accounts are always safe.
func (a Account) ResolvedMode() string {
	switch {
	case a.Kind == KindOpenPlatform || a.Kind == KindWeCom:
		return ModeSafe
	case a.Mode != "":
		return a.Mode
	case a.AESKey != "":
		return ModeSafe
	}
	return ModePlain
}

// DefaultAccount is the name of the account the wechat settings (and the
// PUSHGATE_WECHAT_* variables) configure, served on /wechat.
const DefaultAccount = "default"

// WeChatAccounts returns every account: the default one (when its token is
// set) first, then Accounts, each with its Mode resolved. The result shares
// no memory with c.
func (c *Config) WeChatAccounts() []Account {
	var out []Account
	if c.WeChat.Token != "" {
		out = append(out, Account{
			Name: DefaultAccount, Token: c.WeChat.Token, AppID: c.WeChat.AppID, AESKey: c.WeChat.AESKey,
			Mode: c.WeChat.Mode, PreviousToken: c.WeChat.PreviousToken, PreviousAESKey: c.WeChat.PreviousAESKey,
		})
	}
	out = append(out, c.Accounts...)
	for i := range out {
		out[i].Mode = out[i].ResolvedMode()
	}
	return out
}

// Account returns the account named name, resolved as by WeChatAccounts.
func (c *Config) Account(name string) (Account, bool) {
	for _, a := range c.WeChatAccounts() {
		if a.Name == name {
			return a, true
		}
	}
	return Account{}, false
}

// MaxSkewOrDefault returns WeChat.MaxSkew, or its default when unset.
func (c *Config) MaxSkewOrDefault() time.Duration {
	if c.WeChat.MaxSkew == nil {
		return defaultMaxSkew
	}
	return *c.WeChat.MaxSkew
}

// Results configures how long stored results stay retrievable.
type Results struct {
	// Validity is how long a result stays retrievable.
	// PUSHGATE_RESULT_VALIDITY; default 24h (WeChat keeps a service-market result 24 hours).
	Validity time.Duration `yaml:"validity"`
	// PerAPI overrides Validity per Api name, e.g. {"getUserInfo": 2h}.
	// PUSHGATE_RESULT_PER_API="name=2h,other=30m".
	PerAPI map[string]time.Duration `yaml:"per_api"`
	// MaxWait caps the ?timeout= of a results request.
	// PUSHGATE_RESULT_MAX_WAIT; default 300s.
	MaxWait time.Duration `yaml:"max_wait"`
}

// Sync configures the sync-over-async API.
type Sync struct {
	// Targets maps a conv_id (numeric) to the URL of the process that serves
	// it. PUSHGATE_SYNC_TARGETS="42=http://h/p,43=http://h/q".
	Targets map[string]string `yaml:"targets"`
	// DefaultTimeout is the wait when a request names none.
	// PUSHGATE_SYNC_DEFAULT_TIMEOUT; default 60s (seed 001).
	DefaultTimeout time.Duration `yaml:"default_timeout"`
	// MaxTimeout caps the wait a request may ask for.
	// PUSHGATE_SYNC_MAX_TIMEOUT; default 300s.
	MaxTimeout time.Duration `yaml:"max_timeout"`
}

// Notify configures outbound notifications. A zero count or duration means
// its default.
type Notify struct {
	// URLs are subscribers given by URL alone. PUSHGATE_NOTIFY_URLS, comma separated.
	URLs []string `yaml:"urls"`
	// Subscribers are subscribers with their own secret, kinds or timeouts.
	// File only. Use [Config.NotifySubscribers] to get URLs and Subscribers merged.
	Subscribers []Subscriber `yaml:"subscribers"`
	// Secret signs deliveries: "whsec_" then base64 of at least one byte;
	// empty sends them unsigned. PUSHGATE_NOTIFY_SECRET.
	Secret string `yaml:"secret"`
	// Schedule is the delay before each retry. PUSHGATE_NOTIFY_SCHEDULE;
	// default "2m,10m,30m,1h,2h,6h,6h,10h,15h,15h" (seed 003).
	Schedule []time.Duration `yaml:"schedule"`
	// ConnectTimeout bounds connecting to a subscriber.
	// PUSHGATE_NOTIFY_CONNECT_TIMEOUT; default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReadTimeout bounds waiting for a subscriber's answer.
	// PUSHGATE_NOTIFY_READ_TIMEOUT; default 10s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// PoolCore is the number of delivery workers kept running.
	// PUSHGATE_NOTIFY_POOL_CORE; default 10.
	PoolCore int `yaml:"pool_core"`
	// PoolMax is the most delivery workers under load.
	// PUSHGATE_NOTIFY_POOL_MAX; default 50.
	PoolMax int `yaml:"pool_max"`
	// QueueSize is the capacity of the in-memory delivery queue.
	// PUSHGATE_NOTIFY_QUEUE_SIZE; default 100.
	QueueSize int `yaml:"queue_size"`
	// ScanPeriod is how often the outbox is scanned for due retries; pushgate
	// also wakes exactly at the next due time. PUSHGATE_NOTIFY_SCAN_PERIOD; default 120s.
	ScanPeriod time.Duration `yaml:"scan_period"`
	// FetchSize is how many due deliveries one scan claims.
	// PUSHGATE_NOTIFY_FETCH_SIZE; default 100.
	FetchSize int `yaml:"fetch_size"`
}

// Subscriber is one notification endpoint. Zero fields fall back to
// [Notify]'s; [Config.NotifySubscribers] resolves them.
type Subscriber struct {
	// URL receives the signed POSTs; http or https.
	URL string `yaml:"url"`
	// Secret overrides Notify.Secret for this subscriber.
	Secret string `yaml:"secret"`
	// Kinds lists the event kinds it wants; empty means every kind.
	Kinds []string `yaml:"kinds"`
	// ConnectTimeout overrides Notify.ConnectTimeout; 0 means Notify's.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReadTimeout overrides Notify.ReadTimeout; 0 means Notify's.
	ReadTimeout time.Duration `yaml:"read_timeout"`
}

// Default returns a Config with every default filled in, PublicURL included.
// It is not valid as is: the WeChat token has no default.
func Default() *Config {
	c := &Config{}
	c.SetDefaults()
	return c
}

// SetDefaults fills every zero-valued setting with its default and derives
// PublicURL from Addr when it is empty. Calling it again changes nothing.
func (c *Config) SetDefaults() {
	setZero(&c.Addr, defaultAddr)
	setZero(&c.BodyLimit, defaultBodyLimit)
	setZero(&c.ReplyBudget, defaultReplyBudget)
	setZero(&c.StoreWait, defaultStoreWait)
	setZero(&c.ShutdownTimeout, defaultShutdownTimeout)
	setZero(&c.LogLevel, defaultLogLevel)
	setZero(&c.DB.Driver, defaultDBDriver)
	setZero(&c.DB.DSN, defaultDBDSN)
	setZero(&c.DB.Retention, defaultRetention)
	setZero(&c.HTTP.MaxHeaderBytes, defaultMaxHeaderBytes)
	setZero(&c.HTTP.ReadHeaderTimeout, defaultReadHeader)
	setZero(&c.HTTP.ReadTimeout, defaultReadTimeout)
	setZero(&c.HTTP.IdleTimeout, defaultIdleTimeout)
	setZero(&c.Refused.BodyCap, defaultRefusedBodyCap)
	setZero(&c.Refused.Retention, defaultRefusedKeep)
	setZero(&c.Refused.TotalCap, defaultRefusedTotal)
	setZero(&c.Refused.Rate, defaultRefusedRate)
	setZero(&c.Refused.Burst, defaultRefusedBurst)
	setZero(&c.Results.Validity, defaultResultValidity)
	setZero(&c.Results.MaxWait, defaultResultMaxWait)
	setZero(&c.Sync.DefaultTimeout, defaultSyncTimeout)
	setZero(&c.Sync.MaxTimeout, defaultSyncMaxTimeout)
	if len(c.Notify.Schedule) == 0 {
		c.Notify.Schedule = slices.Clone(defaultSchedule)
	}
	setZero(&c.Notify.ConnectTimeout, defaultNotifyConnect)
	setZero(&c.Notify.ReadTimeout, defaultNotifyRead)
	setZero(&c.Notify.PoolCore, defaultPoolCore)
	setZero(&c.Notify.PoolMax, defaultPoolMax)
	setZero(&c.Notify.QueueSize, defaultQueueSize)
	setZero(&c.Notify.ScanPeriod, defaultScanPeriod)
	setZero(&c.Notify.FetchSize, defaultFetchSize)
	if c.PublicURL == "" {
		c.PublicURL = publicURLFor(c.Addr)
	}
	if c.WeChat.MaxSkew == nil {
		d := defaultMaxSkew
		c.WeChat.MaxSkew = &d
	}
}

// setZero sets *p to def when *p is the zero value.
func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// publicURLFor derives a base URL from a listen address, using "localhost"
// where the address leaves the host empty or unspecified.
func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// NotifySubscribers returns every notification subscriber: one per
// Notify.URLs entry, then Notify.Subscribers, with the secret and timeouts
// they leave empty taken from Notify. A URL listed in both appears once, in
// its richer Subscribers form. The result shares no memory with c.
func (c *Config) NotifySubscribers() []Subscriber {
	rich := make(map[string]bool, len(c.Notify.Subscribers))
	for _, s := range c.Notify.Subscribers {
		rich[s.URL] = true
	}
	seen := make(map[string]bool, len(c.Notify.URLs))
	var out []Subscriber
	for _, u := range c.Notify.URLs {
		if rich[u] || seen[u] {
			continue
		}
		seen[u] = true
		out = append(out, c.resolve(Subscriber{URL: u}))
	}
	for _, s := range c.Notify.Subscribers {
		out = append(out, c.resolve(s))
	}
	return out
}

// resolve fills s's empty secret and timeouts from Notify.
func (c *Config) resolve(s Subscriber) Subscriber {
	setZero(&s.Secret, c.Notify.Secret)
	setZero(&s.ConnectTimeout, c.Notify.ConnectTimeout)
	setZero(&s.ReadTimeout, c.Notify.ReadTimeout)
	s.Kinds = slices.Clone(s.Kinds)
	return s
}

// ResultValidity is how long a result of the named Api stays retrievable:
// its Results.PerAPI override when positive, else Results.Validity.
func (c *Config) ResultValidity(api string) time.Duration {
	if d := c.Results.PerAPI[api]; d > 0 {
		return d
	}
	return c.Results.Validity
}
