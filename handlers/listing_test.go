package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/pushgate/pushgate/models"
)

// TestAdminListingsBounded: with many large bodies stored, a full page of
// GET /v1/rejected and GET /v1/events stays small (bodies cut to
// models.ListBodyCap, with their sizes), and the whole body comes one item
// at a time from GET /v1/rejected/{id}, /raw and GET /v1/events/{id}/raw.
func TestAdminListingsBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("<xml>junk</xml>"), 1<<16) // ~1 MiB
	const n = 30
	for range n {
		if err := ts.store.SaveRejected(ctx, &models.Rejected{Reason: "junk", Status: 400, Raw: big}); err != nil {
			t.Fatal(err)
		}
	}
	code, body := ts.admin(t, "GET", "/v1/rejected?limit=500", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/rejected = %d %s", code, body)
	}
	if max := n * (2*models.ListBodyCap + 1024); len(body) > max {
		t.Errorf("GET /v1/rejected?limit=500 over %d MiB of bodies = %d bytes, want at most %d", n, len(body), max)
	}
	var page struct {
		Rejected []struct {
			ID           string `json:"id"`
			Raw          string `json:"raw"`
			RawSize      int64  `json:"raw_size"`
			RawTruncated bool   `json:"raw_truncated"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Rejected) != n {
		t.Fatalf("GET /v1/rejected: %d items, %v; want %d", len(page.Rejected), err, n)
	}
	first := page.Rejected[0]
	if len(first.Raw) != models.ListBodyCap || first.RawSize != int64(len(big)) || !first.RawTruncated {
		t.Errorf("listed item: raw %d bytes, raw_size %d, truncated %v; want %d, %d, true",
			len(first.Raw), first.RawSize, first.RawTruncated, models.ListBodyCap, len(big))
	}
	code, body = ts.admin(t, "GET", "/v1/rejected/"+first.ID+"/raw", "")
	if code != http.StatusOK || !bytes.Equal(body, big) {
		t.Errorf("GET /v1/rejected/{id}/raw = %d, %d bytes; want 200 and the whole %d", code, len(body), len(big))
	}
	code, body = ts.admin(t, "GET", "/v1/rejected/"+first.ID, "")
	var one struct {
		Raw     string `json:"raw"`
		RawSize int64  `json:"raw_size"`
	}
	if err := json.Unmarshal(body, &one); code != http.StatusOK || err != nil || one.Raw != string(big) || one.RawSize != int64(len(big)) {
		t.Errorf("GET /v1/rejected/{id} = %d, raw %d bytes (size %d), %v; want the whole body", code, len(one.Raw), one.RawSize, err)
	}
	if code, _ := ts.admin(t, "GET", "/v1/rejected/12345", ""); code != http.StatusNotFound {
		t.Errorf("GET /v1/rejected/12345 = %d, want 404", code)
	}

	// An event whose raw body is large: a JSON push with a long field.
	long := bytes.Repeat([]byte("y"), 200<<10)
	push := []byte(`{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"text","Content":"` + string(long) + `","MsgId":77}`)
	if code, answer := ts.push(t, "application/json", push); code != http.StatusOK {
		t.Fatalf("push = %d %s", code, answer)
	}
	code, body = ts.admin(t, "GET", "/v1/events", "")
	var events struct {
		Events []struct {
			ID               string          `json:"id"`
			Raw              string          `json:"raw"`
			RawSize          int64           `json:"raw_size"`
			RawTruncated     bool            `json:"raw_truncated"`
			Payload          json.RawMessage `json:"payload"`
			PayloadTruncated bool            `json:"payload_truncated"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &events); code != http.StatusOK || err != nil || len(events.Events) != 1 {
		t.Fatalf("GET /v1/events = %d, %v: %.200s", code, err, body)
	}
	ev := events.Events[0]
	if len(ev.Raw) != models.ListBodyCap || ev.RawSize != int64(len(push)) || !ev.RawTruncated ||
		string(ev.Payload) != "null" || !ev.PayloadTruncated {
		t.Errorf("listed event: raw %d bytes (size %d, truncated %v), payload %.20s (truncated %v); want cut",
			len(ev.Raw), ev.RawSize, ev.RawTruncated, ev.Payload, ev.PayloadTruncated)
	}
	code, body = ts.admin(t, "GET", "/v1/events/"+ev.ID+"/raw", "")
	if code != http.StatusOK || !bytes.Equal(body, push) {
		t.Errorf("GET /v1/events/{id}/raw = %d, %d bytes; want the whole %d", code, len(body), len(push))
	}
}
