package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// SaveRejected keeps a refused push. It assigns r.ID and r.ReceivedAt when
// zero and returns after the row is committed (group-committed like SaveEvent).
// Text no database column can hold alike (NUL, invalid UTF-8) in its text
// fields is escaped as \xNN; Raw keeps the body's bytes as they came.
func (s *Store) SaveRejected(ctx context.Context, r *Rejected) error {
	if r.ID == 0 {
		r.ID = s.NewID()
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = s.now()
	}
	r.ReceivedAt = dbTime(r.ReceivedAt)
	r.makeStorable()
	op := getOp(ctx, opRejected, true)
	op.rej = *r
	op.id = r.ID // the writer renews op.id after a collision with another replica
	owned, err := s.w.do(ctx, op)
	if owned {
		putOp(op)
	}
	if err != nil {
		return fmt.Errorf("models: save rejected push: %w", err)
	}
	return nil
}

func (s *Store) applyRejected(b *batchTx, op *writeOp) error {
	r := &op.rej
	_, err := b.exec(stmtInsertRejected, op.id, r.ReceivedAt, r.Account, r.Reason, r.Status, r.Query,
		r.RemoteAddr, r.ContentType, nullBytes(r.Raw), r.BodySize, r.BodySHA256, r.HTTPRequestID)
	return err
}

// ListRejected returns refused pushes newest first, at most limit (0 =
// DefaultPageSize, capped at MaxPageSize), and the cursor of the next page (""
// after the last). A malformed cursor wraps ErrInvalid. Raw is cut to
// ListBodyCap bytes by the database (RawLen gives its stored length):
// GetRejected has it whole.
func (s *Store) ListRejected(ctx context.Context, limit int, cursor string) ([]Rejected, string, error) {
	return s.ListRejectedBy(ctx, RejectedFilter{Limit: limit, Cursor: cursor})
}

// RejectedFilter selects refused pushes for ListRejectedBy. Empty fields
// match everything.
type RejectedFilter struct {
	Account string // the account the push was posted for
	Limit   int    // 0 = DefaultPageSize; capped at MaxPageSize
	Cursor  string // from a previous page; "" = newest
}

// ListRejectedBy is ListRejected with a filter.
func (s *Store) ListRejectedBy(ctx context.Context, f RejectedFilter) ([]Rejected, string, error) {
	if err := s.checkOpen("list rejected pushes"); err != nil {
		return nil, "", err
	}
	after, paged, err := decodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := pageSize(f.Limit)
	q := s.db.WithContext(ctx)
	if f.Account != "" {
		q = q.Where("account = ?", f.Account)
	}
	if paged {
		q = q.Where("id < ?", after)
	}
	var rows []Rejected
	if err := q.Select(s.rejectedListColumns()).Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", fmt.Errorf("models: list rejected pushes: %w", err)
	}
	rows, next := nextCursor(rows, limit, func(r *Rejected) int64 { return r.ID })
	return rows, next, nil
}

// GetRejected returns the refused push id with its whole stored body, or an
// error wrapping ErrNotFound.
func (s *Store) GetRejected(ctx context.Context, id int64) (*Rejected, error) {
	if err := s.checkOpen("get rejected push"); err != nil {
		return nil, err
	}
	var r Rejected
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("models: rejected push %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("models: get rejected push %d: %w", id, err)
	}
	return &r, nil
}
