package models

import (
	"context"
	"database/sql"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteWriterDriver is the driver name of the writer's connection: mattn's
// SQLite with automatic WAL checkpoints turned off. SQLite otherwise runs a
// checkpoint (copying the WAL into the database file and syncing it) inside
// whichever commit crosses 1000 WAL pages, which puts that work on the
// critical path of every push waiting on that commit. The Store's
// checkpointer does it in the background instead, on another connection.
const sqliteWriterDriver = "sqlite3_pushgate_writer"

func init() {
	sql.Register(sqliteWriterDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-16384", nil)
			return err
		},
	})
}

// checkpointEvery is how often the checkpointer copies the WAL back.
const checkpointEvery = time.Second

// checkpointer runs PASSIVE checkpoints on the general pool until ctx ends.
// A passive checkpoint never blocks the writer: it copies what it can and
// leaves the rest for next time.
func (s *Store) checkpointer(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.sqlDB.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
			s.log.Warn("sqlite checkpoint", "err", err)
		}
	}
}
