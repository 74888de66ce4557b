package pushgate_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
	"github.com/pushgate/pushgate/pushgatetest"
)

// TestSendExitStatus checks that send fails when any push fails, and
// names the token a 401 needs.
func TestSendExitStatus(t *testing.T) {
	t.Parallel()
	srv := pushgatetest.NewServer(t, events.NewMux())
	tests := []struct {
		name    string
		token   string
		wantErr []string
	}{
		{"right token", pushgatetest.Token, nil},
		{"admin token", pushgatetest.AdminToken, []string{"1 of 1 pushes failed", "401", "PUSHGATE_WECHAT_TOKEN"}},
	}
	for _, tc := range tests {
		var out, errOut strings.Builder
		err := pushgate.Run(context.Background(), events.NewMux(),
			[]string{"send", "--server", srv.URL, "--token", tc.token, "event.CLICK"}, &out, &errOut)
		if tc.wantErr == nil {
			if err != nil {
				t.Errorf("%s: send = %v, want nil (output %q)", tc.name, err, out.String())
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: send = nil, want an error (output %q)", tc.name, out.String())
			continue
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: send's error %q does not contain %q", tc.name, err, want)
			}
		}
	}
}

// TestServeHelp checks that serve --help documents --dev and the defaults.
func TestServeHelp(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	pushgate.Run(context.Background(), events.NewMux(), []string{"serve", "--help"}, &out, &errOut)
	for _, want := range []string{"--dev", "generate random WeChat", "(default 127.0.0.1:8080)", "(default pushgate.db)", "PUSHGATE_DB_DSN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSecondServeRefused runs serve, then a second serve on the same SQLite
// file, which must fail at once with a clear message; the first still
// serves.
func TestSecondServeRefused(t *testing.T) {
	t.Parallel()
	dsn := filepath.Join(t.TempDir(), "pushgate.db")
	args := func(level string) []string {
		return []string{"serve", "--addr", "127.0.0.1:0", "--db-dsn", dsn, "--wechat-token", "t", "--log-level", level}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	var out strings.Builder
	errOut := &syncBuffer{}
	go func() { first <- pushgate.Run(ctx, events.NewMux(), args("info"), &out, errOut) }()
	defer func() {
		cancel()
		if err := <-first; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("first serve = %v", err)
		}
	}()
	// The first holds the lock once it serves; start the second only then,
	// or the second could take the lock first.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(errOut.String(), "pushgate serving"); {
		if time.Now().After(deadline) {
			t.Fatalf("the first serve did not start: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out2, errOut2 strings.Builder
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	err := pushgate.Run(ctx2, events.NewMux(), args("error"), &out2, &errOut2)
	cancel2()
	if !errors.Is(err, pushgate.ErrLocked) || !strings.Contains(err.Error(), dsn) {
		t.Fatalf("second serve on %s = %v, want ErrLocked naming the file", dsn, err)
	}
	select {
	case err := <-first:
		t.Fatalf("the first serve stopped: %v", err)
	default:
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTailRefused checks that tail stops with an error naming the API token
// when the server refuses it, instead of reconnecting forever.
func TestTailRefused(t *testing.T) {
	t.Parallel()
	srv := pushgatetest.NewServer(t, events.NewMux())
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"wrong token", []string{"--api-token", "wrong-token"}, []string{"401", "PUSHGATE_API_TOKEN"}},
		{"admin token", []string{"--token", pushgatetest.AdminToken}, []string{"401", "PUSHGATE_API_TOKEN"}},
		{"no token", []string{"--api-token", ""}, []string{"PUSHGATE_API_TOKEN"}},
	}
	for _, tc := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errOut strings.Builder
		start := time.Now()
		err := pushgate.Run(ctx, events.NewMux(), append([]string{"tail", "--server", srv.URL}, tc.args...), &out, &errOut)
		cancel()
		if err == nil {
			t.Errorf("%s: tail = nil after %s, want an error (stderr %q)", tc.name, time.Since(start).Round(time.Millisecond), errOut.String())
			continue
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: tail's error %q does not contain %q", tc.name, err, want)
			}
		}
	}
}

// TestServeDevKeepsConfiguredTokens checks that serve --dev generates only
// the tokens nothing set: the ones of the --config file and of the flags
// stay, and are not printed as development tokens.
func TestServeDevKeepsConfiguredTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "pushgate.yaml")
	if err := os.WriteFile(file, []byte("wechat:\n  token: \"file-wechat-token\"\nadmin_token: \"file-admin-token\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--dev", "--config", file, "--api-token", "flag-api-token",
		"--addr", "127.0.0.1:0", "--db-dsn", filepath.Join(dir, "pushgate.db"), "--log-level", "error"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	go func() { done <- pushgate.Run(ctx, events.NewMux(), args, out, errOut) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve = %v", err)
		}
	}()
	addr := regexp.MustCompile(`inspector: (http://[^/]+)/ui/`)
	var server string
	for deadline := time.Now().Add(20 * time.Second); server == ""; time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			server = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --dev did not start: %s %s", out.String(), errOut.String())
		}
	}
	if got := out.String(); strings.Contains(got, "development PUSHGATE_WECHAT_TOKEN") ||
		strings.Contains(got, "development PUSHGATE_ADMIN_TOKEN") || strings.Contains(got, "development PUSHGATE_API_TOKEN") {
		t.Errorf("serve --dev printed %q, want no development token for those the file and flags set", got)
	}
	var sendOut, sendErr strings.Builder
	if err := pushgate.Run(context.Background(), events.NewMux(),
		[]string{"send", "--server", server, "--token", "file-wechat-token", "event.CLICK"}, &sendOut, &sendErr); err != nil {
		t.Errorf("send signed with the file's token = %v (%s)", err, sendOut.String())
	}
	var listOut, listErr strings.Builder
	if err := pushgate.Run(context.Background(), events.NewMux(),
		[]string{"events", "list", "--server", server, "--token", "file-admin-token"}, &listOut, &listErr); err != nil {
		t.Errorf("events list with the file's admin token = %v", err)
	}
}

