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
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// TestSendForPlatforms: `pushgate send --account NAME` posts every fixture
// to an open_platform account (Open Platform events to its authorization
// event URL, the rest to its message URL for --authorizer) and every WeCom
// fixture to a wecom account, sealed as each route needs; all are stored
// with the right account and authorizer.
func TestSendForPlatforms(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushgate.yaml")
	yaml := `
accounts:
  - name: platform
    kind: open_platform
    token: send-platform-token
    app_id: wx304925fbea25bcbe
    aes_key: "` + sendAESKey + `"
  - name: corp
    kind: wecom
    token: send-corp-token
    aes_key: "` + sendAESKey + `"
    receive_id: [ww_corp, suite_1]
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

	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	component, wecom := 0, 0
	for _, p := range pushes {
		if strings.HasPrefix(p.Kind, "component.") || strings.HasPrefix(p.Name, "unknown~component") {
			component++
		}
		switch p.Kind {
		case "event.change_contact", "event.change_external_contact", "event.enter_agent":
			wecom++
			continue
		}
		if strings.HasSuffix(p.Name, "~wecom") {
			wecom++
		}
	}
	for _, c := range []struct {
		args []string
		sent int
	}{
		{[]string{"--account", "platform", "--authorizer", "wx_authorizer_1"}, len(pushes)},
		{[]string{"--account", "corp"}, wecom},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"send", "--server", ts.URL, "--config", path}, c.args...)
		if err := pushgate.Run(context.Background(), events.NewMux(), args, &out, &errOut); err != nil {
			t.Fatalf("send %v: %v (%s)\n%s", c.args, err, errOut.String(), out.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != c.sent {
			t.Errorf("send %v posted %d pushes, want %d", c.args, len(lines), c.sent)
		}
		for _, line := range lines {
			if !strings.Contains(line, " 200 ") {
				t.Errorf("send %v: %q, want 200", c.args, line)
			}
		}
	}
	ctx := context.Background()
	count := func(f models.EventFilter) int {
		f.Limit = 500
		rows, _, err := store.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	all := count(models.EventFilter{Account: "platform"})
	authorized := count(models.EventFilter{Account: "platform", AuthorizerAppID: "wx_authorizer_1"})
	if authorized == 0 || all-authorized != component {
		t.Errorf("platform: %d events, %d for wx_authorizer_1; want %d on the authorization event URL", all, authorized, component)
	}
	if got := count(models.EventFilter{Account: "corp"}); got != wecom {
		t.Errorf("corp: %d events, want %d", got, wecom)
	}
	var out bytes.Buffer
	list := []string{"events", "list", "--server", ts.URL, "--token", "send-admin-token", "--authorizer-appid", "wx_authorizer_1", "--limit", "500", "--json"}
	if err := pushgate.Run(ctx, events.NewMux(), list, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"authorizer_appid":"wx_authorizer_1"`); n != authorized || strings.Count(out.String(), "\n") != authorized {
		t.Errorf("events list --authorizer-appid wx_authorizer_1: %d lines of it in\n%s\nwant %d", n, out.String(), authorized)
	}
}
