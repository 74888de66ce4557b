package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// OtherAuthorizer returns the app id of an authorizer other than authorizer
// for which account (an Open Platform account) stored a push to toUser, ""
// when there is none. A push's ToUserName is the original id of the
// account it is for, so it belongs to one authorizer: the same ToUserName
// on another authorizer's route is a push posted on the wrong route.
func (s *Store) OtherAuthorizer(ctx context.Context, account, toUser, authorizer string) (string, error) {
	if err := s.checkOpen("look up authorizer"); err != nil {
		return "", err
	}
	// Two seeks on idx_events_authorizer_to_user (account, to_user,
	// authorizer_appid), below and above authorizer: "<> authorizer" would
	// walk every row of the authorizer itself before it found another.
	var other string
	var err error
	for _, cond := range []string{"authorizer_appid < ?", "authorizer_appid > ?"} {
		err = s.sqlDB.QueryRowContext(ctx, s.rebind(`SELECT authorizer_appid FROM events
 WHERE account = ? AND to_user = ? AND authorizer_appid <> '' AND `+cond+` ORDER BY authorizer_appid LIMIT 1`),
			accountOrDefault(account), toUser, authorizer).Scan(&other)
		if !errors.Is(err, sql.ErrNoRows) {
			break
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("models: look up authorizer: %w", err)
	}
	return other, nil
}
