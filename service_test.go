package pushgate_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
)

func quiet() pushgate.Option {
	return pushgate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// testConfig is a valid configuration on an SQLite file in a temp dir.
func testConfig(t *testing.T) *configs.Config {
	cfg := configs.Default()
	cfg.WeChat.Token = "service-test-token"
	cfg.AdminToken = "service-test-admin"
	cfg.DB.DSN = filepath.Join(t.TempDir(), "pushgate.db")
	cfg.Addr = "127.0.0.1:0"
	return cfg
}

// TestSecondServiceOnSQLiteFileRefused checks that one SQLite file has one
// owner: a second New on it fails with ErrLocked until the first closes.
func TestSecondServiceOnSQLiteFileRefused(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	first, err := pushgate.New(cfg, events.NewMux(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	second, err := pushgate.New(cfg, events.NewMux(), quiet())
	if !errors.Is(err, pushgate.ErrLocked) {
		t.Fatalf("second New on %s = %v, %v, want ErrLocked", cfg.DB.DSN, second, err)
	}
	for _, want := range []string{"PUSHGATE_DB_DSN", cfg.DB.DSN, "in use by another pushgate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second New's error %q does not name %q", err, want)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := pushgate.New(cfg, events.NewMux(), quiet())
	if err != nil {
		t.Fatalf("New after the first closed = %v", err)
	}
	third.Close()
}

// TestStartupErrors checks that each start-up error names the setting, its
// value and the cause, once.
func TestStartupErrors(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Log("running as root: the permission case is left out")
	}
	roDir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(roDir, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tune func(*configs.Config)
		want []string
		skip bool
	}{
		{"missing directory", func(c *configs.Config) { c.DB.DSN = "/nonexistent-dir/x/pushgate.db" },
			[]string{"PUSHGATE_DB_DSN", "/nonexistent-dir/x/pushgate.db", "no such file or directory"}, false},
		{"permission", func(c *configs.Config) { c.DB.DSN = filepath.Join(roDir, "pushgate.db") },
			[]string{"PUSHGATE_DB_DSN", roDir, "permission denied"}, os.Geteuid() == 0},
		{"postgres with the sqlite default", func(c *configs.Config) { c.DB.Driver, c.DB.DSN = "postgres", "pushgate.db" },
			[]string{"PUSHGATE_DB_DRIVER=postgres", `"pushgate.db"`, "SQLite file name"}, false},
	}
	for _, tc := range tests {
		if tc.skip {
			continue
		}
		cfg := testConfig(t)
		tc.tune(cfg)
		var logs strings.Builder
		svc, err := pushgate.New(cfg, events.NewMux(), pushgate.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err == nil {
			svc.Close()
			t.Errorf("%s: New = nil error, want one", tc.name)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: New's error %q does not contain %q", tc.name, err, want)
			}
		}
		if strings.Contains(err.Error(), "models:") {
			t.Errorf("%s: New's error %q carries an internal prefix", tc.name, err)
		}
		if logs.Len() > 0 {
			t.Errorf("%s: New logged before returning its error: %q", tc.name, logs.String())
		}
	}
}

// TestListenNamesTakenPort checks the error of a taken port.
func TestListenNamesTakenPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Addr = ln.Addr().String()
	_, err = pushgate.Listen(cfg)
	if err == nil || !strings.Contains(err.Error(), "PUSHGATE_ADDR") || !strings.Contains(err.Error(), cfg.Addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Listen(%s) on a taken port = %v, want an error naming PUSHGATE_ADDR, the address and the cause", cfg.Addr, err)
	}
}

// TestHandlerNeedsStart checks that Handler refuses to serve before Start,
// serves under a prefix once started, and refuses again after Close.
func TestHandlerNeedsStart(t *testing.T) {
	t.Parallel()
	svc, err := pushgate.New(testConfig(t), events.NewMux(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pushgate/", http.StripPrefix("/pushgate", svc.Handler()))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	get := func() (int, string) {
		resp, err := http.Get(ts.URL + "/pushgate/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(); status != http.StatusServiceUnavailable || !strings.Contains(body, "Start") {
		t.Errorf("before Start: GET /pushgate/healthz = %d %q, want 503 saying to call Start", status, body)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, body := get(); status != http.StatusOK {
		t.Errorf("after Start: GET /pushgate/healthz = %d %q, want 200", status, body)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if status, _ := get(); status != http.StatusServiceUnavailable {
		t.Errorf("after Close: GET /pushgate/healthz = %d, want 503", status)
	}
}

// TestUnknownKindWarned checks that a handler for a kind no decoder
// produces is reported at start-up.
func TestUnknownKindWarned(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	mux := events.NewMux()
	mux.HandleKind("event.click", events.HandlerFunc(func(context.Context, events.Event) (events.Reply, error) { return nil, nil }))
	svc, err := pushgate.New(testConfig(t), mux, pushgate.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "event.click") {
		t.Errorf("start-up logs = %q, want a warning naming event.click", logs.String())
	}
}
