package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushgate/pushgate/handlers"
)

// TestMain lets a test re-execute this binary as `pushgate serve`.
func TestMain(m *testing.M) {
	if os.Getenv("PUSHGATE_TEST_SERVE") == "1" {
		os.Args = []string{"pushgate", "serve"}
		main()
	}
	os.Exit(m.Run())
}

const crashToken = "crash-token"

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dsn string) *child {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PUSHGATE_TEST_SERVE=1", "PUSHGATE_ADDR="+addr, "PUSHGATE_DB_DSN="+dsn,
		"PUSHGATE_WECHAT_TOKEN="+crashToken, "PUSHGATE_ADMIN_TOKEN=crash-admin-token", "PUSHGATE_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return &child{cmd: cmd, addr: addr}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("child pushgate did not come up")
	return nil
}

// TestKill9UnderLoad kills a serving pushgate with SIGKILL while loaders
// post pushes, restarts it on the same SQLite file, and checks that every
// push that got 200 is stored and dispatched.
func TestKill9UnderLoad(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "crash.db")
	c := startChild(t, dsn)

	load := startLoad(c.addr, 8, "w")
	// Kill once the server is busy with acknowledged pushes (a count, not a
	// time: a loaded machine acknowledges fewer per second), at least 1.5 s in.
	start := time.Now()
	for (load.count() < 300 || time.Since(start) < 1500*time.Millisecond) && time.Since(start) < 60*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
	time.Sleep(200 * time.Millisecond)
	acked := load.stop()
	if len(acked) < 100 {
		t.Fatalf("only %d pushes acknowledged before the kill; the test did not load the server", len(acked))
	}

	c2 := startChild(t, dsn)
	stored := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		stored = listAll(t, c2.addr)
		pending := 0
		for _, status := range stored {
			if status == "received" {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	missing, undispatched := 0, 0
	for _, key := range acked {
		switch stored[key] {
		case "":
			missing++
		case "received":
			undispatched++
		}
	}
	t.Logf("acknowledged %d pushes before SIGKILL; %d stored after restart", len(acked), len(stored))
	if missing > 0 || undispatched > 0 {
		t.Fatalf("of %d acknowledged pushes, %d are not stored and %d not dispatched after restart", len(acked), missing, undispatched)
	}
}

// listAll maps event_key to status over every stored event.
func listAll(t *testing.T, addr string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/events?limit=500&cursor="+url.QueryEscape(cursor), nil)
		req.Header.Set("Authorization", "Bearer crash-admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				EventKey string `json:"event_key"`
				Status   string `json:"status"`
			} `json:"events"`
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			out[e.EventKey] = e.Status
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// TestGracefulShutdown sends SIGTERM to a serving pushgate under load: it
// exits 0, and every push it acknowledged is stored and handled.
func TestGracefulShutdown(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "term.db")
	c := startChild(t, dsn)
	load := startLoad(c.addr, 4, "t")
	time.Sleep(700 * time.Millisecond)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("pushgate exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pushgate did not exit within 15 s of SIGTERM")
	}
	acked := load.stop()
	if len(acked) == 0 {
		t.Fatal("no push was acknowledged before SIGTERM")
	}
	c2 := startChild(t, dsn)
	stored := listAll(t, c2.addr)
	for _, key := range acked {
		if stored[key] != "handled" {
			t.Fatalf("acknowledged push %s is %q after a graceful shutdown, want handled", key, stored[key])
		}
	}
}

// load posts unique signed CLICK pushes from several workers until stopped
// and remembers the EventKey of every push answered 200 "success".
type load struct {
	mu    sync.Mutex
	acked []string
	wg    sync.WaitGroup
	done  chan struct{}
}

func startLoad(addr string, workers int, prefix string) *load {
	l := &load{done: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.done:
					return
				default:
				}
				key := fmt.Sprintf("%s%d_%d", prefix, w, i)
				// A signed URL carries one push: each gets its own nonce.
				stamp := strconv.FormatInt(time.Now().Unix(), 10)
				q := url.Values{"timestamp": {stamp}, "nonce": {key}, "signature": {handlers.Signature(crashToken, stamp, key)}}
				target := "http://" + addr + "/wechat?" + q.Encode()
				body := fmt.Sprintf(`<xml><ToUserName>gh</ToUserName><FromUserName>u%d</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>%s</EventKey></xml>`, w, 1700000000+i, key)
				resp, err := client.Post(target, "text/xml", strings.NewReader(body))
				if err != nil {
					continue // the server went away mid-request: not acknowledged
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(answer) == "success" {
					l.mu.Lock()
					l.acked = append(l.acked, key)
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// count returns how many pushes were acknowledged so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// stop ends the load and returns the acknowledged keys.
func (l *load) stop() []string {
	close(l.done)
	l.wg.Wait()
	return l.acked
}
