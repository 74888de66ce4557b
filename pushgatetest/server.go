// Package pushgatetest runs a real pushgate in your tests: your handlers
// behind the full receiver (signature checks, storage, dedupe, recovery)
// on a loopback port and a temporary SQLite file, or PostgreSQL. It signs
// pushes as WeChat does (plain and safe mode), decodes the answers, and
// reads what was stored through the admin API, in the way
// net/http/httptest serves a handler.
//
//	func TestClick(t *testing.T) {
//		srv := pushgatetest.NewServer(t, myMux())
//		a := srv.PushFixture(t, "event.CLICK")
//		if a.Reply == nil || a.Reply.Content != "hello" { ... }
//	}
package pushgatetest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// The tokens of a test server: pushes are signed with Token, and the kit
// reads events with AdminToken. APIToken opens the results and sync routes.
const (
	Token      = "pushgatetest-wechat-token"
	AdminToken = "pushgatetest-admin-token"
	APIToken   = "pushgatetest-api-token"
	// AESKey is the EncodingAESKey of a server built WithSafeMode.
	AESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	// AppID is the app id of a server built WithSafeMode.
	AppID = "wxpushgatetest"
)

// T is what the kit needs of a test: *testing.T, *testing.B and *testing.F
// have it.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Option changes the server NewServer starts.
type Option func(*setup)

type setup struct {
	tune []func(*configs.Config)
	opts []pushgate.Option
}

// WithConfig lets fn change the server's settings before it starts (the
// defaults of configs.Default, the tokens above, a temporary SQLite file,
// a loopback address).
func WithConfig(fn func(*configs.Config)) Option {
	return func(s *setup) { s.tune = append(s.tune, fn) }
}

// WithPostgres stores in the PostgreSQL database at dsn instead of a
// temporary SQLite file. Give each test a database (or a schema, with
// search_path in the DSN) of its own.
func WithPostgres(dsn string) Option {
	return WithConfig(func(c *configs.Config) { c.DB.Driver, c.DB.DSN = "postgres", dsn })
}

// WithSafeMode turns WeChat's safe mode on (EncodingAESKey AESKey, app id
// AppID): Push seals every push, and opens the sealed reply.
func WithSafeMode() Option {
	return WithConfig(func(c *configs.Config) { c.WeChat.AESKey, c.WeChat.AppID = AESKey, AppID })
}

// WithAccount serves one more account beside the default one (see
// configs.Account): an ordinary one, an Open Platform one (kind
// open_platform, with AppID and AESKey) or a WeCom one (kind wecom, with
// AESKey and ReceiveID). Push to it with Request(body).Account(a.Name).
func WithAccount(a configs.Account) Option {
	return WithConfig(func(c *configs.Config) { c.Accounts = append(c.Accounts, a) })
}

// WithOptions passes options to pushgate.New (middleware, routes, a clock).
func WithOptions(opts ...pushgate.Option) Option {
	return func(s *setup) { s.opts = append(s.opts, opts...) }
}

// Server is a running pushgate for one test.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// Config is the server's configuration.
	Config *configs.Config
	// Service is the running service.
	Service *pushgate.Service

	client  *http.Client
	crypter *handlers.Crypter // nil: safe mode off
}

// NewServer starts pushgate with mux's handlers on a loopback port and a
// SQLite file in t.TempDir (see the options), and stops it with t.Cleanup,
// letting running handlers finish. It fails the test if pushgate cannot
// start.
func NewServer(t T, mux *events.Mux, opts ...Option) *Server {
	t.Helper()
	var st setup
	for _, o := range opts {
		o(&st)
	}
	cfg := configs.Default()
	cfg.WeChat.Token = Token
	cfg.AdminToken = AdminToken
	cfg.APIToken = APIToken
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	cfg.LogLevel = "warn"
	for _, fn := range st.tune {
		fn(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pushgatetest: listening on loopback: %v", err)
	}
	cfg.Addr = ln.Addr().String()
	cfg.PublicURL = "http://" + cfg.Addr
	svc, err := pushgate.New(cfg, mux, st.opts...)
	if err != nil {
		ln.Close()
		t.Fatalf("pushgatetest: starting pushgate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("pushgatetest: stopping pushgate: %v", err)
		}
	})
	s := &Server{URL: "http://" + cfg.Addr, Config: cfg, Service: svc, client: &http.Client{Timeout: time.Minute}}
	if cfg.WeChat.AESKey != "" {
		if s.crypter, err = handlers.NewCrypter(cfg.WeChat.Token, cfg.WeChat.AESKey, cfg.WeChat.AppID); err != nil {
			t.Fatalf("pushgatetest: %v", err)
		}
	}
	return s
}
