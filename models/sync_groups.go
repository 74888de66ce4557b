package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Sync group statuses. A group is created "open"; the claim that completes it
// makes it "notifying" (its final answer is rendered and kept in Body), and
// once the answer is handed to the notifier it is "notified".
const (
	GroupOpen      = "open"
	GroupNotifying = "notifying"
	GroupNotified  = "notified"
)

// ErrClaimLost is returned by MarkSyncGroupNotified and ReleaseSyncGroup when
// the claim they name is no longer the group's: its lease ran out and another
// claim replaced it, or the group was notified meanwhile.
var ErrClaimLost = errors.New("sync group claim lost")

func init() { registerModels(&SyncGroup{}) }

// SyncGroup is an async sync request (seed 001 with a notify_url) as a whole
// (table "sync_groups"): its ops' pending requests (their GroupID is the
// group's ID), where its final answer goes, and until when it waits. It makes
// the completion durable: whichever replica stores the last answer, or any
// replica's sweep once the deadline passed, claims the group (a conditional
// update, so only one does), renders the final answer from the stored rows
// and hands it to the notifier.
//
// DueAt is when a sweep may claim the group: its Deadline while it is open,
// the end of the current claim's lease while it is notifying.
type SyncGroup struct {
	ID        string `gorm:"primaryKey" json:"id"`
	NotifyURL string `gorm:"not null" json:"notify_url"`
	// RequestIDs are the ops' pending request ids in op order, space-separated.
	RequestIDs string    `gorm:"not null" json:"request_ids"`
	CreatedAt  time.Time `gorm:"not null" json:"created_at"`
	Deadline   time.Time `gorm:"not null" json:"deadline"`
	Status     string    `gorm:"not null;index:idx_sync_groups_due,priority:1" json:"status"`
	DueAt      time.Time `gorm:"not null;index:idx_sync_groups_due,priority:2" json:"due_at"`
	// Claim is the token of the current claim; 0 = unclaimed.
	Claim int64 `gorm:"not null" json:"-"`
	// Body is the final answer, rendered by the first claim: every later
	// claim (after a claimer died) hands on the same bytes.
	Body       []byte     `json:"-"`
	DeliveryID int64      `gorm:"not null" json:"delivery_id"` // the notifier's; 0 until notified
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	// ExpiresAt is when a notified group may be pruned. Open groups are never
	// pruned: a sweep completes them first.
	ExpiresAt time.Time `gorm:"not null;index:idx_sync_groups_expires_at" json:"expires_at"`
}

// TableName pins the table name.
func (SyncGroup) TableName() string { return "sync_groups" }

// Requests returns the ops' request ids in op order.
func (g *SyncGroup) Requests() []string { return strings.Fields(g.RequestIDs) }

// SyncOp is one op of a group as its claim found it.
type SyncOp struct {
	RequestID string
	// Status is RequestAnswered, RequestFailed or RequestTimedOut; "" when the
	// pending request is gone (pruned): treat it as timed out.
	Status string
	// Error is why the task could not be handed over (RequestFailed).
	Error string
	// Answer is the stored answer of an answered op; nil if it was pruned.
	Answer *Result
}

// SyncClaim is a claimed group: hand Body to NotifyURL, then call
// MarkSyncGroupNotified (or ReleaseSyncGroup if that failed) with Claim
// before the lease ends.
type SyncClaim struct {
	GroupID   string
	NotifyURL string
	Claim     int64
	Body      []byte
}

// ClaimCondition says when ClaimSyncGroup claims a group.
type ClaimCondition int

const (
	// ClaimIfSettled claims an open group none of whose ops is pending: the
	// last answer (or failure) was committed. Try it after each one.
	ClaimIfSettled ClaimCondition = iota + 1
	// ClaimIfOpen claims an open group whatever its ops; those still pending
	// time out. For the owner of the group's deadline timer.
	ClaimIfOpen
	// ClaimIfDue claims a group not yet notified whose DueAt passed: open past
	// its deadline (pending ops time out), or notifying under a claim whose
	// lease ran out (its claimer died or failed). For the sweep.
	ClaimIfDue
)