// TestRedactDSN checks that the DSN serve logs at start-up never carries
// a password, in either PostgreSQL form.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ dsn, want string }{
		{"pushgate.db", "pushgate.db"},
		{"host=db user=pg password=s3cret dbname=p", "host=db user=pg password=***"},
		{"postgres://pg:s3cret@db:5432/p?sslmode=disable", "postgres://pg:xxxxx@db:5432/p?sslmode=disable"},
		{"postgresql://pg:s3cret@db/p", "postgresql://pg:xxxxx@db/p"},
		{"postgres://db/p?user=pg&password=s3cret", "postgres://db/p?password=xxxxx&user=pg"},
		{"postgres://pg@db/p", "postgres://pg@db/p"},
	}
	for _, tt := range tests {
		if got := pushgate.RedactDSN(tt.dsn); got != tt.want || strings.Contains(got, "s3cret") {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

// TestDeliveriesListByAccount: `pushgate deliveries list --account NAME`
// lists the deliveries of that account's events only, like events list.
func TestDeliveriesListByAccount(t *testing.T) {
	t.Parallel()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer sink.Close()
	cfg := configs.Default()
	cfg.WeChat.Token = "cli-default-token"
	cfg.Accounts = []configs.Account{{Name: "shop", Token: "cli-shop-token"}}
	cfg.AdminToken = "cli-admin-token"
	cfg.Notify.URLs = []string{sink.URL}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := models.Open(ctx, "sqlite", filepath.Join(dir, "pushgate.db"), models.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log})
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv, err := handlers.New(handlers.Deps{Config: cfg, Store: store, Mux: events.NewMux(), Logger: log,
		Observers: []handlers.Observer{n}, Features: []handlers.Feature{handlers.Deliveries{Store: store, Notifier: n, Logger: log}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, send := range [][]string{
		{"--account", "shop", "--token", "cli-shop-token", "event.CLICK", "event.VIEW"},
		{"--token", "cli-default-token", "text"},
	} {
		var errOut strings.Builder
		if err := pushgate.Run(ctx, events.NewMux(), append([]string{"send", "--server", ts.URL}, send...), io.Discard, &errOut); err != nil {
			t.Fatalf("send %v: %v (%s)", send, err, errOut.String())
		}
	}
	list := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		args = append([]string{"deliveries", "list", "--server", ts.URL, "--token", "cli-admin-token", "--json"}, args...)
		if err := pushgate.Run(ctx, events.NewMux(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errOut.String())
		}
		return out.String()
	}
	// The outbox rows are written after the pushes' commits: wait for all 3.
	for deadline := time.Now().Add(10 * time.Second); strings.Count(list(), "\n") < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries list = %q, want 3 deliveries", list())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range []struct {
		account string
		want    int
	}{{"shop", 2}, {"default", 1}, {"nobody", 0}} {
		if got := strings.Count(list("--account", tc.account), "\n"); got != tc.want {
			t.Errorf("deliveries list --account %s = %d deliveries, want %d", tc.account, got, tc.want)
		}
	}
}
