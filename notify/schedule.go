package notify

import (
	"slices"
	"time"
)

// DefaultDelays is seed 003's retry schedule: 2, 10, 30, 60, 120, 360, 360,
// 600, 900 and 900 minutes after the first attempt failed, ten retries in all
// (about 2 days).
var DefaultDelays = []time.Duration{
	2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	6 * time.Hour, 6 * time.Hour, 10 * time.Hour, 15 * time.Hour, 15 * time.Hour,
}

// Schedule is the retry policy: the delay before each retry, measured from
// the failure before it, read from an injected clock so that tests are
// deterministic. A delivery is tried at most len(Delays)+1 times.
type Schedule struct {
	// Delays[i] is the wait after the (i+1)-th failed attempt; empty means
	// DefaultDelays.
	Delays []time.Duration
	// NowFunc is the clock; nil means time.Now.
	NowFunc func() time.Time
}

// NewSchedule returns a Schedule over a copy of delays (DefaultDelays if
// empty) and the clock now (time.Now if nil).
func NewSchedule(delays []time.Duration, now func() time.Time) Schedule {
	if len(delays) == 0 {
		delays = DefaultDelays
	}
	if now == nil {
		now = time.Now
	}
	return Schedule{Delays: slices.Clone(delays), NowFunc: now}
}

// Next returns the wait before the next attempt once attempts attempts have
// failed, and false when none is left: the delivery is dead. Next(1) is the
// first retry's delay.
func (s Schedule) Next(attempts int) (time.Duration, bool) {
	delays := s.Delays
	if len(delays) == 0 {
		delays = DefaultDelays
	}
	if attempts < 1 {
		return 0, true
	}
	if attempts > len(delays) {
		return 0, false
	}
	return delays[attempts-1], true
}

// NextAt is Next as a time on the schedule's clock; the zero time and false
// when the delivery is dead.
func (s Schedule) NextAt(attempts int) (time.Time, bool) {
	d, ok := s.Next(attempts)
	if !ok {
		return time.Time{}, false
	}
	return s.now().Add(d), true
}

// MaxAttempts is how many times a delivery is tried before it is dead.
func (s Schedule) MaxAttempts() int {
	if len(s.Delays) == 0 {
		return len(DefaultDelays) + 1
	}
	return len(s.Delays) + 1
}

func (s Schedule) now() time.Time {
	if s.NowFunc == nil {
		return time.Now()
	}
	return s.NowFunc()
}