// CreateSyncGroup stores g, open and due at its Deadline, and its ops' pending
// requests (in op order; their GroupID is set to g.ID), in one transaction. A
// zero CreatedAt means the Store's clock, a zero ExpiresAt Deadline plus a day.
func (s *Store) CreateSyncGroup(ctx context.Context, g *SyncGroup, ops []*PendingRequest) error {
	if g.ID == "" || len(ops) == 0 {
		return fmt.Errorf("models: create sync group: empty id or no ops: %w", ErrInvalid)
	}
	ids := make([]string, len(ops))
	for i, p := range ops {
		if strings.ContainsAny(p.ID, " \t\n") {
			return fmt.Errorf("models: create sync group: request id %q has a space: %w", p.ID, ErrInvalid)
		}
		p.GroupID = g.ID
		if err := s.preparePending(p); err != nil {
			return fmt.Errorf("models: create sync group: %w", err)
		}
		ids[i] = p.ID
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	if g.ExpiresAt.IsZero() {
		g.ExpiresAt = g.Deadline.Add(24 * time.Hour)
	}
	g.RequestIDs = strings.Join(ids, " ")
	g.CreatedAt, g.Deadline, g.ExpiresAt = dbTime(g.CreatedAt), dbTime(g.Deadline), dbTime(g.ExpiresAt)
	g.Status, g.DueAt, g.Claim, g.Body, g.DeliveryID, g.NotifiedAt = GroupOpen, g.Deadline, 0, nil, 0, nil
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO sync_groups
 (id, notify_url, request_ids, created_at, deadline, status, due_at, claim, delivery_id, expires_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?)`), g.ID, g.NotifyURL, g.RequestIDs, g.CreatedAt, g.Deadline,
			g.Status, g.DueAt, g.ExpiresAt); err != nil {
			return err
		}
		for _, p := range ops {
			if err := s.insertPending(ctx, tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("models: create sync group: %w", err)
	}
	return nil
}

// GetSyncGroup returns group id, or an error wrapping ErrNotFound.
func (s *Store) GetSyncGroup(ctx context.Context, id string) (*SyncGroup, error) {
	if err := s.checkOpen("get sync group"); err != nil {
		return nil, err
	}
	var g SyncGroup
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&g).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: sync group: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get sync group: %w", err)
	}
	return &g, nil
}

// ClaimSyncGroup claims group id if cond holds at now, for lease, and returns
// the claim; nil (and no error) when the group is not claimable (another
// claim won, it was notified, its ops are not all settled...). The claim is a
// conditional update, so of replicas racing for a group exactly one wins.
//
// The first claim of a group times out its pending ops, reads every op (with
// its stored answer) and renders the final answer with render, in the claim's
// transaction; the rendered body is kept, and a later claim (the first
// claimer died before MarkSyncGroupNotified) returns the same body without
// calling render. render may run more than once (a retried batch) and must
// not touch the Store.
func (s *Store) ClaimSyncGroup(ctx context.Context, id string, cond ClaimCondition, now time.Time, lease time.Duration,
	render func(ops []SyncOp) ([]byte, error)) (*SyncClaim, error) {
	where := ""
	args := []any{}
	switch cond {
	case ClaimIfSettled:
		where = `status = ? AND NOT EXISTS (SELECT 1 FROM pending_requests WHERE group_id = ? AND status = ?)`
		args = append(args, GroupOpen, id, RequestPending)
	case ClaimIfOpen:
		where = `status = ?`
		args = append(args, GroupOpen)
	case ClaimIfDue:
		where = `status <> ? AND due_at <= ?`
		args = append(args, GroupNotified, dbTime(now))
	default:
		return nil, fmt.Errorf("models: claim sync group: condition %d: %w", cond, ErrInvalid)
	}
	token := s.NewID()
	due := dbTime(now.Add(lease))
	claimSQL := s.rebind(`UPDATE sync_groups SET status = ?, claim = ?, due_at = ? WHERE id = ? AND ` + where +
		` RETURNING notify_url, request_ids, body`)
	claimArgs := append([]any{GroupNotifying, token, due, id}, args...)
	var claim *SyncClaim
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		claim = nil
		c := SyncClaim{GroupID: id, Claim: token}
		var ids string
		err := tx.QueryRowContext(ctx, claimSQL, claimArgs...).Scan(&c.NotifyURL, &ids, &c.Body)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(c.Body) == 0 {
			if c.Body, err = s.renderSyncGroup(ctx, tx, id, strings.Fields(ids), render); err != nil {
				return err
			}
		}
		claim = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("models: claim sync group %q: %w", id, err)
	}
	return claim, nil
}

// renderSyncGroup times out the group's pending ops, reads every op and its
// answer, renders the final answer and keeps it in the group's row.
func (s *Store) renderSyncGroup(ctx context.Context, tx *sql.Tx, id string, ids []string,
	render func(ops []SyncOp) ([]byte, error)) ([]byte, error) {
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE pending_requests SET status = ? WHERE group_id = ? AND status = ?`),
		RequestTimedOut, id, RequestPending); err != nil {
		return nil, err
	}
	ops := make([]SyncOp, len(ids))
	byID := make(map[string]*SyncOp, len(ids))
	for i, rid := range ids {
		ops[i].RequestID = rid
		byID[rid] = &ops[i]
	}
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT id, status, error FROM pending_requests WHERE group_id = ?`), id)
	if err != nil {
		return nil, err
	}
	var answered []any
	for rows.Next() {
		var rid, status, reason string
		if err := rows.Scan(&rid, &status, &reason); err != nil {
			rows.Close()
			return nil, err
		}
		if op := byID[rid]; op != nil {
			op.Status, op.Error = status, reason
			if status == RequestAnswered {
				answered = append(answered, rid)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(answered) > 0 {
		rows, err := tx.QueryContext(ctx, s.rebind(`SELECT request_id, source, api, service, data, is_json, received_at, expires_at
 FROM results WHERE request_id IN (`+placeholders(len(answered))+`)`), answered...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r Result
			if err := rows.Scan(&r.RequestID, &r.Source, &r.Api, &r.Service, &r.Data, &r.IsJSON, &r.ReceivedAt, &r.ExpiresAt); err != nil {
				rows.Close()
				return nil, err
			}
			if op := byID[r.RequestID]; op != nil {
				r.ReceivedAt, r.ExpiresAt = r.ReceivedAt.UTC(), r.ExpiresAt.UTC()
				op.Answer = &r
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	body, err := render(ops)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if len(body) == 0 {
		return nil, errors.New("render: empty final answer")
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE sync_groups SET body = ? WHERE id = ?`), body, id); err != nil {
		return nil, err
	}
	return body, nil
}

