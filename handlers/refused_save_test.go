package handlers_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// TestRefusalSavedAfterClientLeft: a client that sends half its body and
// hangs up is refused (the body cannot be read), and the refusal is kept
// although the request's context ended with the connection.
func TestRefusalSavedAfterClientLeft(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u, _ := url.Parse(ts.signedURL("gone"))
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	half := "<xml><ToUserName>gh_x</ToUserName>"
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n%s", u.RequestURI(), u.Host, half)
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	eventually(t, "the cut-short push to be kept", func() bool {
		for _, r := range ts.refusalsKept(t) {
			if r.Raw == half && strings.Contains(r.Reason, "reading body") {
				return true
			}
		}
		return false
	})
}

// TestRefusalAnsweredWhileDatabaseHangs: with the database's write lock
// held outside (a save would wait for it 5 s), a refused push is answered
// 400 within the store wait, and the failed save is counted.
func TestRefusalAnsweredWhileDatabaseHangs(t *testing.T) {
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			dsn := recoverDSN(t, drv)
			cfg := configs.Default()
			cfg.WeChat.Token, cfg.AdminToken = testToken, testAdmin
			cfg.DB.Driver, cfg.DB.DSN = drv, dsn
			cfg.StoreWait = 300 * time.Millisecond
			ts := serveConfig(t, cfg, nil)
			release := lockDatabase(t, drv, dsn)
			answered := make(chan int, 1)
			go func() {
				code, _ := ts.push(t, "text/xml", []byte("not a push"))
				answered <- code
			}()
			select {
			case code := <-answered:
				if code != http.StatusBadRequest {
					t.Errorf("refused push while the database hangs = %d, want 400", code)
				}
			case <-time.After(2 * time.Second):
				t.Errorf("refused push while the database hangs: no answer after 2s, want 400 within about %s", cfg.StoreWait)
				release()
				<-answered
			}
			release()
			if n := ts.metric(t, `pushgate_refused_total{outcome="save_failed"}`); n != 1 {
				t.Errorf(`pushgate_refused_total{outcome="save_failed"} = %d, want 1`, n)
			}
		})
	}
}
