package models

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		got, ok, err := decodeCursor(encodeCursor(id))
		if err != nil || !ok || got != id {
			t.Errorf("decodeCursor(encodeCursor(%d)) = %d, %v, %v", id, got, ok, err)
		}
	}
	if _, ok, err := decodeCursor(""); ok || err != nil {
		t.Errorf(`decodeCursor("") = %v, %v; want no cursor`, ok, err)
	}
	if _, _, err := decodeCursor("%%"); !errors.Is(err, ErrInvalid) {
		t.Errorf("decodeCursor(bad) = %v, want ErrInvalid", err)
	}
}

func TestPageSize(t *testing.T) {
	for in, want := range map[int]int{-1: 50, 0: 50, 1: 1, 500: 500, 501: 500} {
		if got := pageSize(in); got != want {
			t.Errorf("pageSize(%d) = %d, want %d", in, got, want)
		}
	}
}
