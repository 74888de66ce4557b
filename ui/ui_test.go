package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/ui"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	tests := []struct {
		name       string
		token      string
		origin     string
		proto      string // X-Forwarded-Proto, set by a TLS-terminating proxy
		wantStatus int
		wantCookie bool
	}{
		{"right token", adminToken, "", "", http.StatusSeeOther, true},
		{"right token, same origin", adminToken, "SELF", "", http.StatusSeeOther, true},
		{"right token, behind a TLS proxy", adminToken, "", "https", http.StatusSeeOther, true},
		{"wrong token", "admin-ui-tokem", "", "", http.StatusUnauthorized, false},
		{"no token", "", "", "", http.StatusUnauthorized, false},
		{"cross-site form", adminToken, "http://evil.example", "", http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL+"/ui/login", strings.NewReader(url.Values{"token": {tt.token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.origin == "SELF" {
				req.Header.Set("Origin", e.URL)
			} else if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			resp, err := client(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("POST /ui/login = %d, want %d: %.300s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
				t.Errorf("Content-Security-Policy = %q, want script-src 'self' and no unsafe-inline", got)
			}
			cookies := resp.Cookies()
			if got := len(cookies) == 1; got != tt.wantCookie {
				t.Fatalf("session cookie set = %v (%v), want %v", got, cookies, tt.wantCookie)
			}
			if !tt.wantCookie {
				return
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || strings.Contains(c.Value, adminToken) {
				t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui and not the token", c)
			}
			if want := tt.proto == "https"; c.Secure != want {
				t.Errorf("session cookie Secure = %v, want %v (X-Forwarded-Proto %q)", c.Secure, want, tt.proto)
			}
			if loc := resp.Header.Get("Location"); loc != "/ui/" {
				t.Errorf("Location = %q, want /ui/", loc)
			}
		})
	}
}

func TestPagesNeedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := client(t)
	for _, p := range []string{"/ui/", "/ui/events/1", "/ui/rejected", "/ui/deliveries", "/ui/health"} {
		resp, err := c.Get(e.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
			t.Errorf("GET %s without a session = %d to %q, want 303 to /ui/login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if status, _ := e.get(t, c, "/ui/api/v1/events"); status != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/v1/events without a session = %d, want 401", status)
	}
	e.login(t, c)
	for _, p := range []string{"/ui/", "/ui/events/1", "/ui/rejected", "/ui/deliveries", "/ui/health", "/ui/static/app.js", "/ui/static/style.css"} {
		if status, _ := e.get(t, c, p); status != http.StatusOK {
			t.Errorf("GET %s with a session = %d, want 200", p, status)
		}
	}
	if status, _ := e.get(t, c, "/ui/send"); status != http.StatusNotFound {
		t.Errorf("GET /ui/send outside dev mode = %d, want 404", status)
	}
	if status, body := e.get(t, c, "/ui/static/"); status != http.StatusNotFound {
		t.Errorf("GET /ui/static/ = %d %.100q, want 404 (no directory listing)", status, body)
	}
}

// TestProxy checks what a session may call through /ui/api and that every
// action needs the session's CSRF token from a same-origin page.
func TestProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	if got := e.push(t, "text/xml", click(1700000001, "proxy-user", "K1")); got != 200 {
		t.Fatalf("push = %d", got)
	}
	c := client(t)
	csrf := e.login(t, c)
	var list struct {
		Events []struct{ ID, EventKey string } `json:"events"`
	}
	status, body := e.get(t, c, "/ui/api/v1/events?event_key=K1")
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Events) != 1 {
		t.Fatalf("GET /ui/api/v1/events?event_key=K1 = %d %s, want the one event", status, body)
	}
	id := list.Events[0].ID
	e.waitSettled(t, id) // a replay leaves alone an event still received
	replay := "/ui/api/v1/events/" + id + "/replay"
	tests := []struct {
		name, method, path string
		header             map[string]string
		want               int
	}{
		{"list events", "GET", "/ui/api/v1/events", nil, 200},
		{"one event", "GET", "/ui/api/v1/events/" + id, nil, 200},
		{"refused pushes", "GET", "/ui/api/v1/rejected", nil, 200},
		{"deliveries", "GET", "/ui/api/v1/deliveries", nil, 200},
		{"not an admin route", "GET", "/ui/api/v1/results/x", nil, 404},
		{"an API route (the admin token cannot open it)", "GET", "/ui/api/v1/accounts/default/component_verify_ticket", nil, 404},
		{"dot-dot", "GET", "/ui/api/v1/events/../results/x", nil, 404},
		{"replay without CSRF token", "POST", replay, nil, 403},
		{"replay with a wrong CSRF token", "POST", replay, map[string]string{"X-CSRF-Token": strings.Repeat("0", 64)}, 403},
		{"replay from another site", "POST", replay, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, 403},
		{"replay from another origin", "POST", replay, map[string]string{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, 403},
		{"replay from another origin, same site", "POST", replay, map[string]string{"X-CSRF-Token": csrf, "Origin": "http://other.example", "Sec-Fetch-Site": "same-site"}, 403},
		{"replay", "POST", replay, map[string]string{"X-CSRF-Token": csrf, "Origin": e.URL, "Sec-Fetch-Site": "same-origin"}, 200},
		{"replay behind a proxy that rewrote Host", "POST", replay, map[string]string{"X-CSRF-Token": csrf, "Origin": "https://pushgate.example", "Sec-Fetch-Site": "same-origin"}, 200},
		{"replay from curl", "POST", replay, map[string]string{"X-CSRF-Token": csrf}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.URL+tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d: %.200s", tt.method, tt.path, resp.StatusCode, tt.want, b)
			}
		})
	}
	if got := e.dispatched.Load(); got != 4 {
		t.Errorf("dispatches = %d, want 4 (the push and three replays)", got)
	}
}

