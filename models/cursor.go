package models

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Page sizes of the listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// pageSize applies the default and the cap to a requested limit.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// cursorVersion leads every cursor so that the encoding can change later.
const cursorVersion = 1

// encodeCursor makes the opaque cursor that continues a newest-first listing
// after the row with id lastID.
func encodeCursor(lastID int64) string {
	var b [9]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], uint64(lastID))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor returns the id a cursor continues after; "" means from the
// newest row (ok false).
func decodeCursor(c string) (lastID int64, ok bool, err error) {
	if c == "" {
		return 0, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 9 || b[0] != cursorVersion {
		return 0, false, fmt.Errorf("models: cursor %q: %w", c, ErrInvalid)
	}
	return int64(binary.BigEndian.Uint64(b[1:])), true, nil
}

// nextCursor trims a page fetched with limit+1 rows to limit and returns the
// cursor of the next page ("" when this is the last).
func nextCursor[T any](rows []T, limit int, id func(*T) int64) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(id(&rows[limit-1]))
}
