package pushgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// runServe loads the settings, opens the store, recovers unfinished
// events and serves until ctx ends, then lets in-flight pushes finish.
func runServe(ctx context.Context, mux *events.Mux, args []string, stdout, stderr io.Writer) error {
	var fill func(*configs.Config)
	opts := []Option{}
	if i := slices.Index(args, "--dev"); i >= 0 {
		opts = append(opts, withDev())
		args = slices.Delete(slices.Clone(args), i, i+1)
		fill = devTokens(stdout)
	}
	cfg, err := configs.LoadFilling(args, os.Getenv, fill)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			serveUsage(stdout)
		}
		return err
	}
	if os.Getenv("GOGC") == "" {
		// Garbage collection is a large share of a push's cost; the heap
		// is small, so trade memory for CPU, within a soft limit.
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(512 << 20)
	}
	if procs := runtime.GOMAXPROCS(0); os.Getenv("GOMAXPROCS") == "" && cfg.DB.Driver == models.DriverSQLite && procs >= runtime.NumCPU() {
		// The store's writer spends its commits in fsync, inside a cgo
		// call; the runtime takes its P away after 20 µs and hands it back
		// after, unless another P is idle. One P more than the CPUs keeps
		// one idle more often (7-11% more pushes per second on 2 cores).
		// Not under a CPU quota (GOMAXPROCS below the CPUs): there the
		// extra P would only add throttling, and setting it would stop the
		// runtime following changes of the quota.
		runtime.GOMAXPROCS(procs + 1)
	}
	log := newLogger(stderr, cfg.LogLevel)
	// The command line's logger is the program's: handlers that log with
	// slog's default logger honour --log-level too.
	slog.SetDefault(log)
	if path := os.Getenv("PUSHGATE_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}

	// The port first: a taken port is found before the database is opened.
	ln, err := Listen(cfg)
	if err != nil {
		return err
	}
	svc, err := New(cfg, mux, append(opts, WithLogger(log))...)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stdout, "inspector: http://%s/ui/ (log in with the admin token)\n", ln.Addr())
	return svc.Serve(ctx, ln)
}

// pruneLoop deletes, every hour, what is older than retention and done
// with: handled events and succeeded deliveries, with their attempts.
func pruneLoop(ctx context.Context, store *models.Store, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for _, p := range []struct {
			what  string
			prune func(context.Context, time.Time) (int64, error)
		}{{"handled events", store.PruneHandled}, {"succeeded deliveries", store.PruneDeliveries}} {
			n, err := p.prune(ctx, time.Now().Add(-retention))
			if err != nil && ctx.Err() == nil {
				log.Error("pruning "+p.what, "err", err)
			} else if n > 0 {
				log.Info("pruned "+p.what, "count", n, "older_than", retention)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(events.LogHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})))
}

// serveUsage writes the help of serve: --dev, then the settings' flags and
// environment variables.
func serveUsage(w io.Writer) {
	var b strings.Builder
	configs.Usage(&b)
	fmt.Fprint(w, strings.Replace(b.String(), "Usage: pushgate serve [flags]\n", `Usage: pushgate serve [--dev] [flags]

  --dev
    	development: generate random WeChat, admin and API tokens for those
    	not set, and print them (sign pushes with the WeChat one:
    	pushgate send --token ...)
`, 1))
}

// devTokens gives each token that neither the --config file, the
// environment nor a flag set a random one, printed so the user can sign
// pushes and call the admin API.
func devTokens(stdout io.Writer) func(*configs.Config) {
	return func(c *configs.Config) {
		for _, t := range []struct {
			env   string
			value *string
		}{
			{"PUSHGATE_WECHAT_TOKEN", &c.WeChat.Token},
			{"PUSHGATE_ADMIN_TOKEN", &c.AdminToken},
			{"PUSHGATE_API_TOKEN", &c.APIToken},
		} {
			if *t.value == "" {
				b := make([]byte, 12)
				_, _ = rand.Read(b)
				*t.value = "dev-" + hex.EncodeToString(b)
				fmt.Fprintf(stdout, "development %s=%s\n", t.env, *t.value)
			}
		}
	}
}

// startCPUProfile writes a CPU profile to path until the returned func is
// called: PUSHGATE_CPUPROFILE=cpu.out pushgate serve, then go tool pprof.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// redactDSN returns dsn without its password, for the logs: a URL's
// (postgres://user:PASSWORD@host/db, or ?password=) as xxxxx, a keyword
// DSN's (password=...) and all after it as ***.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	if i := strings.Index(dsn, "password="); i >= 0 {
		return dsn[:i] + "password=***"
	}
	return dsn
}
