package bridge

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/internal/proctest"
	"github.com/pushgate/pushgate/models"
)

// benchWaiters is how many waiters BenchmarkAwaitWaiters holds at once.
const benchWaiters = 10_000

// BenchmarkAwaitWaiters holds 10,000 concurrent Await waiters (one goroutine
// each, as a long-poll request holds one), then releases them by pushes: each
// push is stored (SaveEvent, group-committed on SQLite) and handed to
// Accepted, as the HTTP server does. It reports the RSS growth while the
// waiters are held and the wake latency, from the start of a push's
// SaveEvent to its waiter's return. Run it once: -benchtime=1x.
func BenchmarkAwaitWaiters(b *testing.B) {
	e := newEnv(b, models.DriverSQLite, testDSN(b, models.DriverSQLite), testConfig(nil), Options{})
	ctx := context.Background()
	var worstRSS, worstP99, worstP50 float64
	for round := 0; b.Loop(); round++ {
		rss, lat := awaitRound(b, ctx, e, round)
		worstRSS = max(worstRSS, rss)
		worstP99 = max(worstP99, ms(lat[len(lat)*99/100]))
		worstP50 = max(worstP50, ms(lat[len(lat)/2]))
	}
	b.ReportMetric(worstRSS, "MiB-rss-growth")
	b.ReportMetric(worstP99, "p99-wake-ms")
	b.ReportMetric(worstP50, "p50-wake-ms")
}

// awaitRound holds benchWaiters waiters, releases them, and returns the RSS
// growth in MiB and the sorted wake latencies.
func awaitRound(b *testing.B, ctx context.Context, e env, round int) (float64, []time.Duration) {
	runtime.GC()
	debug.FreeOSMemory()
	before := proctest.RSS(b)

	ids := make([]string, benchWaiters)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d-%06d", round, i)
	}
	pushedAt := make([]atomic.Int64, benchWaiters)
	wokenAt := make([]int64, benchWaiters)
	var waiters sync.WaitGroup
	var failed atomic.Int64
	for i := range benchWaiters {
		waiters.Go(func() {
			if _, err := e.bridge.Await(ctx, ids[i]); err != nil {
				failed.Add(1)
			}
			wokenAt[i] = time.Now().UnixNano()
		})
	}
	for e.bridge.Waiting() < benchWaiters {
		time.Sleep(10 * time.Millisecond)
	}
	held := proctest.RSS(b)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.Logf("%d waiters held: RSS +%.1f MiB; goroutine stacks %.1f MiB, heap in use %.1f MiB",
		benchWaiters, float64(held-before)/(1<<20), float64(m.StackInuse)/(1<<20), float64(m.HeapInuse)/(1<<20))

	var next atomic.Int64
	var pushers sync.WaitGroup
	for range 64 {
		pushers.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= benchWaiters {
					return
				}
				push := asyncPush(ids[i], "api_name", `{"result":"hello world"}`)
				payload, _ := events.Marshal(push)
				m := events.Describe(push)
				pushedAt[i].Store(time.Now().UnixNano())
				saved, err := e.store.SaveEvent(ctx, &models.NewEvent{
					DedupeKey: m.DedupeKey(events.DefaultAccount, payload), Kind: m.Kind, MsgType: m.MsgType, Event: m.Event,
					FromUser: m.FromUser, ToUser: m.ToUser, CreateTime: m.CreateTime,
					RequestID: m.RequestID, Format: "json", Payload: payload,
				})
				if err != nil {
					b.Error(err)
					return
				}
				e.bridge.Accepted(ctx, saved.ID, push)
			}
		})
	}
	pushers.Wait()
	waiters.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d waiters failed", n)
	}
	lat := make([]time.Duration, benchWaiters)
	for i := range lat {
		lat[i] = time.Duration(wokenAt[i] - pushedAt[i].Load())
	}
	slices.Sort(lat)
	return float64(held-before) / (1 << 20), lat
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
