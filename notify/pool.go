package notify

import (
	"sync"
	"sync/atomic"
	"time"
)

// poolKeepAlive is how long a worker above the core count waits idle for a
// task before it exits (Java's keepAliveTime).
const poolKeepAlive = 60 * time.Second

// pool is a bounded worker pool with the semantics of Java's
// ThreadPoolExecutor, as seed 003 configures it: core workers always run; a
// task goes to the queue; when the queue is full a new worker is started for
// it, up to max; when workers and queue are both full, submit refuses the
// task and the caller keeps it (for the notifier: the delivery stays claimed
// and falls due again when its lease ends). Every task given to run is run
// exactly once, unless close hands it back.
type pool[T any] struct {
	core, max int
	run       func(T)
	queue     chan T
	keepAlive time.Duration

	// freed receives (coalesced) a signal each time a worker finishes a task.
	freed chan struct{}

	mu      sync.Mutex
	workers int  // running workers
	closed  bool // submit refuses; workers exit
	quit    chan struct{}
	wg      sync.WaitGroup

	busy atomic.Int64 // workers running a task
}

// newPool starts core workers that call run on each task; workers above core
// exit after keepAlive idle. queue may be 0: a task is then handed only to an
// idle worker, or to a new one (Java's SynchronousQueue).
func newPool[T any](core, most, queue int, keepAlive time.Duration, run func(T)) *pool[T] {
	core = max(core, 1)
	p := &pool[T]{
		core: core, max: max(most, core), run: run, keepAlive: keepAlive,
		queue: make(chan T, max(queue, 0)),
		freed: make(chan struct{}, 1),
		quit:  make(chan struct{}),
	}
	p.mu.Lock()
	for range core {
		p.startLocked(nil)
	}
	p.mu.Unlock()
	return p
}

// submit has task run on a worker, now or once one is free. It returns false,
// and does not run task, when the pool is closed or full.
func (p *pool[T]) submit(task T) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	select {
	case p.queue <- task:
		return true
	default:
	}
	if p.workers < p.max {
		p.startLocked(&task)
		return true
	}
	return false
}

// free is about how many more tasks submit would take right now.
func (p *pool[T]) free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0
	}
	n := max(p.max-p.workers, 0) + cap(p.queue) - len(p.queue)
	if cap(p.queue) == 0 {
		n += max(p.workers-int(p.busy.Load()), 0) // idle workers take hand-offs
	}
	return n
}

func (p *pool[T]) startLocked(first *T) {
	p.workers++
	p.wg.Add(1)
	go p.work(first)
}

// work runs first, then tasks from the queue. A worker above the core count
// exits after keepAlive without a task.
func (p *pool[T]) work(first *T) {
	defer p.wg.Done()
	if first != nil {
		p.do(*first)
	}
	idle := time.NewTimer(p.keepAlive)
	defer idle.Stop()
	for {
		idle.Reset(p.keepAlive)
		select {
		case <-p.quit:
			p.exit()
			return
		default:
		}
		select {
		case task := <-p.queue:
			p.do(task)
		case <-idle.C:
			p.mu.Lock()
			if p.workers > p.core && !p.closed {
				p.workers--
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		case <-p.quit:
			p.exit()
			return
		}
	}
}

func (p *pool[T]) exit() {
	p.mu.Lock()
	p.workers--
	p.mu.Unlock()
}

func (p *pool[T]) do(task T) {
	p.busy.Add(1)
	defer func() {
		p.busy.Add(-1)
		select {
		case p.freed <- struct{}{}:
		default:
		}
	}()
	p.run(task)
}

// close stops taking tasks and hands back the tasks still queued, which will
// not run; tasks already running go on (wait for them).
func (p *pool[T]) close() []T {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.quit)
	p.mu.Unlock()
	var left []T
	for {
		select {
		case task := <-p.queue:
			left = append(left, task)
		default:
			return left
		}
	}
}

// wait blocks until every worker has exited (after close).
func (p *pool[T]) wait() { p.wg.Wait() }
