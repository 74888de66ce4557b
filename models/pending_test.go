package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAnswerPendingRequest(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		s := openTest(t, drv, testDSN(t, drv), Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		p := &PendingRequest{
			ID: "abc", ConvID: "42", TargetURL: "http://proc/42",
			Deadline: now.Add(time.Minute), ResultValidity: time.Hour,
		}
		if err := s.CreatePendingRequest(ctx, p); err != nil {
			t.Fatalf("CreatePendingRequest = %v", err)
		}
		got, err := s.GetPendingRequest(ctx, "abc")
		if err != nil {
			t.Fatal(err)
		}
		want := &PendingRequest{
			ID: "abc", ConvID: "42", TargetURL: "http://proc/42", CreatedAt: now,
			Deadline: now.Add(time.Minute), ResultValidity: time.Hour,
			ExpiresAt: now.Add(time.Minute + time.Hour), Status: RequestPending,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetPendingRequest (-want +got):\n%s", diff)
		}

		now = now.Add(10 * time.Second)
		res, err := s.AnswerPendingRequest(ctx, "abc", []byte(`{"ok":true}`))
		if err != nil {
			t.Fatalf("AnswerPendingRequest = %v", err)
		}
		wantRes := &Result{
			RequestID: "abc", Source: SourceCallback, Service: "42", Data: []byte(`{"ok":true}`), IsJSON: true,
			ReceivedAt: now, ExpiresAt: now.Add(time.Hour),
		}
		if diff := cmp.Diff(wantRes, res); diff != "" {
			t.Errorf("AnswerPendingRequest result (-want +got):\n%s", diff)
		}
		if stored, err := s.GetResult(ctx, "abc"); err != nil || !cmp.Equal(wantRes, stored) {
			t.Errorf("GetResult = %+v, %v; want %+v", stored, err, wantRes)
		}
		if _, err := s.AnswerPendingRequest(ctx, "abc", []byte(`{}`)); !errors.Is(err, ErrAlreadyAnswered) {
			t.Errorf("second answer = %v, want ErrAlreadyAnswered", err)
		}
		if _, err := s.AnswerPendingRequest(ctx, "nope", []byte(`{}`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("answer to unknown = %v, want ErrNotFound", err)
		}
		got, _ = s.GetPendingRequest(ctx, "abc")
		if got.Status != RequestAnswered || got.AnsweredAt == nil || !got.AnsweredAt.Equal(now) ||
			!got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Errorf("after answer: status %s answered %v expires %v", got.Status, got.AnsweredAt, got.ExpiresAt)
		}
		if closed, err := s.ClosePendingRequest(ctx, "abc", RequestTimedOut); err != nil || closed {
			t.Errorf("ClosePendingRequest(answered) = %v, %v; want false, nil", closed, err)
		}
	})
}

func TestClosePendingRequestThenLateAnswer(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		if err := s.CreatePendingRequest(ctx, &PendingRequest{ID: "x", Deadline: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if closed, err := s.ClosePendingRequest(ctx, "x", RequestTimedOut); err != nil || !closed {
			t.Fatalf("ClosePendingRequest = %v, %v; want true, nil", closed, err)
		}
		if closed, _ := s.ClosePendingRequest(ctx, "x", RequestTimedOut); closed {
			t.Error("second ClosePendingRequest closed again")
		}
		if _, err := s.ClosePendingRequest(ctx, "x", RequestAnswered); !errors.Is(err, ErrInvalid) {
			t.Errorf("ClosePendingRequest(answered status) = %v, want ErrInvalid", err)
		}
		res, err := s.AnswerPendingRequest(ctx, "x", []byte("late, not json"))
		if err != nil {
			t.Fatalf("late answer = %v", err)
		}
		if res.IsJSON || string(res.Value()) != `"late, not json"` {
			t.Errorf("late answer stored as %s (json %v)", res.Value(), res.IsJSON)
		}
	})
}

func TestAnswerPendingRequestRace(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		dsn := testDSN(t, drv)
		// Two Stores: on PostgreSQL they race like two replicas.
		stores := []*Store{openTest(t, drv, dsn, Options{}), openTest(t, drv, dsn, Options{})}
		ctx := context.Background()
		const requests = 20
		for i := range requests {
			if err := stores[0].CreatePendingRequest(ctx, &PendingRequest{ID: fmt.Sprint(i), Deadline: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins = map[string]int{}
		)
		for i := range requests {
			for k := range 4 {
				wg.Go(func() {
					_, err := stores[k%2].AnswerPendingRequest(ctx, fmt.Sprint(i), []byte(fmt.Sprint(k)))
					switch {
					case err == nil:
						mu.Lock()
						wins[fmt.Sprint(i)]++
						mu.Unlock()
					case !errors.Is(err, ErrAlreadyAnswered):
						t.Errorf("answer %d/%d = %v", i, k, err)
					}
				})
			}
		}
		wg.Wait()
		for i := range requests {
			if n := wins[fmt.Sprint(i)]; n != 1 {
				t.Errorf("request %d answered %d times, want 1", i, n)
			}
		}
	})
}
