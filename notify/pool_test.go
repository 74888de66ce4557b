package notify

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolCoreQueueMax checks ThreadPoolExecutor's order: core workers first,
// then the queue, then extra workers up to max, then refusal.
func TestPoolCoreQueueMax(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	p := newPool(2, 3, 2, time.Minute, func(int) { started.Add(1); <-release })
	defer func() { p.close(); p.wait() }()
	var once sync.Once
	defer once.Do(func() { close(release) })
	if got := p.free(); got != 3 {
		t.Errorf("free() of an idle pool = %d, want 3 (1 more worker + 2 queue slots)", got)
	}
	for i := range 2 {
		if !p.submit(i) {
			t.Fatalf("submit(%d) refused with idle core workers", i)
		}
	}
	waitFor(t, time.Second, "the core workers to start", func() bool { return started.Load() == 2 })
	for i := 2; i < 4; i++ {
		if !p.submit(i) {
			t.Fatalf("submit(%d) refused with room in the queue", i)
		}
	}
	if started.Load() != 2 || len(p.queue) != 2 {
		t.Fatalf("started %d, queued %d; want 2 and 2", started.Load(), len(p.queue))
	}
	if !p.submit(4) {
		t.Fatal("submit(4) refused though max allows one more worker")
	}
	waitFor(t, time.Second, "the extra worker to start", func() bool { return started.Load() == 3 })
	if got := p.free(); got != 0 {
		t.Errorf("free() of a full pool = %d, want 0", got)
	}
	if p.submit(5) {
		t.Fatal("submit(5) accepted by a full pool")
	}
	once.Do(func() { close(release) })
	waitFor(t, time.Second, "every task to run", func() bool { return started.Load() == 5 })
}

func TestPoolExtraWorkerExitsWhenIdle(t *testing.T) {
	release := make(chan struct{})
	p := newPool(1, 2, 0, 20*time.Millisecond, func(int) { <-release })
	defer func() { p.close(); p.wait() }()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	for i := range 2 {
		if !p.submit(i) {
			t.Fatalf("submit(%d) refused below max", i)
		}
		waitFor(t, time.Second, "the task to start", func() bool { return p.busy.Load() == int64(i+1) })
	}
	if p.submit(3) {
		t.Fatal("submit accepted beyond max with no queue")
	}
	close(release)
	workers := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.workers }
	waitFor(t, 2*time.Second, "the extra worker to exit", func() bool { return workers() == 1 })
	time.Sleep(60 * time.Millisecond)
	if got := workers(); got != 1 {
		t.Errorf("workers = %d after idling, want the 1 core worker", got)
	}
}

func TestPoolCloseHandsBackQueuedTasks(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var ran []int
	p := newPool(1, 1, 5, time.Minute, func(i int) {
		if i == 0 {
			<-release
		}
		mu.Lock()
		ran = append(ran, i)
		mu.Unlock()
	})
	for i := range 4 {
		if !p.submit(i) {
			t.Fatalf("submit(%d) refused", i)
		}
	}
	waitFor(t, time.Second, "task 0 to start", func() bool { return p.busy.Load() == 1 })
	left := p.close()
	close(release)
	p.wait()
	if p.submit(9) {
		t.Error("submit accepted after close")
	}
	if len(left)+len(ran) != 4 || len(ran) < 1 || ran[0] != 0 {
		t.Errorf("ran %v, handed back %v; want task 0 run and the other 3 split between them", ran, left)
	}
}
