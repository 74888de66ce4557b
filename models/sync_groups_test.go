package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newGroup stores an open group id of n ops ("<id>-0", "<id>-1", ...) with a
// deadline a minute after now.
func newGroup(t *testing.T, s *Store, id string, n int, now time.Time) *SyncGroup {
	t.Helper()
	g := &SyncGroup{ID: id, NotifyURL: "http://caller/" + id, CreatedAt: now, Deadline: now.Add(time.Minute)}
	ops := make([]*PendingRequest, n)
	for i := range ops {
		ops[i] = &PendingRequest{ID: fmt.Sprintf("%s-%d", id, i), ConvID: "42", CreatedAt: now,
			Deadline: g.Deadline, ResultValidity: time.Hour}
	}
	if err := s.CreateSyncGroup(context.Background(), g, ops); err != nil {
		t.Fatalf("CreateSyncGroup(%s) = %v", id, err)
	}
	return g
}

// summarise renders ops as "id:status:error:answer" lines, so that tests can
// see what a claim read.
func summarise(ops []SyncOp) ([]byte, error) {
	var b strings.Builder
	for _, op := range ops {
		answer := "-"
		if op.Answer != nil {
			answer = string(op.Answer.Data)
		}
		fmt.Fprintf(&b, "%s:%s:%s:%s\n", op.RequestID, op.Status, op.Error, answer)
	}
	return []byte(b.String()), nil
}

func TestSyncGroupCompletion(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		s := openTest(t, drv, testDSN(t, drv), Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		g := newGroup(t, s, "g", 3, now)

		stored, err := s.GetSyncGroup(ctx, "g")
		if err != nil || stored.Status != GroupOpen || !stored.DueAt.Equal(g.Deadline) ||
			!cmp.Equal(stored.Requests(), []string{"g-0", "g-1", "g-2"}) {
			t.Fatalf("GetSyncGroup = %+v, %v; want open, due at its deadline, 3 requests", stored, err)
		}
		if p, err := s.GetPendingRequest(ctx, "g-1"); err != nil || p.GroupID != "g" || p.Status != RequestPending {
			t.Errorf("GetPendingRequest(g-1) = %+v, %v; want pending in group g", p, err)
		}

		// Answers and failures settle ops; the group is not claimable while one is pending.
		res, group, err := s.AnswerGroupedRequest(ctx, "g-0", []byte(`{"n":0}`))
		if err != nil || group != "g" || res.RequestID != "g-0" {
			t.Fatalf("AnswerGroupedRequest(g-0) = %+v, %q, %v; want the result and group g", res, group, err)
		}
		if failed, err := s.FailPendingRequest(ctx, "g-1", "process answered HTTP 500"); err != nil || !failed {
			t.Fatalf("FailPendingRequest(g-1) = %v, %v; want true, nil", failed, err)
		}
		for _, cond := range []ClaimCondition{ClaimIfSettled, ClaimIfDue} {
			if c, err := s.ClaimSyncGroup(ctx, "g", cond, now, time.Minute, summarise); err != nil || c != nil {
				t.Errorf("ClaimSyncGroup(%d) with an op pending before the deadline = %+v, %v; want nil, nil", cond, c, err)
			}
		}
		if ids, err := s.DueSyncGroups(ctx, now, 10); err != nil || len(ids) != 0 {
			t.Errorf("DueSyncGroups before the deadline = %v, %v; want none", ids, err)
		}

		// At the deadline the sweep claims it; the pending op times out.
		now = g.Deadline
		if ids, err := s.DueSyncGroups(ctx, now, 10); err != nil || !cmp.Equal(ids, []string{"g"}) {
			t.Fatalf("DueSyncGroups at the deadline = %v, %v; want [g]", ids, err)
		}
		c, err := s.ClaimSyncGroup(ctx, "g", ClaimIfDue, now, time.Minute, summarise)
		if err != nil || c == nil {
			t.Fatalf("ClaimSyncGroup(due) = %+v, %v; want a claim", c, err)
		}
		wantBody := "g-0:answered::{\"n\":0}\ng-1:failed:process answered HTTP 500:-\ng-2:timed_out::-\n"
		if string(c.Body) != wantBody || c.NotifyURL != "http://caller/g" || c.Claim == 0 {
			t.Errorf("claim = %+v (body %q), want body %q for http://caller/g", c, c.Body, wantBody)
		}
		if p, _ := s.GetPendingRequest(ctx, "g-2"); p.Status != RequestTimedOut {
			t.Errorf("g-2 after the claim = %q, want timed_out", p.Status)
		}
		// Claimed: nobody else gets it while the lease runs.
		for _, cond := range []ClaimCondition{ClaimIfSettled, ClaimIfOpen, ClaimIfDue} {
			if c2, err := s.ClaimSyncGroup(ctx, "g", cond, now, time.Minute, summarise); err != nil || c2 != nil {
				t.Errorf("second ClaimSyncGroup(%d) = %+v, %v; want nil, nil", cond, c2, err)
			}
		}
		// A late answer is still taken; the rendered answer does not change.
		if _, _, err := s.AnswerGroupedRequest(ctx, "g-2", []byte(`"late"`)); err != nil {
			t.Errorf("late answer = %v", err)
		}
		if err := s.MarkSyncGroupNotified(ctx, "g", c.Claim, 77); err != nil {
			t.Fatalf("MarkSyncGroupNotified = %v", err)
		}
		if err := s.MarkSyncGroupNotified(ctx, "g", c.Claim, 78); !errors.Is(err, ErrClaimLost) {
			t.Errorf("second MarkSyncGroupNotified = %v, want ErrClaimLost", err)
		}
		stored, _ = s.GetSyncGroup(ctx, "g")
		if stored.Status != GroupNotified || stored.DeliveryID != 77 || stored.NotifiedAt == nil || string(stored.Body) != wantBody {
			t.Errorf("group after notification = %+v", stored)
		}
		now = now.Add(time.Hour)
		if ids, _ := s.DueSyncGroups(ctx, now, 10); len(ids) != 0 {
			t.Errorf("DueSyncGroups after notification = %v, want none", ids)
		}
	})
}

