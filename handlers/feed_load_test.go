package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// feedLoad posts n unique signed CLICK pushes (EventKey "L<i>") from
// workers goroutines and returns once all were answered 200.
func (fs *feedServer) feedLoad(t testing.TB, n, workers int) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := fmt.Sprintf(`<xml><ToUserName>gh</ToUserName><FromUserName>u%d</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>L%d</EventKey></xml>`, i%50, 1700000000+i, i)
				resp, err := client.Post(fs.pushURL(), "text/xml", strings.NewReader(body))
				if err != nil {
					t.Errorf("push %d: %v", i, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("push %d: status %d", i, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
}

// loadPushes is the size of the resume-under-load test: 50,000, or 5,000
// under the race detector (BenchmarkFeedResumeUnderLoad runs the full count
// there too).
func loadPushes() int {
	if raceOn {
		return 5000
	}
	return 50000
}

// TestSSEResumeDuringLoad: a subscriber disconnects several times during a
// load of pushes and reconnects with its last id; it receives every event
// exactly once, in id order.
func TestSSEResumeDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load of pushes; not in -short")
	}
	fs := newFeedServer(t, feedOpts{})
	n := loadPushes()
	resumeDuringLoad(t, fs, n)
}

func resumeDuringLoad(t testing.TB, fs *feedServer, n int) {
	loaded := make(chan struct{})
	go func() { defer close(loaded); fs.feedLoad(t, n, 16) }()

	seen := make(map[string]bool, n)
	var last string
	reconnects, during := 0, 0
	deadline := time.Now().Add(5 * time.Minute)
	for len(seen) < n && time.Now().Before(deadline) {
		var c *sseClient
		if last == "" {
			c = fs.openSSE(t, "")
		} else {
			c = fs.openSSE(t, "", "Last-Event-ID", last)
		}
		// Read a part, then drop the connection (mid-load, the first times).
		quota := n / 7
		timer := time.AfterFunc(time.Until(deadline), c.close)
		for got := 0; got < quota && len(seen) < n; got++ {
			ev, err := c.next()
			if err != nil {
				t.Fatalf("stream ended after %d events: %v", len(seen), err)
			}
			if seen[ev.data.EventKey] {
				t.Fatalf("event %s (%s) received twice", ev.id, ev.data.EventKey)
			}
			if last != "" && !idLess(last, ev.id) {
				t.Fatalf("event %s after %s: not in id order", ev.id, last)
			}
			seen[ev.data.EventKey] = true
			last = ev.id
		}
		timer.Stop()
		c.close()
		reconnects++
		select {
		case <-loaded:
		default:
			during++
		}
	}
	<-loaded
	if len(seen) != n {
		t.Fatalf("received %d distinct events, want %d", len(seen), n)
	}
	for i := range n {
		if !seen[fmt.Sprintf("L%d", i)] {
			t.Fatalf("push L%d never received", i)
		}
	}
	if during == 0 {
		t.Errorf("the subscriber never disconnected while the load ran")
	}
	t.Logf("%d events received exactly once over %d connections, %d dropped during the load", n, reconnects, during)
}

func idLess(a, b string) bool { return len(a) < len(b) || len(a) == len(b) && a < b }

// BenchmarkFeedResumeUnderLoad is TestSSEResumeDuringLoad at its full count
// (50,000 pushes) whatever the build, for -race runs where the test shrinks.
// Run it once: -benchtime=1x.
func BenchmarkFeedResumeUnderLoad(b *testing.B) {
	for b.Loop() {
		fs := newFeedServer(b, feedOpts{})
		start := time.Now()
		resumeDuringLoad(b, fs, 50000)
		b.ReportMetric(50000/time.Since(start).Seconds(), "events/s")
	}
}
