package pushgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// ErrLocked is returned by New when another pushgate holds the SQLite
// database file: SQLite has one owner process (use PostgreSQL for several
// replicas).
var ErrLocked = errors.New("the database file is in use by another pushgate (one process owns an SQLite file; use PostgreSQL for several)")

// openStore opens cfg's database, with errors that name the setting, the
// value and the cause. On an SQLite file it first takes the file's lock and
// returns the func that releases it.
func openStore(cfg *configs.Config, o *options) (*models.Store, func(), error) {
	driver, dsn := cfg.DB.Driver, cfg.DB.DSN
	if o.dbErr != nil {
		return nil, nil, fmt.Errorf("database (WithGORM): %w", o.dbErr)
	}
	if o.db != nil {
		if o.dbDriver != "" {
			driver = o.dbDriver
		}
		store, err := models.OpenDB(context.Background(), driver, o.db, storeOptions(cfg, o))
		if err != nil {
			return nil, nil, fmt.Errorf("database (%s, given with WithDB or WithGORM): %w", driver, unwrapModels(err))
		}
		return store, nil, nil
	}
	where := fmt.Sprintf("database (PUSHGATE_DB_DRIVER=%s, PUSHGATE_DB_DSN=%q)", driver, redactDSN(dsn))
	var unlock func()
	switch driver {
	case models.DriverPostgres:
		if !strings.Contains(dsn, "=") && !strings.Contains(dsn, "://") {
			return nil, nil, fmt.Errorf("%s: the DSN looks like an SQLite file name but the driver is postgres: set PUSHGATE_DB_DSN (--db-dsn) to a PostgreSQL DSN such as \"host=127.0.0.1 user=postgres dbname=pushgate\" or a postgres:// URL", where)
		}
	case models.DriverSQLite:
		if path := sqlitePath(dsn); path != "" {
			var err error
			if unlock, err = lockFile(path); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	store, err := models.Open(context.Background(), driver, dsn, storeOptions(cfg, o))
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, nil, fmt.Errorf("%s: %w", where, unwrapModels(err))
	}
	return store, unlock, nil
}

func storeOptions(cfg *configs.Config, o *options) models.Options {
	return models.Options{
		Logger: o.log,
		Now:    o.now,
		// With no subscriber, no event owes a notification.
		BornNotified: len(cfg.NotifySubscribers()) == 0,
	}
}

// unwrapModels drops the "models: open ..." prefix of a models.Open error:
// the caller's message says which database.
func unwrapModels(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// sqlitePath returns the file an SQLite DSN names, "" for an in-memory
// database.
func sqlitePath(dsn string) string {
	if dsn == "" {
		dsn = models.DefaultSQLiteDSN
	}
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return ""
	}
	dsn = strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn = dsn[:i]
	}
	return dsn
}

// lockFile opens (creating it if need be) the database file and takes an
// exclusive lock on it, held until the returned func is called. It fails
// with ErrLocked when another pushgate holds it, and with the file's own
// error (a missing directory, a permission) otherwise.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot open %s: %w", pe.Path, pe.Err)
		}
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { unlock(f); f.Close() }, nil
}

// reportUnknownKinds logs, as a warning, the kinds mux has handlers for
// that no decoder produces: such a handler is never called unless a push of
// a kind pushgate does not know yet arrives under that exact kind.
func reportUnknownKinds(mux *events.Mux, log *slog.Logger) {
	if unknown := mux.UnknownKinds(); len(unknown) > 0 {
		log.Warn("handlers registered for kinds no decoder produces (check the spelling, e.g. event.CLICK; see events.Kinds)", "kinds", unknown)
	}
}
