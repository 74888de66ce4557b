package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrAlreadyAnswered is returned by AnswerPendingRequest for a request that
// was answered before: a callback URL is single use.
var ErrAlreadyAnswered = errors.New("already answered")

// Pending request statuses.
const (
	// RequestPending: the task was sent (or is about to be) and no answer came yet.
	RequestPending = "pending"
	// RequestAnswered: the process posted its answer; the result is stored.
	RequestAnswered = "answered"
	// RequestTimedOut: the waiter gave up. A late answer is still accepted and stored.
	RequestTimedOut = "timed_out"
	// RequestFailed: the task could not be handed to its process.
	RequestFailed = "failed"
)

// PendingRequest is a task sent to an asynchronous process that answers at
// its callback URL (table "pending_requests", seed 001). Its ID is the
// capability in that URL, so it must be unguessable.
type PendingRequest struct {
	ID        string `gorm:"primaryKey" json:"id"`
	ConvID    string `gorm:"not null" json:"conv_id"`
	TargetURL string `gorm:"not null" json:"target_url"`
	// NotifyURL is where the final answer goes in async mode; "" in sync mode.
	NotifyURL string    `gorm:"not null" json:"notify_url"`
	CreatedAt time.Time `gorm:"not null" json:"created_at"`
	// Deadline is when the waiter gives up.
	Deadline time.Time `gorm:"not null" json:"deadline"`
	// ResultValidity is how long the answer stays retrievable once it arrived.
	ResultValidity time.Duration `gorm:"not null" json:"result_validity"`
	// ExpiresAt is when the row may be pruned: Deadline+ResultValidity, or
	// once answered, AnsweredAt+ResultValidity.
	ExpiresAt  time.Time  `gorm:"not null;index:idx_pending_requests_expires_at" json:"expires_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	Status     string     `gorm:"not null" json:"status"`
	// GroupID is the SyncGroup of an async sync request's op; "" in sync mode.
	GroupID string `gorm:"not null;default:'';index:idx_pending_requests_group_id" json:"group_id,omitempty"`
	// Error says why the task could not be handed to its process (RequestFailed).
	Error string `gorm:"not null;default:''" json:"error,omitempty"`
}

// TableName pins the table name.
func (PendingRequest) TableName() string { return "pending_requests" }

// CreatePendingRequest stores p with status RequestPending. A zero CreatedAt
// means the Store's clock, a zero ExpiresAt Deadline+ResultValidity. It
// returns after the commit.
func (s *Store) CreatePendingRequest(ctx context.Context, p *PendingRequest) error {
	if err := s.preparePending(p); err != nil {
		return fmt.Errorf("models: create pending request: %w", err)
	}
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		return s.insertPending(ctx, tx, p)
	})
	if err != nil {
		return fmt.Errorf("models: create pending request: %w", err)
	}
	return nil
}

// preparePending checks p and sets its defaults and status for insertion.
func (s *Store) preparePending(p *PendingRequest) error {
	if p.ID == "" {
		return fmt.Errorf("empty id: %w", ErrInvalid)
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	if p.ExpiresAt.IsZero() {
		p.ExpiresAt = p.Deadline.Add(p.ResultValidity)
	}
	p.CreatedAt, p.Deadline, p.ExpiresAt = dbTime(p.CreatedAt), dbTime(p.Deadline), dbTime(p.ExpiresAt)
	p.Status, p.AnsweredAt, p.Error = RequestPending, nil, ""
	return nil
}

// insertPending inserts p, prepared by preparePending, in tx.
func (s *Store) insertPending(ctx context.Context, tx *sql.Tx, p *PendingRequest) error {
	_, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO pending_requests
 (id, conv_id, target_url, notify_url, created_at, deadline, result_validity, expires_at, status, group_id, error)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`), p.ID, p.ConvID, p.TargetURL, p.NotifyURL, p.CreatedAt, p.Deadline,
		int64(p.ResultValidity), p.ExpiresAt, p.Status, p.GroupID)
	return err
}

