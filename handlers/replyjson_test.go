package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
)

// postAs posts body to /wechat with the given Content-Type and extra query,
// signed, and returns status, Content-Type and answer.
func postAs(t *testing.T, ts *testServer, contentType string, body []byte, extra url.Values) (int, string, string) {
	t.Helper()
	stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)}}
	for k, v := range extra {
		q[k] = v
	}
	if enc := extra.Get("encrypt"); enc != "" {
		q.Del("encrypt")
		q.Set("msg_signature", handlers.MsgSignature(testToken, stamp, nonce, enc))
	}
	resp, err := http.Post(ts.URL+"/wechat?"+q.Encode(), contentType, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// jsonReply decodes a JSON passive reply, dropping its CreateTime (now).
func jsonReply(t *testing.T, answer string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(answer), &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", answer, err)
	}
	if _, ok := m["CreateTime"].(float64); !ok {
		t.Errorf("JSON reply %q has no numeric CreateTime", answer)
	}
	delete(m, "CreateTime")
	return m
}

// TestJSONPushGetsJSONReply posts a JSON push over HTTP: the passive reply
// comes back as JSON (and again, unchanged, to a retry), while an XML push
// still gets XML.
func TestJSONPushGetsJSONReply(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		return events.TransferCustomerService("kf1@test"), nil
	}
	body, _ := fixtures.FS.ReadFile("pushes/event.CLICK~json.json")
	want := map[string]any{
		"ToUserName": "oMgHVjngRipVsoxg6TuX3vz6glDg", "FromUserName": "gh_e136c6e50636",
		"MsgType": "transfer_customer_service", "TransInfo": map[string]any{"KfAccount": "kf1@test"},
	}
	for _, attempt := range []string{"first", "retry"} {
		status, ct, answer := postAs(t, ts, "application/json", body, nil)
		if status != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s JSON push = %d %s %q, want 200 application/json", attempt, status, ct, answer)
		}
		if diff := cmp.Diff(want, jsonReply(t, answer)); diff != "" {
			t.Errorf("%s JSON push: reply (-want +got):\n%s", attempt, diff)
		}
	}
	if n := ts.rec.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times for a push and its retry, want 1", n)
	}

	xmlBody, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	status, ct, answer := postAs(t, ts, "text/xml", xmlBody, nil)
	if status != http.StatusOK || !strings.HasPrefix(ct, "application/xml") || !strings.HasPrefix(answer, "<xml>") ||
		!strings.Contains(answer, "<TransInfo><KfAccount><![CDATA[kf1@test]]></KfAccount></TransInfo>") {
		t.Errorf("XML push = %d %s %q, want an XML transfer reply", status, ct, answer)
	}
}

// TestSafeModeJSONPushGetsJSONEnvelope posts a sealed JSON push: the reply
// is sealed in a JSON envelope that opens, under its own signature, to the
// JSON reply.
func TestSafeModeJSONPushGetsJSONEnvelope(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configsT) { c.WeChat.AESKey = testAESKey; c.WeChat.AppID = "wx_app" })
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		return events.Text("sealed " + e.(*events.Click).EventKey), nil
	}
	c, _ := handlers.NewCrypter(testToken, testAESKey, "wx_app")
	push, _ := fixtures.FS.ReadFile("pushes/event.CLICK~json.json")
	enc := c.Seal(push)
	envelope, _ := json.Marshal(map[string]string{"ToUserName": "gh_e136c6e50636", "Encrypt": enc})
	status, ct, answer := postAs(t, ts, "application/json", envelope, url.Values{"encrypt_type": {"aes"}, "encrypt": {enc}})
	if status != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("sealed JSON push = %d %s %q, want 200 application/json", status, ct, answer)
	}
	var env struct {
		Encrypt      string
		MsgSignature string
		TimeStamp    int64
		Nonce        string
	}
	if err := json.Unmarshal([]byte(answer), &env); err != nil || env.Encrypt == "" || env.TimeStamp == 0 {
		t.Fatalf("answer %q is not a JSON envelope: %v", answer, err)
	}
	plain, err := c.Open(env.MsgSignature, strconv.FormatInt(env.TimeStamp, 10), env.Nonce, env.Encrypt)
	if err != nil {
		t.Fatalf("opening the sealed JSON reply: %v", err)
	}
	want := map[string]any{"ToUserName": "oMgHVjngRipVsoxg6TuX3vz6glDg", "FromUserName": "gh_e136c6e50636", "MsgType": "text", "Content": "sealed json_key"}
	if diff := cmp.Diff(want, jsonReply(t, string(plain))); diff != "" {
		t.Errorf("sealed JSON reply opens to (-want +got):\n%s", diff)
	}
}
