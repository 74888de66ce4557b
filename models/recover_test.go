package models

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestClaimReceived: a claim is won by the first claimer of a received
// event, lost while it runs, won again once its lease has ended, and never
// won on an event that is no longer received (or does not exist).
func TestClaimReceived(t *testing.T) {
	t.Parallel()
	const lease = time.Minute
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	type claim struct {
		at   time.Duration // after t0
		want bool
	}
	tests := []struct {
		name    string
		outcome string // an attempt recorded before the claims: "", "handled" or "failed"
		claims  []claim
	}{
		{"first claim wins", "", []claim{{0, true}}},
		{"second claim loses", "", []claim{{0, true}, {0, false}}},
		{"claim loses within the lease", "", []claim{{0, true}, {lease - time.Microsecond, false}, {lease, false}}},
		{"claim wins after the lease", "", []claim{{0, true}, {lease + time.Microsecond, true}, {lease + time.Second, false}}},
		{"handled event", "handled", []claim{{0, false}}},
		{"failed event", "failed", []claim{{0, false}}},
	}
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				saved := mustSave(t, s, sampleEvent(i))
				if ev, err := s.GetEvent(ctx, saved.ID); err != nil || ev.RecoveryUntil != nil {
					t.Fatalf("GetEvent(%d) = %+v, %v; want RecoveryUntil nil on insert", saved.ID, ev, err)
				}
				if tt.outcome != "" {
					a := Attempt{EventID: saved.ID}
					if tt.outcome == "failed" {
						a.Err = "boom"
					}
					if err := s.RecordAttempt(ctx, a, true); err != nil {
						t.Fatal(err)
					}
				}
				var last time.Time // the end of the last claim won
				for _, c := range tt.claims {
					got, err := s.ClaimReceived(ctx, saved.ID, t0.Add(c.at), lease)
					if err != nil || got != c.want {
						t.Fatalf("ClaimReceived(%d, t0+%s) = %v, %v; want %v", saved.ID, c.at, got, err, c.want)
					}
					if got {
						last = t0.Add(c.at + lease)
					}
				}
				ev, err := s.GetEvent(ctx, saved.ID)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case last.IsZero() && ev.RecoveryUntil != nil:
					t.Errorf("RecoveryUntil = %v, want nil (no claim won)", ev.RecoveryUntil)
				case !last.IsZero() && (ev.RecoveryUntil == nil || !ev.RecoveryUntil.Equal(last)):
					t.Errorf("RecoveryUntil = %v, want %v", ev.RecoveryUntil, last)
				}
			})
		}
		t.Run("unknown event", func(t *testing.T) {
			if got, err := s.ClaimReceived(ctx, s.NewID(), t0, lease); err != nil || got {
				t.Errorf("ClaimReceived(unknown) = %v, %v; want false, nil", got, err)
			}
		})
		t.Run("no lease", func(t *testing.T) {
			if _, err := s.ClaimReceived(ctx, 1, t0, 0); !errors.Is(err, ErrInvalid) {
				t.Errorf("ClaimReceived(lease 0) = %v, want ErrInvalid", err)
			}
		})
	})
}

// TestClaimReceivedRace: two Stores on one database claim the same events
// at the same time; each event is won exactly once.
func TestClaimReceivedRace(t *testing.T) {
	t.Parallel()
	const n = 50
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		dsn := testDSN(t, drv)
		a := openTest(t, drv, dsn, Options{})
		b := openTest(t, drv, dsn, Options{})
		evs := make([]*NewEvent, n)
		for i := range evs {
			evs[i] = sampleEvent(i)
		}
		saved := saveAll(t, a, evs)
		now := time.Now()
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins = map[int64]int{}
		)
		start := make(chan struct{})
		for _, s := range []*Store{a, b} {
			wg.Go(func() {
				<-start
				for _, sv := range saved {
					won, err := s.ClaimReceived(context.Background(), sv.ID, now, time.Minute)
					if err != nil {
						t.Errorf("ClaimReceived(%d) = %v", sv.ID, err)
						return
					}
					if won {
						mu.Lock()
						wins[sv.ID]++
						mu.Unlock()
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for _, sv := range saved {
			if wins[sv.ID] != 1 {
				t.Errorf("event %d claimed %d times, want 1", sv.ID, wins[sv.ID])
			}
		}
	})
}

// TestMigrateAddsRecoveryUntil: a database made before the claim column
// existed gets it when a Store opens it, and claims work on it.
func TestMigrateAddsRecoveryUntil(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		dsn := testDSN(t, drv)
		ctx := context.Background()
		old, err := Open(ctx, drv, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		saved := mustSave(t, old, sampleEvent(1))
		if err := old.db.Migrator().DropColumn(&Event{}, "recovery_until"); err != nil {
			t.Fatalf("dropping recovery_until: %v", err)
		}
		if old.db.Migrator().HasColumn(&Event{}, "recovery_until") {
			t.Fatal("recovery_until still there after DropColumn")
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openTest(t, drv, dsn, Options{})
		if !s.db.Migrator().HasColumn(&Event{}, "recovery_until") {
			t.Fatal("Open did not add recovery_until to an existing events table")
		}
		if got, err := s.ClaimReceived(ctx, saved.ID, time.Now(), time.Minute); err != nil || !got {
			t.Errorf("ClaimReceived on a migrated row = %v, %v; want true", got, err)
		}
		fresh := mustSave(t, s, sampleEvent(2))
		if ev, err := s.GetEvent(ctx, fresh.ID); err != nil || ev.RecoveryUntil != nil {
			t.Errorf("GetEvent(new row) = %+v, %v; want RecoveryUntil nil", ev, err)
		}
	})
}
