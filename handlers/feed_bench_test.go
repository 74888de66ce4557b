package handlers_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/internal/proctest"
)

// Environment of the SSE client process of the feed benchmarks.
const (
	sseEnvAddr   = "PUSHGATE_BENCH_SSE_ADDR"
	sseEnvN      = "PUSHGATE_BENCH_SSE_N"
	sseEnvEvents = "PUSHGATE_BENCH_SSE_EVENTS" // events each connection waits for; 0: read until killed
	sseEnvFilter = "PUSHGATE_BENCH_SSE_FILTER" // "user": connection i follows from_user=u<i>
)

// startSSEClients runs TestFeedSSEClient in a child process: n streams on
// addr. The child's memory and goroutines are not the server's.
func startSSEClients(tb testing.TB, addr string, n, events int, filter string) (*exec.Cmd, *bytes.Buffer) {
	tb.Helper()
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestFeedSSEClient$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), sseEnvAddr+"="+addr, sseEnvN+"="+strconv.Itoa(n),
		sseEnvEvents+"="+strconv.Itoa(events), sseEnvFilter+"="+filter)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, &out
}

// waitSubscribers waits until the hub has n live subscribers.
func waitSubscribers(tb testing.TB, fs *feedServer, n int, out *bytes.Buffer) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for fs.hub.Subscribers() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d subscribers after 3 min; client said:\n%.3000s", fs.hub.Subscribers(), n, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkFeedSSEFanout holds 10,000 concurrent /v1/stream subscribers
// (from a child process) on one server and measures the server's RSS growth,
// then the fan-out latency of single pushes to all of them: from the start
// of the push's POST to the event read by each client. Run it once:
// -benchtime=1x.
//
// It also tells the server's part from the clients': for each push, when
// the POST was answered, when the server had written the event to the last
// stream (server-done), and the CPU time the server and the clients'
// process spent on it (both share the machine's cores). A push goes out
// 500 ms after the server wrote the previous one everywhere.
func BenchmarkFeedSSEFanout(b *testing.B) {
	const n, pushes = 10_000, 3
	raiseNoFile(b, n+1024)
	var wrote, partial, firstWrite, lastWrite atomic.Int64
	handlers.SetHeldWriteHook(func(events int, whole bool) {
		if events > 0 {
			wrote.Add(int64(events))
			now := time.Now().UnixNano()
			firstWrite.CompareAndSwap(0, now)
			lastWrite.Store(now)
		}
		if !whole {
			partial.Add(1)
		}
	})
	b.Cleanup(func() { handlers.SetHeldWriteHook(nil) })
	for b.Loop() {
		wrote.Store(0)
		fs := newFeedServer(b, feedOpts{})
		runtime.GC()
		debug.FreeOSMemory()
		before := proctest.RSS(b)
		cmd, out := startSSEClients(b, strings.TrimPrefix(fs.URL, "http://"), n, pushes, "")
		waitSubscribers(b, fs, n, out)
		held := proctest.RSS(b)
		runtime.GC()
		debug.FreeOSMemory()
		settled := proctest.RSS(b)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.Logf("%d streams: RSS +%.1f MiB, +%.1f MiB once settled; goroutines %d, their stacks %.1f MiB, heap in use %.1f MiB",
			n, float64(held-before)/(1<<20), float64(settled-before)/(1<<20), runtime.NumGoroutine(), float64(m.StackInuse)/(1<<20), float64(m.HeapInuse)/(1<<20))

		if path := os.Getenv("PUSHGATE_BENCH_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		sent := make([]int64, pushes)
		answered := make([]time.Duration, pushes)
		serverDone := make([]time.Duration, pushes)
		serverFirst := make([]time.Duration, pushes)
		cpuServer := make([]time.Duration, pushes)
		cpuClients := make([]time.Duration, pushes)
		wrote.Store(0)
		time.Sleep(500 * time.Millisecond)
		for k := range pushes {
			c0, cc0 := cpuTime(), childCPU(cmd.Process.Pid)
			firstWrite.Store(0)
			sent[k] = time.Now().UnixNano()
			fs.click(b, "CLICK", "fan", fmt.Sprint("fan-", k))
			answered[k] = time.Duration(time.Now().UnixNano() - sent[k])
			deadline := time.Now().Add(time.Minute)
			for wrote.Load() < int64((k+1)*n) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			serverDone[k] = time.Duration(lastWrite.Load() - sent[k])
			serverFirst[k] = time.Duration(firstWrite.Load() - sent[k])
			time.Sleep(500 * time.Millisecond) // the clients read meanwhile
			cpuServer[k], cpuClients[k] = cpuTime()-c0, childCPU(cmd.Process.Pid)-cc0
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("client: %v\n%.3000s", err, out.String())
		}
		peak := proctest.RSS(b)
		var lat []time.Duration
		perPush := make([][]time.Duration, pushes)
		for _, line := range strings.Split(out.String(), "\n") {
			var i, k, at int64
			if _, err := fmt.Sscanf(line, "got %d %d %d", &i, &k, &at); err == nil {
				lat = append(lat, time.Duration(at-sent[k]))
				perPush[k] = append(perPush[k], time.Duration(at-sent[k]))
			}
		}
		if len(lat) != n*pushes {
			b.Fatalf("%d of %d deliveries reported; client said:\n%.3000s", len(lat), n*pushes, out.String())
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		for k, l := range perPush {
			slices.Sort(l)
			b.Logf("push %d: answered %.1f ms, first stream written %.1f ms, server-done %.1f ms; read by clients p50 %.1f, p99 %.1f, max %.1f ms; CPU server %.0f ms, clients %.0f ms",
				k, ms(answered[k]), ms(serverFirst[k]), ms(serverDone[k]), ms(l[len(l)/2]), ms(l[len(l)*99/100]), ms(l[len(l)-1]), ms(cpuServer[k]), ms(cpuClients[k]))
		}
		slices.Sort(lat)
		slices.Sort(serverDone)
		b.Logf("writes the socket did not take whole: %d; load average %s", partial.Load(), loadAvg())
		b.ReportMetric(float64(held-before)/(1<<20), "MiB-rss-growth")
		b.ReportMetric(float64(settled-before)/(1<<20), "MiB-rss-settled")
		b.ReportMetric(float64(peak-before)/(1<<20), "MiB-rss-after-fanout")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-fanout-ms")
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-fanout-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-fanout-ms")
		b.ReportMetric(ms(serverDone[len(serverDone)-1]), "max-server-done-ms")
	}
}

// childCPU is the user and system CPU time of process pid so far (from
// /proc; 0 where that cannot be read).
func childCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis: state is the
	// first, utime and stime the 12th and 13th, in clock ticks (100 Hz).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// loadAvg is the machine's load average (1, 5, 15 minutes).
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// TestFeedSSEClient is the client process of the feed benchmarks; it does
// nothing unless started by one. Each connection is a bare TCP stream read
// through a small buffer, so that 10,000 of them stay cheap.
func TestFeedSSEClient(t *testing.T) {
	addr := os.Getenv(sseEnvAddr)
	if addr == "" {
		t.Skip("the SSE client of the feed benchmarks")
	}
	n, _ := strconv.Atoi(os.Getenv(sseEnvN))
	events, _ := strconv.Atoi(os.Getenv(sseEnvEvents))
	byUser := os.Getenv(sseEnvFilter) == "user"
	raiseNoFile(t, uint64(n+1024))
	at := make([][]int64, n)
	dials := make(chan struct{}, 64)
	var wg sync.WaitGroup
	// A stream closes only once every stream has read its events: 10,000
	// closes in the middle of the last fan-out would load both processes
	// and measure the clients' departure, not the fan-out.
	var finished sync.WaitGroup
	finished.Add(n)
	for i := range n {
		wg.Go(func() {
			dials <- struct{}{}
			conn, err := net.Dial("tcp", addr)
			<-dials
			if err != nil {
				finished.Done()
				t.Errorf("dial %d: %v", i, err)
				return
			}
			defer conn.Close()
			defer func() {
				finished.Done()
				if events > 0 {
					finished.Wait()
				}
			}()
			q := "access_token=" + testAPI
			if byUser {
				q += fmt.Sprintf("&from_user=u%d", i)
			}
			fmt.Fprintf(conn, "GET /v1/stream?%s HTTP/1.1\r\nHost: bench\r\n\r\n", q)
			r := bufio.NewReaderSize(conn, 1024)
			for len(at[i]) < events || events == 0 {
				line, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					continue // a long data line: its rest follows
				}
				if err != nil {
					if events > 0 {
						t.Errorf("stream %d: %v", i, err)
					}
					return
				}
				if bytes.HasPrefix(line, []byte("id: ")) {
					at[i] = append(at[i], time.Now().UnixNano())
				}
			}
		})
	}
	wg.Wait()
	var sb strings.Builder
	for i := range n {
		for k, ts := range at[i] {
			fmt.Fprintf(&sb, "got %d %d %d\n", i, k, ts)
		}
	}
	os.Stdout.WriteString(sb.String())
}

// ingestFor posts unique signed CLICK pushes from workers goroutines for d,
// spread over users senders (u0, u1, ...), and returns the pushes answered
// 200 per second.
func (fs *feedServer) ingestFor(tb testing.TB, d time.Duration, workers, users int, tag string) float64 {
	tb.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next, ok atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				i := next.Add(1)
				body := fmt.Sprintf(`<xml><ToUserName>gh</ToUserName><FromUserName>u%d</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>%s%d</EventKey></xml>`, i%int64(users), 1700000000+i, tag, i)
				resp, err := client.Post(fs.pushURL(), "text/xml", strings.NewReader(body))
				if err != nil {
					tb.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds()
}

// BenchmarkFeedIngestWithSubscribers runs the ingest at full load (32
// keep-alive loaders posting to /wechat for 4 s) without subscribers, then
// with 1,000 /v1/stream subscribers (in a child process), and reports the
// ratio of the pushes per second, alternating the two, twice. "filtered": subscriber i follows
// from_user=u<i> and the pushes come from 1,000 senders, so each push goes to
// one subscriber; "all": every subscriber follows every push (1,000 writes
// per push). Each server is fresh. Run it once: -benchtime=1x.
func BenchmarkFeedIngestWithSubscribers(b *testing.B) {
	const subs, users, workers, rounds = 1000, 1000, 32, 2
	d := 4 * time.Second
	raiseNoFile(b, subs+4096)
	var writes, written, partial atomic.Int64
	handlers.SetHeldWriteHook(func(events int, whole bool) {
		writes.Add(1)
		written.Add(int64(events))
		if !whole {
			partial.Add(1)
		}
	})
	b.Cleanup(func() { handlers.SetHeldWriteHook(nil) })
	for _, mode := range []string{"filtered", "all"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				// Alternate the runs, as the machine is shared: its load
				// changes from one run to the next.
				var without, with, cpuWithout, cpuWith float64
				for r := range rounds {
					base := newFeedServer(b, feedOpts{})
					c0 := cpuTime()
					alone := base.ingestFor(b, d, workers, users, fmt.Sprint("base", r))
					cpuAlone := (cpuTime() - c0).Seconds() * 1e6 / (alone * d.Seconds())
					base.Close()

					fs := newFeedServer(b, feedOpts{})
					filter := ""
					if mode == "filtered" {
						filter = "user"
					}
					cmd, out := startSSEClients(b, strings.TrimPrefix(fs.URL, "http://"), subs, 0, filter)
					waitSubscribers(b, fs, subs, out)
					if path := os.Getenv("PUSHGATE_BENCH_CPUPROFILE"); path != "" && r == 0 {
						f, err := os.Create(path + "." + mode)
						if err != nil {
							b.Fatal(err)
						}
						pprof.StartCPUProfile(f)
					}
					writes.Store(0)
					written.Store(0)
					partial.Store(0)
					c0, cc0 := cpuTime(), childCPU(cmd.Process.Pid)
					loaded := fs.ingestFor(b, d, workers, users, fmt.Sprint("subs", r))
					cpuLoaded := (cpuTime() - c0).Seconds() * 1e6 / (loaded * d.Seconds())
					cpuClients := childCPU(cmd.Process.Pid) - cc0
					b.Logf("%s round %d, with subscribers: %.0f stream writes/s carrying %.1f events each (%d not taken whole); the subscribers' process used %.2f CPU-s during the ingest, this process %.2f; load average %s",
						mode, r, float64(writes.Load())/d.Seconds(), float64(written.Load())/float64(max(writes.Load(), 1)), partial.Load(),
						cpuClients.Seconds(), cpuLoaded*loaded*d.Seconds()/1e6, loadAvg())
					pprof.StopCPUProfile()
					left := fs.hub.Subscribers()
					cmd.Process.Kill()
					cmd.Wait()
					childCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
					b.Logf("the subscribers' process used %.2f CPU-s (from its start)", childCPU.Seconds())
					fs.Close()
					b.Logf("%s round %d: %.0f pushes/s without subscribers, %.0f with %d (%d still live at the end): %.2f; CPU of this process per push %.0f µs, %.0f µs: %.2f",
						mode, r, alone, loaded, subs, left, loaded/alone, cpuAlone, cpuLoaded, cpuAlone/cpuLoaded)
					without += alone / rounds
					with += loaded / rounds
					cpuWithout += cpuAlone / rounds
					cpuWith += cpuLoaded / rounds
				}
				b.ReportMetric(without, "pushes/s-alone")
				b.ReportMetric(with, "pushes/s-with-subs")
				b.ReportMetric(with/without, "ratio")
				// On a shared machine the pushes per second swing with the
				// others' load; the CPU this process (server and loaders, not
				// the subscribers' process) spends per push does not.
				b.ReportMetric(cpuWithout, "cpu-µs/push-alone")
				b.ReportMetric(cpuWith, "cpu-µs/push-with-subs")
				b.ReportMetric(cpuWithout/cpuWith, "cpu-ratio")
			}
		})
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
