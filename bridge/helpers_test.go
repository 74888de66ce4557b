package bridge

import (
	"context"
	"github.com/pushgate/pushgate/internal/pgtest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema set-up

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// testPostgresDSN gives the test its own PostgreSQL schema (see internal/pgtest).
func testPostgresDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// testDSN returns a fresh database for drv.
func testDSN(t testing.TB, drv string) string {
	t.Helper()
	if drv == models.DriverPostgres {
		return testPostgresDSN(t)
	}
	return filepath.Join(t.TempDir(), "pushgate.db")
}

// clock is an adjustable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testConfig returns a valid config whose sync targets are targets.
func testConfig(targets map[string]string) *configs.Config {
	cfg := configs.Default()
	cfg.Sync.Targets = targets
	return cfg
}

// env is a Store and a started Bridge over it.
type env struct {
	store  *models.Store
	bridge *Bridge
}

// newEnv opens a Store on dsn and a started Bridge over it, both closed when
// the test ends.
func newEnv(t testing.TB, drv, dsn string, cfg *configs.Config, opt Options) env {
	t.Helper()
	ctx := context.Background()
	st, err := models.Open(ctx, drv, dsn, models.Options{Now: opt.Now})
	if err != nil {
		t.Fatalf("models.Open(%s) = %v", drv, err)
	}
	b, err := New(st, cfg, opt)
	if err != nil {
		st.Close()
		t.Fatalf("New = %v", err)
	}
	if err := b.Start(ctx); err != nil {
		st.Close()
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() {
		b.Close()
		st.Close()
	})
	return env{st, b}
}

// eachDriver runs f as a parallel subtest per driver.
func eachDriver(t *testing.T, f func(t *testing.T, drv string)) {
	t.Helper()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, drv)
		})
	}
}
