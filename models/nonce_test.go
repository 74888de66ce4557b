package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestNonceKey: a push under a nonce key another push holds is refused with
// ErrNonceUsed; the same push again (same dedupe key) is a duplicate; the
// pushes of a batch (array statements on PostgreSQL) are settled alike.
func TestNonceKey(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		a := sampleEvent(1)
		a.NonceKey = "1700000000:default:n1"
		first := mustSave(t, s, a)
		if again := mustSave(t, s, a); !again.Duplicate || again.ID != first.ID {
			t.Errorf("SaveEvent(same push, same nonce) = %+v, want a duplicate of %d", again, first.ID)
		}
		b := sampleEvent(2)
		b.NonceKey = a.NonceKey
		if _, err := s.SaveEvent(ctx, b); !errors.Is(err, ErrNonceUsed) {
			t.Errorf("SaveEvent(another push, same nonce) = %v, want ErrNonceUsed", err)
		}
		b.NonceKey = "1700000000:shop:n1" // the same nonce for another account
		if got := mustSave(t, s, b); got.Duplicate {
			t.Errorf("SaveEvent(nonce of another account) = %+v, want a new event", got)
		}

		// Concurrent saves share batches: of each group of pushes under one
		// nonce key, exactly one is stored.
		const groups, per = 20, 4
		var (
			wg           sync.WaitGroup
			mu           sync.Mutex
			stored, used int
		)
		for g := range groups {
			for i := range per {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := sampleEvent(1000 + g*per + i)
					e.NonceKey = fmt.Sprintf("1700000001:default:g%d", g)
					_, err := s.SaveEvent(ctx, e)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						stored++
					case errors.Is(err, ErrNonceUsed):
						used++
					default:
						t.Errorf("SaveEvent = %v", err)
					}
				}()
			}
		}
		wg.Wait()
		if stored != groups || used != groups*(per-1) {
			t.Errorf("stored %d and refused %d, want %d and %d", stored, used, groups, groups*(per-1))
		}
	})
}

// TestAccountFilter: events and rejected pushes carry their account, and
// the listings filter by it; an event saved without one is "default".
func TestAccountFilter(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		for i, acct := range []string{"", "shop", "shop", "blog"} {
			e := sampleEvent(i)
			e.Account = acct
			if acct != "" {
				e.DedupeKey = acct + "/" + e.DedupeKey
			}
			mustSave(t, s, e)
			if err := s.SaveRejected(ctx, &Rejected{Account: acct, Reason: "r", Status: 400}); err != nil {
				t.Fatal(err)
			}
		}
		for acct, want := range map[string]int{"": 4, "default": 1, "shop": 2, "blog": 1, "nope": 0} {
			rows, _, err := s.ListEvents(ctx, EventFilter{Account: acct})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != want {
				t.Errorf("ListEvents(account %q) = %d events, want %d", acct, len(rows), want)
			}
			for _, r := range rows {
				if acct != "" && r.Account != acct {
					t.Errorf("ListEvents(account %q) returned an event of %q", acct, r.Account)
				}
			}
			rej, _, err := s.ListRejectedBy(ctx, RejectedFilter{Account: acct})
			if err != nil {
				t.Fatal(err)
			}
			wantRej := want
			if acct == "default" {
				wantRej = 0 // saved with "" (a refused push may name no account)
			}
			if len(rej) != wantRej {
				t.Errorf("ListRejectedBy(account %q) = %d, want %d", acct, len(rej), wantRej)
			}
		}
	})
}

// TestNonceOfDuplicate: a duplicate arrives under a nonce key of its own,
// which no event row holds; it is kept all the same, so another push under
// it is refused with ErrNonceUsed (one at a time, and among concurrent
// saves, which share batches: array statements on PostgreSQL), the same
// push again is a duplicate, and PruneHandled forgets it.
func TestNonceOfDuplicate(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		a := sampleEvent(1)
		a.NonceKey = "1700000000:default:first"
		first := mustSave(t, s, a)
		retry := *a
		retry.NonceKey = "1700000000:default:retry"
		for range 2 {
			if got := mustSave(t, s, &retry); !got.Duplicate || got.ID != first.ID {
				t.Errorf("SaveEvent(retry under its own nonce) = %+v, want a duplicate of %d", got, first.ID)
			}
		}
		b := sampleEvent(2)
		b.NonceKey = retry.NonceKey
		if _, err := s.SaveEvent(ctx, b); !errors.Is(err, ErrNonceUsed) {
			t.Errorf("SaveEvent(another push under the retry's nonce) = %v, want ErrNonceUsed", err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := sampleEvent(100 + i)
				if i%2 == 0 {
					e.NonceKey = retry.NonceKey
				}
				_, errs[i] = s.SaveEvent(ctx, e)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if want := i%2 == 0; errors.Is(err, ErrNonceUsed) != want || (!want && err != nil) {
				t.Errorf("concurrent SaveEvent %d (under the retry's nonce: %v) = %v", i, want, err)
			}
		}
		if _, err := s.PruneHandled(ctx, s.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM used_nonces`).Scan(&n); err != nil || n != 0 {
			t.Errorf("used_nonces after PruneHandled: %d rows (%v), want 0", n, err)
		}
	})
}

// TestNonceKeptRefusesBeforeCounting: a stored push arriving again under a
// nonce kept for another push's retry is refused, and not counted as a
// duplicate of the stored push first (on both drivers alike).
func TestNonceKeptRefusesBeforeCounting(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		a, b := sampleEvent(1), sampleEvent(2)
		a.NonceKey, b.NonceKey = "1700000000:default:na", "1700000000:default:nb"
		first := mustSave(t, s, a)
		mustSave(t, s, b)
		b.NonceKey = "1700000000:default:retry" // b's retry: its nonce is kept for b
		if got := mustSave(t, s, b); !got.Duplicate {
			t.Fatalf("b's retry = %+v, want a duplicate", got)
		}
		a.NonceKey = b.NonceKey
		if _, err := s.SaveEvent(ctx, a); !errors.Is(err, ErrNonceUsed) {
			t.Errorf("a under b's retry's nonce = %v, want ErrNonceUsed", err)
		}
		if ev, err := s.GetEvent(ctx, first.ID); err != nil || ev.Duplicates != 0 {
			t.Errorf("a after the refusal: duplicates %d, %v; want 0", ev.Duplicates, err)
		}
	})
}

// TestPruneUsedNoncesInChunks: the nonce keys of old duplicates are pruned
// a chunk at a time, all of them, and the recent ones kept.
func TestPruneUsedNoncesInChunks(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		now := s.now()
		old := 2*pruneChunk + 3
		for i := range old + 5 {
			at := now.Add(-48 * time.Hour)
			if i >= old {
				at = now
			}
			if _, err := s.sqlDB.ExecContext(ctx, s.rebind(`INSERT INTO used_nonces (nonce_key, dedupe_key, seen_at) VALUES (?, ?, ?)`),
				fmt.Sprint("1700000000:default:n", i), fmt.Sprint("k", i), dbTime(at)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.PruneHandled(ctx, now.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM used_nonces`).Scan(&n); err != nil || n != 5 {
			t.Errorf("used_nonces after pruning %d old of %d: %d rows (%v), want the 5 recent", old, old+5, n, err)
		}
	})
}
