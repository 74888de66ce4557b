package notify

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
)

// TestPostJudgesEveryAnswer sends one attempt to a loopback sink failing in
// every way seed 003 names, and checks the verdict and the recorded error.
func TestPostJudgesEveryAnswer(t *testing.T) {
	t.Parallel()
	secret := testSecret("post key")
	tests := []struct {
		name    string
		answer  func(w http.ResponseWriter, h hit, seen int)
		status  int
		errPart string // "" = success
	}{
		{"success", succeed, 200, ""},
		{"success any case, trimmed", func(w http.ResponseWriter, _ hit, _ int) { io.WriteString(w, " SUCCESS \n") }, 200, ""},
		{"other 2xx", func(w http.ResponseWriter, _ hit, _ int) { w.WriteHeader(202); io.WriteString(w, "Success") }, 202, ""},
		{"500", func(w http.ResponseWriter, _ hit, _ int) { http.Error(w, "boom", 500) }, 500, `http 500: "boom\n"`},
		{"500 saying success", func(w http.ResponseWriter, _ hit, _ int) { w.WriteHeader(500); io.WriteString(w, "success") }, 500, "http 500"},
		{"200 fail", func(w http.ResponseWriter, _ hit, _ int) { io.WriteString(w, "fail") }, 200, `answered "fail", want "success"`},
		{"200 empty", func(w http.ResponseWriter, _ hit, _ int) {}, 200, `answered ""`},
		{"200 success and more", func(w http.ResponseWriter, _ hit, _ int) { io.WriteString(w, "success!") }, 200, "answered"},
		{"200 long body", func(w http.ResponseWriter, _ hit, _ int) { io.WriteString(w, strings.Repeat("x", 5000)) }, 200, "answered"},
		{"redirect", func(w http.ResponseWriter, _ hit, _ int) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		}, 302, "http 302"},
		{"slow beyond read timeout", func(w http.ResponseWriter, _ hit, _ int) {
			time.Sleep(700 * time.Millisecond)
			io.WriteString(w, "success")
		}, 0, "read timeout after 300ms"},
		{"slow body beyond read timeout", func(w http.ResponseWriter, _ hit, _ int) {
			io.WriteString(w, "succ")
			w.(http.Flusher).Flush()
			time.Sleep(700 * time.Millisecond)
			io.WriteString(w, "ess")
		}, 200, "read timeout after 300ms"},
		{"connection reset", func(w http.ResponseWriter, _ hit, _ int) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			conn.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			conn.Close()
		}, 0, "connection"},
		{"closed without answer", func(w http.ResponseWriter, _ hit, _ int) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, 0, "connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSink(t, tt.answer)
			n := New(nil, configs.Notify{}, nil, Options{})
			tg := &target{url: s.URL, connect: time.Second, read: 300 * time.Millisecond}
			tg.key, _ = ParseSecret(secret)
			body := []byte(`{"id":1}`)
			got := n.post(context.Background(), tg, s.URL, "msg_1", 3, body)
			if got.status != tt.status || (tt.errPart == "") != (got.err == "") || !strings.Contains(got.err, tt.errPart) {
				t.Errorf("post = {status %d, err %q}, want status %d and an error containing %q",
					got.status, got.err, tt.status, tt.errPart)
			}
			hits := s.snapshot()
			if len(hits) != 1 {
				t.Fatalf("sink got %d requests, want 1", len(hits))
			}
			h := hits[0]
			if err := Verify(secret, h.header, h.body, time.Now()); err != nil {
				t.Errorf("the sink's Verify = %v", err)
			}
			if h.id != "msg_1" || h.attempt != 3 || h.header.Get("Content-Type") != "application/json" || string(h.body) != string(body) {
				t.Errorf("sink saw id %q attempt %d type %q body %q", h.id, h.attempt, h.header.Get("Content-Type"), h.body)
			}
		})
	}
}

func TestPostToClosedPortIsRefused(t *testing.T) {
	t.Parallel()
	addr := boundNotListening(t)
	n := New(nil, configs.Notify{}, nil, Options{})
	tg := &target{connect: time.Second, read: time.Second}
	got := n.post(context.Background(), tg, "http://"+addr+"/hook", "msg_2", 1, []byte("{}"))
	if got.status != 0 || got.err != "connection refused" {
		t.Errorf("post(closed port) = {%d, %q}, want {0, \"connection refused\"}", got.status, got.err)
	}
}

func TestPostUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	s := newSink(t, succeed)
	n := New(nil, configs.Notify{}, nil, Options{})
	got := n.post(context.Background(), &target{connect: time.Second, read: time.Second}, s.URL, "msg_3", 1, []byte("{}"))
	if got.err != "" {
		t.Fatalf("post = %q", got.err)
	}
	h := s.snapshot()[0].header
	if h.Get(HeaderSignature) != "" || h.Get(HeaderID) != "msg_3" || h.Get(HeaderTimestamp) == "" {
		t.Errorf("headers = %v, want id and timestamp without a signature", h)
	}
}

func TestTargetWantsKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kinds []string
		kind  string
		want  bool
	}{
		{nil, "event.CLICK", true},
		{[]string{"event.CLICK"}, "event.CLICK", true},
		{[]string{"event.click"}, "event.CLICK", true},
		{[]string{"click"}, "event.CLICK", true},
		{[]string{"subscribe"}, "event.CLICK", false},
		{[]string{"text"}, "text", true},
		{[]string{"click"}, "text", false},
		{[]string{"event.text"}, "text", false},
	}
	for _, tt := range tests {
		if got := (&target{kinds: tt.kinds}).wants(tt.kind); got != tt.want {
			t.Errorf("target{kinds: %q}.wants(%q) = %v, want %v", tt.kinds, tt.kind, got, tt.want)
		}
	}
}

// boundNotListening returns the address of a TCP socket bound on loopback that
// does not listen: a connection to it is refused, and no other socket can
// take the port while the test runs (a closed listener's port could be).
func boundNotListening(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
