package models

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// A signed URL carries one push (NewEvent.NonceKey). The event row of a
// push holds the nonce key of its first arrival; a retry arrives under a
// URL of its own and is counted as a duplicate, so no event row holds the
// retry's nonce key. It is kept in used_nonces instead, with the push's
// dedupe key, so that the retry's URL (whose signature, in plaintext mode,
// does not cover the body) cannot carry another push within the freshness
// window.

// UsedNonce is the nonce key of a push counted as a duplicate (table
// "used_nonces").
type UsedNonce struct {
	NonceKey  string    `gorm:"primaryKey"`
	DedupeKey string    `gorm:"not null"`
	SeenAt    time.Time `gorm:"not null;index"`
}

func init() { registerModels(&UsedNonce{}) }

// recordNonce keeps the nonce key of op, a duplicate: an error (errSoft
// wrapping ErrNonceUsed) when it carried another push before.
func (s *Store) recordNonce(b *batchTx, op *writeOp) error {
	e := &op.ev
	if e.NonceKey == "" {
		return nil
	}
	n, err := b.exec(stmtNonceRecord, e.NonceKey, e.DedupeKey, e.ReceivedAt)
	if err != nil || n == 1 {
		return err
	}
	return s.nonceFree(b, op)
}

// nonceFree checks that op's nonce key was not kept for another push.
func (s *Store) nonceFree(b *batchTx, op *writeOp) error {
	e := &op.ev
	if e.NonceKey == "" {
		return nil
	}
	var key string
	err := b.stmt(stmtNonceUsedBy).QueryRow(e.NonceKey).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if key != e.DedupeKey {
		return errSoft{fmt.Errorf("nonce key %q carried the push %q: %w", e.NonceKey, key, ErrNonceUsed)}
	}
	return nil
}
