package pushgate_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

const sendAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// TestSendForAccounts: `pushgate send --account NAME --config FILE` signs
// (and, for a safe-mode account, seals) pushes with that account's
// credentials, on its route; `pushgate events list --account NAME` lists
// them.
func TestSendForAccounts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushgate.yaml")
	yaml := `
wechat:
  token: send-default-token
accounts:
  - name: shop
    token: send-shop-token
    app_id: wx_shop
    aes_key: "` + sendAESKey + `"
  - name: blog
    token: send-blog-token
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load([]string{"--config", path}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = "send-admin-token"
	log := slog.New(slog.DiscardHandler)
	store, err := models.Open(context.Background(), "sqlite", filepath.Join(dir, "pushgate.db"), models.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := handlers.New(handlers.Deps{Config: cfg, Store: store, Mux: events.NewMux(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	for _, c := range []struct {
		args []string
		want int // events of the account
	}{
		{[]string{"--config", path, "--account", "shop", "event.CLICK", "event.CLICK~json"}, 2},
		{[]string{"--config", path, "--account", "blog", "event.VIEW"}, 1},
		{[]string{"--config", path, "text"}, 1},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"send", "--server", ts.URL}, c.args...)
		if err := pushgate.Run(context.Background(), events.NewMux(), args, &out, &errOut); err != nil {
			t.Fatalf("send %v: %v (%s)", c.args, err, errOut.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.Contains(line, " 200 success") {
				t.Errorf("send %v: %q, want 200 success", c.args, line)
			}
		}
	}
	var out bytes.Buffer
	if err := pushgate.Run(context.Background(), events.NewMux(), []string{"events", "list", "--server", ts.URL, "--token", "send-admin-token", "--account", "shop", "--json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"account":"shop"`); n != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("events list --account shop:\n%s\nwant the 2 events of shop", out.String())
	}
	if err := pushgate.Run(context.Background(), events.NewMux(), []string{"send", "--server", ts.URL, "--config", path, "--account", "nope"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `account "nope" is not configured`) {
		t.Errorf("send --account nope = %v, want an error naming it", err)
	}
}
