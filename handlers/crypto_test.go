package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
)

const testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

func TestCrypterRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := handlers.NewCrypter(testToken, testAESKey, "wx_app")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"", "x", strings.Repeat("长", 100), "<xml><a>1</a></xml>"} {
		enc := c.Seal([]byte(msg))
		got, err := c.Open(handlers.MsgSignature(testToken, "1", "n", enc), "1", "n", enc)
		if err != nil || string(got) != msg {
			t.Errorf("Open(Seal(%q)) = %q, %v", msg, got, err)
		}
	}
	other, _ := handlers.NewCrypter(testToken, testAESKey, "wx_other")
	enc := other.Seal([]byte("m"))
	if _, err := c.Open(handlers.MsgSignature(testToken, "1", "n", enc), "1", "n", enc); err == nil || !strings.Contains(err.Error(), "app id") {
		t.Errorf("Open of another app's message = %v, want an app id error", err)
	}
	if _, err := handlers.NewCrypter(testToken, "short", ""); err == nil {
		t.Error("NewCrypter accepted a short key")
	}
}

func TestSafeModePush(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configsT) { c.WeChat.AESKey = testAESKey; c.WeChat.AppID = "wx_app" })
	ts.rec.handle = func(ctx context.Context, e events.Event) (events.Reply, error) {
		return events.Text("sealed " + e.(*events.Click).EventKey), nil
	}
	c, _ := handlers.NewCrypter(testToken, testAESKey, "wx_app")
	click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	envelope, enc := c.SealPush(click, "toUser")

	// A wrong msg_signature is refused before anything is decoded.
	if status, _ := safePostWith(t, ts, envelope, func(string, string) string { return "bad" }); status != http.StatusUnauthorized {
		t.Errorf("safe-mode push with a wrong msg_signature = %d, want 401", status)
	}
	status, answer := safePostSigned(t, ts, envelope, enc)
	if status != 200 {
		t.Fatalf("safe-mode push = %d %q", status, answer)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(answer); err != nil || doc.Root() == nil {
		t.Fatalf("reply is not XML: %q", answer)
	}
	get := func(name string) string { return doc.Root().SelectElement(name).Text() }
	plain, err := c.Open(get("MsgSignature"), get("TimeStamp"), get("Nonce"), get("Encrypt"))
	if err != nil {
		t.Fatalf("opening the sealed reply: %v", err)
	}
	if !strings.Contains(string(plain), "<Content><![CDATA[sealed EVENTKEY]]></Content>") {
		t.Errorf("sealed reply opens to %s", plain)
	}
	seen := ts.rec.events()
	if len(seen) != 1 || seen[0].Kind() != "event.CLICK" {
		t.Fatalf("handler saw %v", seen)
	}

	// An envelope that is not ours is refused and kept.
	bad := []byte("<xml><ToUserName>t</ToUserName><Encrypt><![CDATA[AAAA]]></Encrypt></xml>")
	if status, answer := safePostSigned(t, ts, bad, "AAAA"); status != 400 || !strings.Contains(answer, "decrypt") {
		t.Errorf("undecryptable envelope = %d %q, want 400", status, answer)
	}
	rows, _, _ := ts.store.ListRejected(context.Background(), 10, "")
	if len(rows) != 1 || string(rows[0].Raw) != string(bad) {
		t.Errorf("rejected = %+v, want the bad envelope kept", rows)
	}
}

// safePostSigned posts a sealed push with encrypt_type=aes and a valid
// msg_signature over enc.
func safePostSigned(t *testing.T, ts *testServer, envelope []byte, enc string) (int, string) {
	t.Helper()
	return safePostWith(t, ts, envelope, func(stamp, nonce string) string {
		return handlers.MsgSignature(testToken, stamp, nonce, enc)
	})
}

func safePostWith(t *testing.T, ts *testServer, envelope []byte, msgSig func(stamp, nonce string) string) (int, string) {
	t.Helper()
	stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), freshNonce()
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(testToken, stamp, nonce)},
		"encrypt_type": {"aes"}, "msg_signature": {msgSig(stamp, nonce)}}
	resp, err := http.Post(ts.URL+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(string(envelope)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSafeModeNotConfigured(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	c, _ := handlers.NewCrypter(testToken, testAESKey, "")
	click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	envelope, enc := c.SealPush(click, "toUser")
	if status, answer := safePostSigned(t, ts, envelope, enc); status != 400 || !strings.Contains(answer, "PUSHGATE_WECHAT_AES_KEY") {
		t.Errorf("safe-mode push without a key = %d %q, want 400 naming the setting", status, answer)
	}
}
