package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestFreshnessWindow: a timestamp that is not a number within the window
// (5 minutes by default) of the server's clock is 401 and nothing is
// stored; a window of 0 turns the check off.
func TestFreshnessWindow(t *testing.T) {
	t.Parallel()
	// Stamps are taken when posted: replicas starting on a loaded machine
	// must not age them on the way.
	unix := func(d time.Duration) func() string {
		return func() string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }
	}
	fixed := func(s string) func() string { return func() string { return s } }
	cases := []struct {
		stamp func() string
		ok    bool
	}{
		{unix(0), true},
		{unix(-4 * time.Minute), true},
		{unix(4 * time.Minute), true},
		{unix(-6 * time.Minute), false},
		{unix(6 * time.Minute), false},
		{fixed("1000000000"), false}, // 2001
		{fixed("abc"), false},
		{fixed("none"), false},
		{func() string { return unix(0)() + ".5" }, false},
	}
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil)
			off := newReplica(t, drv, recoverDSN(t, drv), nil, func(c *configs.Config) {
				zero := time.Duration(0)
				c.WeChat.MaxSkew = &zero
			})
			accepted := 0
			for i, cs := range cases {
				c := struct {
					stamp string
					ok    bool
				}{cs.stamp(), cs.ok}
				status, answer := ts.post(t, wire{path: "/wechat", token: testToken, body: clickN(i), stamp: c.stamp})
				switch {
				case c.ok && (status != http.StatusOK || answer != "success"):
					t.Errorf("timestamp %q: POST = %d %q, want 200 success", c.stamp, status, answer)
				case !c.ok && (status != http.StatusUnauthorized || answer != "timestamp outside the allowed window"):
					t.Errorf("timestamp %q: POST = %d %q, want 401 \"timestamp outside the allowed window\"", c.stamp, status, answer)
				}
				if c.ok {
					accepted++
				}
				if ev, rej := ts.stored(t); ev != accepted || rej != 0 {
					t.Errorf("timestamp %q: %d events and %d rejected pushes stored, want %d and 0", c.stamp, ev, rej, accepted)
				}
				// With the window off, any signed timestamp passes.
				if status, answer := off.post(t, wire{path: "/wechat", token: testToken, body: clickN(i), stamp: c.stamp}); status != http.StatusOK {
					t.Errorf("max skew 0, timestamp %q: POST = %d %q, want 200", c.stamp, status, answer)
				}
			}
		})
	}
}

// TestNonceSingleUse: a second, different body under a (timestamp, nonce)
// already seen is 401 "nonce already used" and not stored, also when it
// reaches another replica on the same PostgreSQL database; the same body
// again is the ordinary duplicate; the same nonce with another timestamp
// or for another account is a new push.
func TestNonceSingleUse(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			shop := func(c *configs.Config) { c.Accounts = []configs.Account{{Name: "shop", Token: testToken}} }
			a := newReplica(t, drv, dsn, nil, shop)
			b := a
			if drv == models.DriverPostgres {
				b = newReplica(t, drv, dsn, nil, shop) // a second replica
			}
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			older := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
			steps := []struct {
				name   string
				srv    *testServer
				w      wire
				status int
				answer string
				events int
			}{
				{"first push", a, wire{path: "/wechat", token: testToken, body: clickN(1), stamp: stamp, nonce: "replay"}, 200, "success", 1},
				{"same body, same nonce (a retry)", b, wire{path: "/wechat", token: testToken, body: clickN(1), stamp: stamp, nonce: "replay"}, 200, "success", 1},
				{"other body, same nonce", b, wire{path: "/wechat", token: testToken, body: clickN(2), stamp: stamp, nonce: "replay"}, 401, "nonce already used", 1},
				{"other body, same nonce, first replica", a, wire{path: "/wechat", token: testToken, body: clickN(3), stamp: stamp, nonce: "replay"}, 401, "nonce already used", 1},
				{"same nonce, other timestamp", b, wire{path: "/wechat", token: testToken, body: clickN(4), stamp: older, nonce: "replay"}, 200, "success", 2},
				{"same nonce, other account", b, wire{path: "/wechat/shop", token: testToken, body: clickN(5), stamp: stamp, nonce: "replay"}, 200, "success", 3},
			}
			for _, s := range steps {
				status, answer := s.srv.post(t, s.w)
				if status != s.status || !strings.Contains(answer, s.answer) {
					t.Errorf("%s: POST = %d %q, want %d %q", s.name, status, answer, s.status, s.answer)
				}
				if ev, rej := a.stored(t); ev != s.events || rej != 0 {
					t.Errorf("%s: %d events and %d rejected pushes stored, want %d and 0", s.name, ev, rej, s.events)
				}
			}
			n := a.rec.calls.Load()
			if b != a {
				n += b.rec.calls.Load()
			}
			if n != 3 {
				t.Errorf("handlers ran %d times, want 3", n)
			}
		})
	}
}

// TestNonceOfRetrySingleUse: a platform retry arrives under a new signed
// URL; its push is a duplicate, so no new event row holds its nonce. That
// URL must still carry no other body: a different push replayed under it
// (plaintext mode: the signature does not cover the body) is 401 "nonce
// already used" and not stored, also on another replica.
func TestNonceOfRetrySingleUse(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			a := newReplica(t, drv, dsn, nil)
			b := a
			if drv == models.DriverPostgres {
				b = newReplica(t, drv, dsn, nil)
			}
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			steps := []struct {
				name   string
				srv    *testServer
				w      wire
				status int
				answer string
				events int
			}{
				{"first push", a, wire{path: "/wechat", token: testToken, body: clickN(1), stamp: stamp, nonce: "first"}, 200, "success", 1},
				{"its retry, new nonce", a, wire{path: "/wechat", token: testToken, body: clickN(1), stamp: stamp, nonce: "retry"}, 200, "success", 1},
				{"the retry again (same URL)", b, wire{path: "/wechat", token: testToken, body: clickN(1), stamp: stamp, nonce: "retry"}, 200, "success", 1},
				{"other body under the retry's URL", a, wire{path: "/wechat", token: testToken, body: clickN(2), stamp: stamp, nonce: "retry"}, 401, "nonce already used", 1},
				{"other body under the retry's URL, other replica", b, wire{path: "/wechat", token: testToken, body: clickN(3), stamp: stamp, nonce: "retry"}, 401, "nonce already used", 1},
				{"other body, fresh nonce", b, wire{path: "/wechat", token: testToken, body: clickN(2), stamp: stamp, nonce: "fresh"}, 200, "success", 2},
			}
			for _, s := range steps {
				status, answer := s.srv.post(t, s.w)
				if status != s.status || !strings.Contains(answer, s.answer) {
					t.Errorf("%s: POST = %d %q, want %d %q", s.name, status, answer, s.status, s.answer)
				}
				if ev, _ := a.stored(t); ev != s.events {
					t.Errorf("%s: %d events stored, want %d", s.name, ev, s.events)
				}
			}
		})
	}
}