// GetPendingRequest returns the pending request id, or an error wrapping ErrNotFound.
func (s *Store) GetPendingRequest(ctx context.Context, id string) (*PendingRequest, error) {
	if err := s.checkOpen("get pending request"); err != nil {
		return nil, err
	}
	var p PendingRequest
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: pending request: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get pending request: %w", err)
	}
	return &p, nil
}

// AnswerPendingRequest records data as the answer to request id and stores it
// as the Result keyed by id (source SourceCallback, valid for the request's
// ResultValidity), in one transaction, and returns that Result. Only the first
// answer counts: a later one gets ErrAlreadyAnswered, also between replicas
// racing (the update is conditional on the status). An unknown id gets
// ErrNotFound. A request that timed out or failed still takes its answer.
func (s *Store) AnswerPendingRequest(ctx context.Context, id string, data []byte) (*Result, error) {
	res, _, err := s.AnswerGroupedRequest(ctx, id, data)
	return res, err
}

// AnswerGroupedRequest is AnswerPendingRequest that also returns the request's
// GroupID ("" for a request of no SyncGroup), so that the caller can try to
// complete the group (ClaimSyncGroup with ClaimIfSettled) once this answer is
// committed.
func (s *Store) AnswerGroupedRequest(ctx context.Context, id string, data []byte) (*Result, string, error) {
	now := dbTime(s.now())
	var (
		res   *Result
		group string
	)
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		res, group = nil, ""
		var (
			conv     string
			validity int64
		)
		err := tx.QueryRowContext(ctx, s.rebind(`UPDATE pending_requests SET status = ?, answered_at = ?
 WHERE id = ? AND status <> ? RETURNING conv_id, result_validity, group_id`),
			RequestAnswered, now, id, RequestAnswered).Scan(&conv, &validity, &group)
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.QueryRowContext(ctx, s.rebind(`SELECT count(*) FROM pending_requests WHERE id = ?`), id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return errSoft{ErrNotFound}
			}
			return errSoft{ErrAlreadyAnswered}
		}
		if err != nil {
			return err
		}
		expires := dbTime(now.Add(time.Duration(validity)))
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE pending_requests SET expires_at = ? WHERE id = ?`), expires, id); err != nil {
			return err
		}
		r := normaliseResult(&Result{
			RequestID: id, Source: SourceCallback, Service: conv, Data: data,
			IsJSON: isJSON(data), ReceivedAt: now, ExpiresAt: expires,
		})
		if _, err := s.insertResult(ctx, tx, &r); err != nil {
			return err
		}
		res = &r
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("models: answer pending request: %w", err)
	}
	return res, group, nil
}

// ClosePendingRequest moves request id from RequestPending to status
// (RequestTimedOut or RequestFailed) and reports whether it did: false when
// the request was answered (or closed) meanwhile, or does not exist.
func (s *Store) ClosePendingRequest(ctx context.Context, id, status string) (bool, error) {
	if status != RequestTimedOut && status != RequestFailed {
		return false, fmt.Errorf("models: close pending request: status %q: %w", status, ErrInvalid)
	}
	return s.closePending(ctx, id, status, "")
}

// FailPendingRequest is ClosePendingRequest with RequestFailed that also
// records why the task could not be handed to its process (the request's
// Error), for the final answer of its SyncGroup.
func (s *Store) FailPendingRequest(ctx context.Context, id, reason string) (bool, error) {
	return s.closePending(ctx, id, RequestFailed, reason)
}

func (s *Store) closePending(ctx context.Context, id, status, reason string) (bool, error) {
	var closed bool
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE pending_requests SET status = ?, error = ? WHERE id = ? AND status = ?`),
			status, reason, id, RequestPending)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		closed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("models: close pending request: %w", err)
	}
	return closed, nil
}
