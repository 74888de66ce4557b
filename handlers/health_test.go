package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// healthz returns the status and body of GET /healthz.
func (ts *testServer) healthz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkHealthBody fails if an unauthenticated health body tells more than
// the driver: no DSN, host, port, user, database or schema name.
func checkHealthBody(t *testing.T, body, dsn string) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET /healthz body %q is not JSON: %v", body, err)
	}
	for _, secret := range append(strings.FieldsFunc(dsn, func(r rune) bool { return strings.ContainsRune(" =?&/", r) }),
		"127.0.0.1", "5432", "postgres=", "user", "pgtest_", "dbname", ".db") {
		if len(secret) >= 4 && secret != "sqlite" && secret != "postgres" && strings.Contains(body, secret) {
			t.Errorf("GET /healthz body %q reveals %q", body, secret)
		}
	}
}

// TestHealthzFollowsWriter: /healthz answers 503 while the database takes
// no writes (its write lock held outside, every commit failing) and 200
// again, by itself, once it does; its body reveals nothing of the DSN.
func TestHealthzFollowsWriter(t *testing.T) {
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			dsn := failFastDSN(t, drv)
			cfg := configs.Default()
			cfg.WeChat.Token = testToken
			cfg.AdminToken = testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, dsn
			ts := serveConfig(t, cfg, nil)
			if code, body := ts.healthz(t); code != http.StatusOK {
				t.Fatalf("GET /healthz = %d %s, want 200", code, body)
			}
			release := lockDatabase(t, drv, dsn)
			time.Sleep(1100 * time.Millisecond) // idle: the next check probes
			code, body := ts.healthz(t)
			if code != http.StatusServiceUnavailable {
				t.Errorf("GET /healthz while no write can commit = %d %s, want 503", code, body)
			}
			checkHealthBody(t, body, dsn)
			release()
			eventually(t, "/healthz to recover", func() bool { code, _ := ts.healthz(t); return code == http.StatusOK })
		})
	}
}

// TestHealthzReadOnlySQLite: the SQLite file made read-only (immutable,
// which binds root too) turns /healthz to 503 and pushes to 503; made
// writable again, both recover without a restart.
func TestHealthzReadOnlySQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushgate.db")
	ts := newTestServerAt(t, path)
	if code, body := ts.push(t, "text/xml", clickBody("before", 9000)); code != http.StatusOK {
		t.Fatalf("push = %d %s, want 200", code, body)
	}
	files := []string{path, path + "-wal"}
	if out, err := exec.Command("chattr", append([]string{"+i"}, files...)...).CombinedOutput(); err != nil {
		t.Skipf("chattr +i is unavailable here (it needs CAP_LINUX_IMMUTABLE and a file system that has it): %v %s; TestHealthzFollowsWriter covers a failing writer", err, out)
	}
	writable := func() {
		if out, err := exec.Command("chattr", append([]string{"-i"}, files...)...).CombinedOutput(); err != nil {
			t.Errorf("chattr -i: %v %s", err, out)
		}
	}
	t.Cleanup(writable)
	time.Sleep(1100 * time.Millisecond) // idle: the next check probes
	code, body := ts.healthz(t)
	if code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz on a read-only file = %d %s, want 503", code, body)
	}
	checkHealthBody(t, body, path)
	if code, body := ts.push(t, "text/xml", clickBody("during", 9001)); code != http.StatusServiceUnavailable {
		t.Errorf("push on a read-only file = %d %s, want 503", code, body)
	}
	writable()
	eventually(t, "/healthz to recover", func() bool { code, _ := ts.healthz(t); return code == http.StatusOK })
	for i := range 3 {
		if code, body := ts.push(t, "text/xml", clickBody(fmt.Sprint("after", i), 9002+i)); code != http.StatusOK {
			t.Errorf("push %d after the file is writable again = %d %s, want 200", i, code, body)
		}
	}
}
