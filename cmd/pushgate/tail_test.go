package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func pushKey(t *testing.T, addr, event, key string) {
	t.Helper()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"timestamp": {stamp}, "nonce": {key}, "signature": {handlers.Signature(crashToken, stamp, key)}}
	body := fmt.Sprintf(`<xml><ToUserName>gh</ToUserName><FromUserName>tailer</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>%s</Event><EventKey>%s</EventKey></xml>`, event, key)
	resp, err := http.Post("http://"+addr+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push %s: %d", key, resp.StatusCode)
	}
}

func TestTail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a pushgate process")
	}
	t.Setenv("PUSHGATE_API_TOKEN", feedAPIToken)
	c := startChild(t, filepath.Join(t.TempDir(), "tail.db"))
	pushKey(t, c.addr, "CLICK", "old-click")
	pushKey(t, c.addr, "VIEW", "old-view")

	tests := []struct {
		name string
		args []string
		want []string // event keys, in order
	}{
		{"from the start, filtered", []string{"--after", "0", "--event", "CLICK"}, []string{"old-click", "new-click"}},
		{"new only, json", []string{"--json"}, []string{"new-click", "new-view"}},
	}
	outs := make([]*syncBuffer, len(tests))
	errOut := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i, tt := range tests {
		outs[i] = &syncBuffer{}
		args := append([]string{"tail", "--server", "http://" + c.addr}, tt.args...)
		wg.Go(func() {
			if err := pushgate.Command(ctx, events.NewMux(), args, outs[i], errOut); err != nil {
				t.Errorf("run(%q) = %v", args, err)
			}
		})
	}
	// The tails connect ("now" is when they do): wait until both follow.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(metrics(t, c.addr), "pushgate_feed_subscribers 2\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the tails did not connect; stderr: %q", errOut.lines())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pushKey(t, c.addr, "CLICK", "new-click")
	pushKey(t, c.addr, "VIEW", "new-view")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deadline := time.Now().Add(10 * time.Second)
			for len(outs[i].lines()) < len(tt.want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // nothing more should come
			lines := outs[i].lines()
			if len(lines) != len(tt.want) {
				t.Fatalf("tail %q printed %q, want %d lines; stderr: %q", tt.args, lines, len(tt.want), errOut.lines())
			}
			for j, line := range lines {
				if strings.Contains(tt.name, "json") {
					var e struct {
						EventKey string `json:"event_key"`
					}
					if err := json.Unmarshal([]byte(line), &e); err != nil || e.EventKey != tt.want[j] {
						t.Errorf("line %d = %q, want the JSON of %s", j, line, tt.want[j])
					}
				} else if !strings.Contains(line, "key="+tt.want[j]) || !strings.Contains(line, "event.") {
					t.Errorf("line %d = %q, want event %s", j, line, tt.want[j])
				}
			}
		})
	}
	cancel()
	wg.Wait()
}

// metrics returns the text of GET /metrics.
func metrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}
