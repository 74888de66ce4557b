package handlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
)

// keptRefusal is an item of GET /v1/rejected.
type keptRefusal struct {
	ID         string `json:"id"`
	Status     int    `json:"status"`
	Reason     string `json:"reason"`
	Raw        string `json:"raw"`
	RawSize    int64  `json:"raw_size"`
	BodySize   int64  `json:"body_size"`
	BodySHA256 string `json:"body_sha256"`

	HTTPRequestID string `json:"http_request_id"`
}

// refusalsKept lists the refused pushes kept, newest first.
func (ts *testServer) refusalsKept(t *testing.T) []keptRefusal {
	t.Helper()
	code, body := ts.admin(t, "GET", "/v1/rejected?limit=500", "")
	var page struct {
		Rejected []keptRefusal `json:"rejected"`
	}
	if err := json.Unmarshal(body, &page); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/rejected = %d %.200s, %v", code, body, err)
	}
	return page.Rejected
}

// metric returns the value of one Prometheus line of /metrics (0 if absent).
func (ts *testServer) metric(t *testing.T, series string) int64 {
	t.Helper()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// TestRefusedBodyCapped: a refused body is kept up to the cap, with the
// whole body's length and SHA-256; a 413 keeps only the head.
func TestRefusedBodyCapped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configs.Config) {
		c.Refused.BodyCap = 512
		c.BodyLimit = 8 << 10
	})
	junk := bytes.Repeat([]byte("junk "), 1000) // 5000 bytes, not a push
	if code, _ := ts.push(t, "text/xml", junk); code != http.StatusBadRequest {
		t.Fatalf("junk push = %d, want 400", code)
	}
	huge := bytes.Repeat([]byte("x"), 64<<10)
	if code, _ := ts.push(t, "text/xml", huge); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge push = %d, want 413", code)
	}
	kept := ts.refusalsKept(t)
	if len(kept) != 2 {
		t.Fatalf("kept %d refusals, want 2", len(kept))
	}
	tooBig, bad := kept[0], kept[1]
	sum := sha256.Sum256(junk)
	if bad.Raw != string(junk[:512]) || bad.RawSize != 512 || bad.BodySize != int64(len(junk)) || bad.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("kept 400: raw %d bytes (size %d), body_size %d, sha256 %q; want the first 512 bytes, %d, %x",
			len(bad.Raw), bad.RawSize, bad.BodySize, bad.BodySHA256, len(junk), sum)
	}
	if tooBig.Status != http.StatusRequestEntityTooLarge || tooBig.Raw != string(huge[:512]) || tooBig.BodySize != int64(len(huge)) || tooBig.BodySHA256 != "" {
		t.Errorf("kept 413: status %d, raw %d bytes, body_size %d, sha256 %q; want 413, the first 512 bytes, %d, none",
			tooBig.Status, len(tooBig.Raw), tooBig.BodySize, tooBig.BodySHA256, len(huge))
	}
}

// TestRefusedRateLimited: refusals from one remote address over its rate
// are answered alike but counted, not stored.
func TestRefusedRateLimited(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configs.Config) {
		c.Refused.Rate, c.Refused.Burst = 1, 5
	})
	const n = 30
	start := time.Now()
	for i := range n {
		if code, _ := ts.push(t, "text/xml", []byte(fmt.Sprint("junk ", i))); code != http.StatusBadRequest {
			t.Fatalf("junk push %d = %d, want 400", i, code)
		}
	}
	// The burst, plus a token a second meanwhile.
	most := 5 + int(time.Since(start).Seconds()) + 1
	kept := len(ts.refusalsKept(t))
	if kept < 5 || kept > most {
		t.Errorf("kept %d of %d refusals from one address, want between 5 and %d", kept, n, most)
	}
	if limited := ts.metric(t, `pushgate_refused_total{outcome="rate_limited"}`); limited != int64(n-kept) {
		t.Errorf("pushgate_refused_total{outcome=\"rate_limited\"} = %d, want %d", limited, n-kept)
	}
}

// TestRefusedTotalCapAndRetention: past the total cap the oldest refusals
// are dropped first, and counted; past the retention they all go.
func TestRefusedTotalCapAndRetention(t *testing.T) {
	t.Parallel()
	cfg := configs.Default()
	cfg.WeChat.Token, cfg.AdminToken = testToken, testAdmin
	cfg.DB.DSN = t.TempDir() + "/pushgate.db"
	cfg.Refused.BodyCap, cfg.Refused.TotalCap = 1000, 4000
	var later time.Duration
	ts := serveConfig(t, cfg, func() time.Time { return time.Now().Add(later) })
	const n = 10
	for i := range n {
		body := append([]byte(fmt.Sprintf("junk %03d ", i)), bytes.Repeat([]byte("x"), 2000)...)
		if code, _ := ts.push(t, "text/xml", body); code != http.StatusBadRequest {
			t.Fatalf("junk push %d = %d, want 400", i, code)
		}
	}
	if _, err := ts.srv.PruneRefusals(context.Background()); err != nil {
		t.Fatal(err)
	}
	kept := ts.refusalsKept(t)
	if len(kept) != 4 {
		t.Fatalf("kept %d refusals of 1000 bytes under a total cap of 4000, want 4", len(kept))
	}
	for i, r := range kept {
		if want := fmt.Sprintf("junk %03d ", n-1-i); !strings.HasPrefix(r.Raw, want) {
			t.Errorf("kept refusal %d starts %.9q, want %q (the newest kept)", i, r.Raw, want)
		}
	}
	if dropped := ts.metric(t, `pushgate_refused_total{outcome="dropped_total_cap"}`); dropped != n-4 {
		t.Errorf("pushgate_refused_total{outcome=\"dropped_total_cap\"} = %d, want %d", dropped, n-4)
	}
	later = cfg.Refused.Retention + time.Minute
	if _, err := ts.srv.PruneRefusals(context.Background()); err != nil {
		t.Fatal(err)
	}
	if kept := ts.refusalsKept(t); len(kept) != 0 {
		t.Errorf("kept %d refusals past their retention, want 0", len(kept))
	}
}
