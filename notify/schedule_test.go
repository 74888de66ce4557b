package notify

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	minutes := []int{2, 10, 30, 60, 120, 360, 360, 600, 900, 900} // seed 003
	def := NewSchedule(nil, nil)
	for i, m := range minutes {
		if d, ok := def.Next(i + 1); !ok || d != time.Duration(m)*time.Minute {
			t.Errorf("default Next(%d) = %s, %v; want %dm", i+1, d, ok, m)
		}
	}
	if d, ok := def.Next(len(minutes) + 1); ok {
		t.Errorf("default Next(%d) = %s, true; want dead", len(minutes)+1, d)
	}
	if got := def.MaxAttempts(); got != 11 {
		t.Errorf("default MaxAttempts = %d, want 11", got)
	}
	fast := NewSchedule([]time.Duration{time.Second, 3 * time.Second}, nil)
	tests := []struct {
		attempts int
		want     time.Duration
		ok       bool
	}{{1, time.Second, true}, {2, 3 * time.Second, true}, {3, 0, false}, {99, 0, false}}
	for _, tt := range tests {
		if d, ok := fast.Next(tt.attempts); d != tt.want || ok != tt.ok {
			t.Errorf("Next(%d) = %s, %v; want %s, %v", tt.attempts, d, ok, tt.want, tt.ok)
		}
	}
}

func TestScheduleNextAtUsesInjectedClock(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewSchedule([]time.Duration{2 * time.Minute, 10 * time.Minute}, func() time.Time { return now })
	if at, ok := s.NextAt(1); !ok || !at.Equal(now.Add(2*time.Minute)) {
		t.Errorf("NextAt(1) = %v, %v; want %v", at, ok, now.Add(2*time.Minute))
	}
	now = now.Add(time.Hour)
	if at, ok := s.NextAt(2); !ok || !at.Equal(now.Add(10*time.Minute)) {
		t.Errorf("NextAt(2) = %v, %v; want %v", at, ok, now.Add(10*time.Minute))
	}
	if at, ok := s.NextAt(3); ok || !at.IsZero() {
		t.Errorf("NextAt(3) = %v, %v; want dead", at, ok)
	}
}
