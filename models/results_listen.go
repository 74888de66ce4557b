package models

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// listenHeartbeat is how long the results listener waits for a notification
// before it checks that its connection is still alive.
const listenHeartbeat = 30 * time.Second

// ListenResults reports the request id of every result stored by any Store on
// this PostgreSQL database (see ResultsChannel) to onResult, until ctx ends or
// the connection fails; it then returns the reason (ctx.Err() when ctx ended).
// Callers reconnect by calling it again. listening, if not nil, is called once
// the LISTEN is in place: results stored before then were not reported, so the
// caller should re-check what it waits for. The listener holds one dedicated
// connection, outside the Store's pool. On SQLite it returns ErrUnsupportedDriver.
func (s *Store) ListenResults(ctx context.Context, listening func(), onResult func(requestID string)) error {
	return s.listen(ctx, "listen results", s.Channel(ResultsChannel), listening, onResult)
}

// listen holds a LISTEN on channel on a dedicated connection and reports
// each payload to on; see ListenResults.
func (s *Store) listen(ctx context.Context, what, channel string, listening func(), on func(payload string)) error {
	if s.driver != DriverPostgres {
		return fmt.Errorf("models: %s on %s: %w", what, s.driver, ErrUnsupportedDriver)
	}
	if err := s.checkOpen(what); err != nil {
		return err
	}
	cfg, err := s.pgConfig(ctx)
	if err != nil {
		return fmt.Errorf("models: %s: %w", what, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("models: %s: connect: %w", what, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("models: %s: %w", what, err)
	}
	if listening != nil {
		listening()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			on(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed():
			return fmt.Errorf("models: %s: %w", what, err)
		}
		// Quiet for a while: make sure the connection still works.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("models: %s: heartbeat: %w", what, err)
		}
	}
}

// Channel returns the NOTIFY channel this Store uses for base
// (ResultsChannel, EventsChannel). Channels are database-wide while the
// Store's tables are in its schema (current_schema() when it opened): in
// public the channel is base itself, as before schemas were told apart;
// elsewhere base + "_" + 16 hex digits of a hash of the schema's name.
func (s *Store) Channel(base string) string {
	if s.schema == "" || s.schema == "public" {
		return base
	}
	h := fnv.New64a()
	h.Write([]byte(s.schema))
	return fmt.Sprintf("%s_%016x", base, h.Sum64())
}

// pgConfig returns a copy of the connection settings of the Store's pool, so a
// dedicated connection reaches the same database, user and search_path.
func (s *Store) pgConfig(ctx context.Context) (*pgx.ConnConfig, error) {
	c, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var cfg *pgx.ConnConfig
	err = c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		cfg = sc.Conn().Config().Copy()
		// The pool connection's notification hook points at that connection;
		// the new one must buffer its own.
		cfg.OnNotification = nil
		return nil
	})
	return cfg, err
}
