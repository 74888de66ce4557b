package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeHeaderLimit: `pushgate serve` refuses a request header over the
// 16 KiB default with 431, and serves one under it.
func TestServeHeaderLimit(t *testing.T) {
	c := startChild(t, filepath.Join(t.TempDir(), "limits.db"))
	for _, tt := range []struct {
		size int
		want int
	}{
		{8 << 10, http.StatusOK},
		{20 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		req, _ := http.NewRequest("GET", "http://"+c.addr+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("x", tt.size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /healthz with a %d-byte header: %v", tt.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /healthz with a %d-byte header = %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
	}
}
