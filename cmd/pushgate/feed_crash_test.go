package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushgate/pushgate/handlers"
)

const feedAPIToken = "crash-api-token"

// feedEvent is an event of the stream, as far as this test reads it.
type feedEvent struct{ id, key string }

// followStream reads /v1/stream on addr after the cursor after into out
// until the stream ends.
func followStream(t *testing.T, addr, after string, out chan<- feedEvent) error {
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/stream?access_token="+feedAPIToken, nil)
	if after != "" {
		req.Header.Set("Last-Event-ID", after)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("stream: status %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	var id string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimSpace(line[4:])
		case strings.HasPrefix(line, "data: "):
			var v struct {
				EventKey string `json:"event_key"`
			}
			if err := json.Unmarshal([]byte(line[6:]), &v); err != nil {
				return err
			}
			out <- feedEvent{id, v.EventKey}
		}
	}
}

// TestFeedResumeAcrossKill9 follows the stream of a serving pushgate while
// loaders post pushes, kills the server with SIGKILL, restarts it on the
// same SQLite file and resumes with the last id received: every push that
// was acknowledged arrives exactly once, in id order, across the restart.
func TestFeedResumeAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pushgate processes")
	}
	t.Setenv("PUSHGATE_API_TOKEN", feedAPIToken) // inherited by the children
	dsn := filepath.Join(t.TempDir(), "feed.db")
	c := startChild(t, dsn)

	events := make(chan feedEvent, 1<<16)
	streamDone := make(chan error, 1)
	go func() { streamDone <- followStream(t, c.addr, "", events) }()
	load := startLoad(c.addr, 6, "f")
	time.Sleep(1500 * time.Millisecond)
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
	acked := load.stop()
	<-streamDone // the stream broke with the server

	var got []feedEvent
	for len(events) > 0 {
		got = append(got, <-events)
	}
	if len(got) == 0 {
		t.Fatal("no event streamed before the kill")
	}
	before := len(got)

	c2 := startChild(t, dsn)
	go func() { streamDone <- followStream(t, c2.addr, got[len(got)-1].id, events) }()
	pushEnd(t, c2.addr)
	timeout := time.After(30 * time.Second)
	for got[len(got)-1].key != "END" {
		select {
		case ev := <-events:
			got = append(got, ev)
		case err := <-streamDone:
			t.Fatalf("the stream after the restart ended: %v; %d events", err, len(got))
		case <-timeout:
			t.Fatalf("END not streamed after the restart; %d events", len(got))
		}
	}

	seen := make(map[string]bool)
	for i, ev := range got {
		if seen[ev.key] {
			t.Fatalf("event %s (%s) streamed twice", ev.id, ev.key)
		}
		seen[ev.key] = true
		if i > 0 {
			a, _ := strconv.ParseInt(got[i-1].id, 10, 64)
			b, _ := strconv.ParseInt(ev.id, 10, 64)
			if b <= a {
				t.Fatalf("event %d id %d after %d: not in id order", i, b, a)
			}
		}
	}
	for _, k := range acked {
		if !seen[k] {
			t.Errorf("acknowledged push %s never streamed", k)
		}
	}
	t.Logf("%d acknowledged pushes; %d events streamed before the kill, %d after the restart", len(acked), before, len(got)-before)
}

// pushEnd posts a push with EventKey END.
func pushEnd(t *testing.T, addr string) {
	t.Helper()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"timestamp": {stamp}, "nonce": {"end"}, "signature": {handlers.Signature(crashToken, stamp, "end")}}
	body := `<xml><ToUserName>gh</ToUserName><FromUserName>end</FromUserName><CreateTime>1800000000</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>END</EventKey></xml>`
	resp, err := http.Post("http://"+addr+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("END push: %d", resp.StatusCode)
	}
}