// MarkSyncGroupNotified records that claim's final answer was handed to the
// notifier as delivery deliveryID: the group is done. It fails with
// ErrClaimLost if claim is no longer the group's.
func (s *Store) MarkSyncGroupNotified(ctx context.Context, id string, claim, deliveryID int64) error {
	now := dbTime(s.now())
	return s.updateClaimed(ctx, "mark sync group notified", id, claim,
		`UPDATE sync_groups SET status = ?, claim = 0, delivery_id = ?, notified_at = ? WHERE id = ? AND claim = ? AND status = ?`,
		GroupNotified, deliveryID, now, id, claim, GroupNotifying)
}

// ReleaseSyncGroup gives back claim, whose final answer could not be handed
// to the notifier: the group is due at once, for the next sweep of any
// replica. It fails with ErrClaimLost if claim is no longer the group's.
func (s *Store) ReleaseSyncGroup(ctx context.Context, id string, claim int64, now time.Time) error {
	return s.updateClaimed(ctx, "release sync group", id, claim,
		`UPDATE sync_groups SET claim = 0, due_at = ? WHERE id = ? AND claim = ? AND status = ?`,
		dbTime(now), id, claim, GroupNotifying)
}

func (s *Store) updateClaimed(ctx context.Context, what, id string, claim int64, q string, args ...any) error {
	q = s.rebind(q)
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return errSoft{fmt.Errorf("group %q claim %d: %w", id, claim, ErrClaimLost)}
	})
	if err != nil {
		return fmt.Errorf("models: %s: %w", what, err)
	}
	return nil
}

// DueSyncGroups returns the ids of at most limit groups a sweep may claim at
// now (see ClaimIfDue), the longest due first.
func (s *Store) DueSyncGroups(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if err := s.checkOpen("due sync groups"); err != nil {
		return nil, err
	}
	var ids []string
	err := s.db.WithContext(ctx).Model(&SyncGroup{}).
		Where("status IN ? AND due_at <= ?", []string{GroupOpen, GroupNotifying}, dbTime(now)).
		Order("due_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("models: due sync groups: %w", err)
	}
	return ids, nil
}

// PruneSyncGroups deletes the notified groups past their ExpiresAt at now and
// returns how many went. On PostgreSQL rows locked by another replica's
// pruning are left to it.
func (s *Store) PruneSyncGroups(ctx context.Context, now time.Time) (int64, error) {
	lock := ""
	if s.driver == DriverPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := s.rebind(`DELETE FROM sync_groups WHERE id IN
 (SELECT id FROM sync_groups WHERE status = ? AND expires_at <= ? LIMIT ?` + lock + `)`)
	var total int64
	for {
		var n int64
		err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, q, GroupNotified, dbTime(now), pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("models: prune sync groups: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}
