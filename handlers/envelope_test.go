package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
)

// TestUnsignedEnvelopeBoundedMemory posts, with no signature at all, 1 MB
// bodies of 250,000 empty elements to a WeCom account, whose pushes are
// verified by the msg_signature over the envelope's Encrypt field, so the
// envelope is read before anything vouches for it. Each is refused 401,
// and reading it must not cost memory in proportion to its elements: the
// envelope was parsed into a tree (67 MB allocated per request, about as
// much held while it ran), which let anyone with the URL exhaust memory.
// Not parallel: it measures the process's allocations.
func TestUnsignedEnvelopeBoundedMemory(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) {
		c.Accounts = []configs.Account{{Name: "corp", Kind: configs.KindWeCom, Token: weComSampleToken,
			AESKey: weComSampleKey, ReceiveID: configs.StringList{weComSampleCorpID}}}
	})
	junk := strings.Repeat("<a/>", 250000)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no Encrypt", "<xml>" + junk + "</xml>", "plaintext push refused"},
		// No envelope of WeChat's holds more than a few fields before it.
		{"Encrypt last", "<xml>" + junk + "<Encrypt>AAAA</Encrypt></xml>", "plaintext push refused"},
		{"Encrypt first", "<xml><Encrypt>AAAA</Encrypt>" + junk + "</xml>", "invalid msg_signature"},
	} {
		q := url.Values{"msg_signature": {"0000"}, "timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "nonce": {"n"}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, err := http.Post(ts.URL+"/wechat/corp?"+q.Encode(), "text/xml", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(answer), tc.want) {
			t.Errorf("POST %s (%d bytes, unsigned) = %d %q, want 401 %q", tc.name, len(tc.body), resp.StatusCode, answer, tc.want)
		}
		if got := (after.TotalAlloc - before.TotalAlloc) >> 20; got > 24 {
			t.Errorf("POST %s (%d bytes, unsigned) allocated %d MB, want at most 24 MB", tc.name, len(tc.body), got)
		}
	}
}
