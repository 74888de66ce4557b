package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pushgate/pushgate/events"
)

// Result sources: where a stored result came from.
const (
	// SourceServiceMarket marks the result of a servicemarket_async_api_result push (seed 000).
	SourceServiceMarket = "servicemarket"
	// SourceCallback marks a process's answer posted to its callback URL (seed 001).
	SourceCallback = "callback"
)

// ResultsChannel is the PostgreSQL NOTIFY channel on which the request id of
// every newly stored result is announced, in the transaction that stores it.
// NOTIFY channels are database-wide: a Store whose tables live in a schema
// other than public uses this name with a suffix of its schema (see
// Store.Channel), so deployments sharing one database never hear each other.
const ResultsChannel = "pushgate_results"

// Result is the outcome of an asynchronous request, keyed by its request id
// (table "results"): an async API's result pushed by the platform, or the
// answer a process posted to its callback URL.
type Result struct {
	RequestID string `gorm:"primaryKey" json:"request_id"`
	Source    string `gorm:"not null" json:"source"` // SourceServiceMarket or SourceCallback
	// Api is the async API's name; "" for a callback.
	Api string `gorm:"not null" json:"api"`
	// Service is the provider's service id, or the conv_id of a callback's process.
	Service string `gorm:"not null" json:"service"`
	// Data is the result as received; IsJSON tells whether it is a JSON document.
	Data       []byte    `json:"-"`
	IsJSON     bool      `gorm:"not null" json:"-"`
	ReceivedAt time.Time `gorm:"not null" json:"received_at"`
	ExpiresAt  time.Time `gorm:"not null;index:idx_results_expires_at" json:"expires_at"`
}

// TableName pins the table name.
func (Result) TableName() string { return "results" }

// Value returns Data as JSON: the document itself when IsJSON, else Data as a
// JSON string.
func (r *Result) Value() json.RawMessage {
	if r.IsJSON && json.Valid(r.Data) {
		return json.RawMessage(r.Data)
	}
	b, _ := json.Marshal(string(r.Data)) // a string always marshals
	return b
}

// Expired reports whether r is no longer retrievable at now.
func (r *Result) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

func init() { registerModels(&Result{}, &PendingRequest{}) }

const insertResultSQL = `INSERT INTO results (request_id, source, api, service, data, is_json, received_at, expires_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`

// SaveResult stores r unless a result with its RequestID exists (the first one
// is kept) and reports whether it stored it. It returns after the commit, which
// on PostgreSQL also announces the request id on ResultsChannel. The write is
// group-committed with the Store's other writes.
func (s *Store) SaveResult(ctx context.Context, r *Result) (created bool, err error) {
	if r.RequestID == "" {
		return false, fmt.Errorf("models: save result: empty request id: %w", ErrInvalid)
	}
	row := normaliseResult(r)
	err = s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		created = false
		var err error
		created, err = s.insertResult(ctx, tx, &row)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("models: save result %q: %w", r.RequestID, err)
	}
	return created, nil
}

// QueueResult is SaveResult without waiting: the result joins the writer's next
// batch (Close flushes it) and an error, should the write fail, is only logged.
// Use it where the result is already recoverable otherwise (see ResultFromEvent).
func (s *Store) QueueResult(ctx context.Context, r *Result) error {
	if r.RequestID == "" {
		return fmt.Errorf("models: queue result: empty request id: %w", ErrInvalid)
	}
	row := normaliseResult(r)
	err := s.groupExec(ctx, false, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.insertResult(ctx, tx, &row)
		return err
	})
	if err != nil {
		return fmt.Errorf("models: queue result %q: %w", r.RequestID, err)
	}
	return nil
}

// normaliseResult returns a copy of r fit for storage.
func normaliseResult(r *Result) Result {
	row := *r
	row.ReceivedAt = dbTime(row.ReceivedAt)
	row.ExpiresAt = dbTime(row.ExpiresAt)
	if row.Data == nil {
		row.Data = []byte{}
	}
	return row
}

// insertResult inserts r in tx and, when it was new and the database is
// PostgreSQL, announces it on the Store's ResultsChannel (delivered at commit).
func (s *Store) insertResult(ctx context.Context, tx *sql.Tx, r *Result) (bool, error) {
	res, err := tx.ExecContext(ctx, s.rebind(insertResultSQL), r.RequestID, r.Source, r.Api, r.Service,
		r.Data, r.IsJSON, r.ReceivedAt, r.ExpiresAt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	if s.driver == DriverPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.Channel(ResultsChannel), r.RequestID); err != nil {
			return false, err
		}
	}
	return true, nil
}

// GetResult returns the stored result for requestID, or an error wrapping
// ErrNotFound. It returns expired results too (see Result.Expired).
func (s *Store) GetResult(ctx context.Context, requestID string) (*Result, error) {
	if err := s.checkOpen("get result"); err != nil {
		return nil, err
	}
	// Plain database/sql: waiters call this by the thousand, and GORM's
	// reflection costs several times the allocations (and stack).
	var r Result
	err := s.sqlDB.QueryRowContext(ctx, s.rebind(`SELECT request_id, source, api, service, data, is_json,
 received_at, expires_at FROM results WHERE request_id = ?`), requestID).
		Scan(&r.RequestID, &r.Source, &r.Api, &r.Service, &r.Data, &r.IsJSON, &r.ReceivedAt, &r.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("models: result %q: %w", requestID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get result %q: %w", requestID, err)
	}
	r.ReceivedAt, r.ExpiresAt = r.ReceivedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

// asyncResultKind is the kind of seed 000's push.
var asyncResultKind = (&events.AsyncAPIResult{}).Kind()

// ResultFromEvent rebuilds the result of the stored servicemarket_async_api_result
// push with requestID, for when the push was committed but its result was not
// (a crash between the two). ReceivedAt is the push's; ExpiresAt is left zero
// for the caller, who knows the validity. Unknown: an error wrapping ErrNotFound.
func (s *Store) ResultFromEvent(ctx context.Context, requestID string) (*Result, error) {
	if err := s.checkOpen("result from event"); err != nil {
		return nil, err
	}
	var (
		receivedAt time.Time
		payload    []byte
	)
	err := s.sqlDB.QueryRowContext(ctx, s.rebind(`SELECT received_at, payload FROM events
 WHERE request_id = ? AND `+requestIDCond+` AND kind = ? LIMIT 1`), requestID, asyncResultKind).Scan(&receivedAt, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("models: async result event %q: %w", requestID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: async result event %q: %w", requestID, err)
	}
	var p struct{ Api, Data, Service string } // the fields of events.AsyncAPIResult's payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("models: async result event %q: payload: %w", requestID, err)
	}
	return &Result{
		RequestID:  requestID,
		Source:     SourceServiceMarket,
		Api:        p.Api,
		Service:    p.Service,
		Data:       []byte(p.Data),
		IsJSON:     json.Valid([]byte(p.Data)),
		ReceivedAt: receivedAt.UTC(),
	}, nil
}

// isJSON reports whether b is one JSON document.
func isJSON(b []byte) bool { return json.Valid(b) }