func TestSyncGroupSettledAndReclaimed(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		s := openTest(t, drv, testDSN(t, drv), Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		newGroup(t, s, "s", 2, now)
		for i := range 2 {
			if _, _, err := s.AnswerGroupedRequest(ctx, fmt.Sprintf("s-%d", i), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		// Every op answered: claimable before the deadline.
		c, err := s.ClaimSyncGroup(ctx, "s", ClaimIfSettled, now, time.Minute, summarise)
		if err != nil || c == nil || string(c.Body) != "s-0:answered::0\ns-1:answered::1\n" {
			t.Fatalf("ClaimSyncGroup(settled) = %+v, %v", c, err)
		}

		// The claimer dies: once its lease ends a sweep claims the group again
		// and gets the same body without rendering it anew.
		if ids, _ := s.DueSyncGroups(ctx, now.Add(59*time.Second), 10); len(ids) != 0 {
			t.Errorf("DueSyncGroups within the lease = %v, want none", ids)
		}
		now = now.Add(time.Minute)
		rendered := false
		again, err := s.ClaimSyncGroup(ctx, "s", ClaimIfDue, now, time.Minute, func(ops []SyncOp) ([]byte, error) {
			rendered = true
			return summarise(ops)
		})
		if err != nil || again == nil || rendered || string(again.Body) != string(c.Body) || again.Claim == c.Claim {
			t.Fatalf("ClaimSyncGroup after the lease = %+v, %v (rendered %v); want the same body under a new claim", again, err, rendered)
		}
		if err := s.MarkSyncGroupNotified(ctx, "s", c.Claim, 1); !errors.Is(err, ErrClaimLost) {
			t.Errorf("MarkSyncGroupNotified(old claim) = %v, want ErrClaimLost", err)
		}

		// A claim given back is due at once.
		if err := s.ReleaseSyncGroup(ctx, "s", again.Claim, now); err != nil {
			t.Fatalf("ReleaseSyncGroup = %v", err)
		}
		if ids, _ := s.DueSyncGroups(ctx, now, 10); !cmp.Equal(ids, []string{"s"}) {
			t.Errorf("DueSyncGroups after a release = %v, want [s]", ids)
		}
		third, err := s.ClaimSyncGroup(ctx, "s", ClaimIfDue, now, time.Minute, summarise)
		if err != nil || third == nil {
			t.Fatalf("ClaimSyncGroup after a release = %+v, %v", third, err)
		}
		if err := s.MarkSyncGroupNotified(ctx, "s", third.Claim, 9); err != nil {
			t.Fatalf("MarkSyncGroupNotified = %v", err)
		}

		// Pruning takes notified groups past their validity, never open ones.
		newGroup(t, s, "open", 1, now)
		n, err := s.PruneSyncGroups(ctx, now.Add(48*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PruneSyncGroups = %d, %v; want 1", n, err)
		}
		if _, err := s.GetSyncGroup(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetSyncGroup(pruned) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetSyncGroup(ctx, "open"); err != nil {
			t.Errorf("GetSyncGroup(open) after pruning = %v", err)
		}
	})
}

func TestCreateSyncGroupInvalid(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, DriverSQLite)
	ctx := context.Background()
	for name, ops := range map[string][]*PendingRequest{
		"no ops":         nil,
		"space in an id": {{ID: "a b"}},
		"empty id":       {{ID: ""}},
	} {
		if err := s.CreateSyncGroup(ctx, &SyncGroup{ID: "x"}, ops); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateSyncGroup(%s) = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.ClaimSyncGroup(ctx, "x", 0, time.Now(), time.Minute, summarise); !errors.Is(err, ErrInvalid) {
		t.Errorf("ClaimSyncGroup(condition 0) = %v, want ErrInvalid", err)
	}
}

// TestSyncGroupClaimRace: two Stores on one PostgreSQL database (replicas).
// The last two answers of a group are committed at the same time, one by each
// replica, and each then tries to complete the group: one and only one
// claims it, never none. Sweeps racing for expired groups claim each once.
func TestSyncGroupClaimRace(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t, DriverPostgres)
	stores := []*Store{openTest(t, DriverPostgres, dsn, Options{}), openTest(t, DriverPostgres, dsn, Options{})}
	ctx := context.Background()
	now := time.Now()
	const groups = 30
	for i := range groups {
		newGroup(t, stores[0], fmt.Sprintf("a%d", i), 2, now)
		g := &SyncGroup{ID: fmt.Sprintf("d%d", i), NotifyURL: "http://caller/", Deadline: now.Add(-time.Second)}
		if err := stores[0].CreateSyncGroup(ctx, g, []*PendingRequest{{ID: g.ID + "-0", Deadline: g.Deadline}}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		claims = map[string]int{}
		total  atomic.Int64
	)
	claimed := func(c *SyncClaim, err error) {
		if err != nil {
			t.Errorf("ClaimSyncGroup = %v", err)
			return
		}
		if c != nil {
			mu.Lock()
			claims[c.GroupID]++
			mu.Unlock()
			total.Add(1)
		}
	}
	for i := range groups {
		for k, s := range stores {
			wg.Go(func() { // the last answers, one per replica
				_, group, err := s.AnswerGroupedRequest(ctx, fmt.Sprintf("a%d-%d", i, k), []byte(`{}`))
				if err != nil {
					t.Errorf("answer = %v", err)
					return
				}
				claimed(s.ClaimSyncGroup(ctx, group, ClaimIfSettled, time.Now(), time.Minute, summarise))
			})
			wg.Go(func() { // sweeps, and the owner's deadline timer
				cond := ClaimIfDue
				if k == 0 {
					cond = ClaimIfOpen
				}
				claimed(s.ClaimSyncGroup(ctx, fmt.Sprintf("d%d", i), cond, time.Now(), time.Minute, summarise))
			})
		}
	}
	wg.Wait()
	for i := range groups {
		for _, id := range []string{fmt.Sprintf("a%d", i), fmt.Sprintf("d%d", i)} {
			if n := claims[id]; n != 1 {
				t.Errorf("group %s claimed %d times, want 1", id, n)
			}
		}
	}
	if n := total.Load(); n != 2*groups {
		t.Errorf("%d claims, want %d", n, 2*groups)
	}
}