// TestProxyStream reads the live feed through the session: the event
// pushed after subscribing arrives as server-sent event.
func TestProxyStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := client(t)
	e.login(t, c)
	req, _ := http.NewRequest("GET", e.URL+"/ui/api/v1/stream?event_key=LIVE", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /ui/api/v1/stream = %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	e.push(t, "text/xml", click(1700000002, "u", "OTHER"))
	e.push(t, "text/xml", click(1700000003, "u", "LIVE"))
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				got <- d
				return
			}
		}
	}()
	select {
	case d := <-got:
		if !strings.Contains(d, `"event_key":"LIVE"`) {
			t.Errorf("first streamed event = %s, want event_key LIVE", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the stream within 10 s")
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := client(t)
	csrf := e.login(t, c)
	for _, tt := range []struct {
		csrf string
		want int
	}{{"", http.StatusForbidden}, {csrf, http.StatusSeeOther}} {
		resp, err := c.PostForm(e.URL+"/ui/logout", url.Values{"csrf": {tt.csrf}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST /ui/logout csrf=%q = %d, want %d", tt.csrf, resp.StatusCode, tt.want)
		}
	}
	if status, _ := e.get(t, c, "/ui/api/v1/events"); status != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/v1/events after logout = %d, want 401", status)
	}
}

func TestDevSend(t *testing.T) {
	t.Parallel()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []bool{false, true} {
		e := newEnv(t, dev)
		c := client(t)
		csrf := e.login(t, c)
		req, _ := http.NewRequest("POST", e.URL+"/ui/api/send", strings.NewReader(`{"name":"`+pushes[0].Name+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !dev {
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST /ui/api/send outside dev mode = %d, want 404", resp.StatusCode)
			}
			continue
		}
		var out struct {
			Name   string `json:"name"`
			Status int    `json:"status"`
			Answer string `json:"answer"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.Status != 200 {
			t.Fatalf("POST /ui/api/send in dev mode = %d %s, want 200 and the push's 200", resp.StatusCode, b)
		}
		rows, _, err := e.store.ListEvents(t.Context(), modelsFilter())
		if err != nil || len(rows) != 1 || rows[0].Kind != pushes[0].Kind {
			t.Errorf("stored after send = %v (err %v), want one %s", len(rows), err, pushes[0].Kind)
		}
	}
}

// TestLoginRateLimit: failed logins are limited per remote address: 5,
// then 429 with Retry-After (also for the right token, which is not looked
// at) until a failure's worth of time (12 s) has passed; another address
// is not held up. The clock is the inspector's, moved by the test.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, false, func(o *ui.Options) { o.Now = clock })
	// from posts the login form from a loopback source address.
	from := func(ip, token string) (int, string) {
		t.Helper()
		c := client(t)
		c.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
		resp, err := c.PostForm(e.URL+"/ui/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 5 {
		if status, _ := from("127.0.0.1", "guess"); status != http.StatusUnauthorized {
			t.Fatalf("failed login %d = %d, want 401", i+1, status)
		}
	}
	for _, token := range []string{"guess", adminToken} {
		if status, retry := from("127.0.0.1", token); status != http.StatusTooManyRequests || retry != "12" {
			t.Errorf("login (%q) after 5 failures = %d, Retry-After %q; want 429, 12", token, status, retry)
		}
	}
	if status, _ := from("127.0.0.2", adminToken); status != http.StatusSeeOther {
		t.Errorf("login from another address = %d, want 303", status)
	}
	mu.Lock()
	now = now.Add(12 * time.Second)
	mu.Unlock()
	if status, _ := from("127.0.0.1", "guess"); status != http.StatusUnauthorized {
		t.Errorf("failed login 12 s later = %d, want 401 (one more try)", status)
	}
	if status, retry := from("127.0.0.1", adminToken); status != http.StatusTooManyRequests || retry != "12" {
		t.Errorf("login right after = %d, Retry-After %q; want 429, 12", status, retry)
	}
	mu.Lock()
	now = now.Add(12 * time.Second)
	mu.Unlock()
	if status, _ := from("127.0.0.1", adminToken); status != http.StatusSeeOther {
		t.Errorf("login with the right token 12 s later = %d, want 303", status)
	}
}

// TestRawBodiesDownload: a push's raw body is the sender's bytes; served
// from the inspector's origin as XML it could render as XHTML (and run its
// scripts there). The raw routes, as the inspector forwards them, answer
// as a download (Content-Disposition: attachment) that the browser may not
// sniff into another type.
func TestRawBodiesDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	evil := `<xml xmlns="http://www.w3.org/1999/xhtml"><ToUserName>gh_a</ToUserName><FromUserName>o_b</FromUserName>` +
		`<CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey>` +
		`<script>alert(document.cookie)</script></xml>`
	if status := e.push(t, "text/xml", evil); status != http.StatusOK {
		t.Fatalf("push = %d, want 200", status)
	}
	if status := e.push(t, "text/xml", `<xml><script>alert(1)</script>`); status != http.StatusBadRequest {
		t.Fatalf("undecodable push = %d, want 400", status)
	}
	rows, _, err := e.store.ListEvents(context.Background(), modelsFilter())
	if err != nil || len(rows) != 1 {
		t.Fatalf("ListEvents = %d rows, %v; want 1", len(rows), err)
	}
	rej, _, err := e.store.ListRejected(context.Background(), 10, "")
	if err != nil || len(rej) != 1 {
		t.Fatalf("ListRejected = %d rows, %v; want 1", len(rej), err)
	}
	c := client(t)
	e.login(t, c)
	for _, tc := range []struct{ path, file string }{
		{fmt.Sprintf("/ui/api/v1/events/%d/raw", rows[0].ID), fmt.Sprintf("event-%d.xml", rows[0].ID)},
		{fmt.Sprintf("/ui/api/v1/rejected/%d/raw", rej[0].ID), fmt.Sprintf("rejected-%d.bin", rej[0].ID)},
	} {
		resp, err := c.Get(e.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", tc.path, resp.StatusCode)
		}
		if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="`+tc.file+`"`; got != want {
			t.Errorf("GET %s: Content-Disposition = %q, want %q", tc.path, got, want)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q, want nosniff", tc.path, got)
		}
	}
}

// TestLoginRateLimitConcurrent: logins in flight together cannot all pass
// the limit. Twenty connections send their headers and half a form, wait
// until the server holds them all, then finish: at most 5 tokens are
// compared (401), the rest are refused (429).
func TestLoginRateLimitConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	host := strings.TrimPrefix(e.URL, "http://")
	const n = 20
	body := "token=wrong-token-guess"
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /ui/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
			host, len(body), body[:6])
		conns[i] = c
	}
	time.Sleep(300 * time.Millisecond) // every request read up to its body
	codes := map[int]int{}
	for _, c := range conns {
		io.WriteString(c, body[6:])
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[http.StatusUnauthorized] > 5 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != n {
		t.Errorf("answers %v: want at most 5 tokens compared (401), the rest 429", codes)
	}
}
