package pushgate

import (
	"database/sql"
	"log/slog"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// Option changes how New builds a Service.
type Option func(*options)

type options struct {
	log        *slog.Logger
	now        func() time.Time
	middleware []events.Middleware
	routes     []handlers.Feature
	gauges     []handlers.Gauge
	registerer prometheus.Registerer // WithRegisterer
	// tracerProvider: WithTracerProvider's, else one from OTEL_* variables.
	tracerProvider trace.TracerProvider
	db             *sql.DB // WithDB, WithGORM: the caller's pool
	dbDriver       string  // WithGORM: its dialector's name
	dbErr          error   // WithGORM: the pool could not be had
	dev            bool    // serve --dev: the inspector's send panel
}

func (o *options) setDefaults(logLevel string) {
	if o.log == nil {
		o.log = newLogger(os.Stderr, logLevel)
	}
	if o.now == nil {
		o.now = time.Now
	}
}

// WithLogger sets the logger of every part; the default writes text to
// standard error at the configured log level (PUSHGATE_LOG_LEVEL).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock pushgate reads (time stamps of stored events
// and attempts, signature freshness, result validity, retry schedules);
// the default is time.Now. Tests use it to control time.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMiddleware adds middleware around every handler of the mux, inside
// pushgate's own (which turns a panic into a failure and logs failures).
// The first given is the outermost.
func WithMiddleware(mw ...events.Middleware) Option {
	return func(o *options) { o.middleware = append(o.middleware, mw...) }
}

// WithRoutes adds routes of your own to pushgate's HTTP handler: fn
// registers public routes on r, routes that need the API bearer token
// (PUSHGATE_API_TOKEN) on api, and routes that need the admin bearer token
// (PUSHGATE_ADMIN_TOKEN) on admin.
//
//	pushgate.WithRoutes(func(r, api, admin gin.IRouter) {
//		admin.GET("/v1/mine", func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
//	})
func WithRoutes(fn func(r, api, admin gin.IRouter)) Option {
	return func(o *options) { o.routes = append(o.routes, routesFunc(fn)) }
}

type routesFunc func(r, api, admin gin.IRouter)

func (f routesFunc) Routes(r, api, admin gin.IRouter) { f(r, api, admin) }

// WithGauge adds a gauge to GET /metrics: value is read at each scrape and
// reported as a Prometheus gauge called name, with help as its HELP line
// (a prometheus.GaugeFunc on the Service's registry, and on the one given
// to WithRegisterer).
func WithGauge(name, help string, value func() float64) Option {
	return func(o *options) {
		o.gauges = append(o.gauges, handlers.Gauge{Name: name, Help: help, Value: value})
	}
}

// WithDB stores in a database connection pool you opened (and close, after
// the Service): the driver is cfg's (PUSHGATE_DB_DRIVER) and its DSN is not
// used. pushgate migrates its tables in it. On SQLite, open the pool with
// the mattn/go-sqlite3 driver ("sqlite3") and the DSN parameters
// _journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate,
// which pushgate sets itself when it opens the file; the file is not locked
// against a second pushgate then.
func WithDB(db *sql.DB) Option { return func(o *options) { o.db, o.dbDriver = db, "" } }

// WithGORM stores in the database of a GORM connection you opened (SQLite
// or PostgreSQL, told by its dialector), as WithDB does with its pool.
func WithGORM(db *gorm.DB) Option {
	return func(o *options) {
		pool, err := db.DB()
		if err != nil {
			o.dbErr = err
			return
		}
		o.db, o.dbDriver = pool, db.Name()
	}
}

// withDev turns on what serve --dev adds: the inspector's panel that posts
// sample pushes signed with the (development) WeChat token.
func withDev() Option { return func(o *options) { o.dev = true } }
