package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/handlers"
)

// BenchmarkPostWechat runs the whole POST /wechat path in-process (gin,
// signature, decode, validation, SQLite group commit with
// synchronous=FULL, dispatch, answer) with unique CLICK pushes from
// parallel goroutines, each signed with its own nonce as WeChat signs them.
func BenchmarkPostWechat(b *testing.B) {
	ts := newTestServer(b)
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(25) // 50 goroutines on 2 cores, as the load benchmark's 50 connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var body bytes.Buffer
		for pb.Next() {
			i := seq.Add(1)
			nonce := strconv.FormatInt(i, 36)
			target := "/wechat?timestamp=" + stamp + "&nonce=" + nonce + "&signature=" + handlers.Signature(testToken, stamp, nonce)
			body.Reset()
			fmt.Fprintf(&body, "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oUser%d]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[k%d]]></EventKey></xml>", i%1000, 1700000000+i, i)
			req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body.Bytes()))
			req.Header.Set("Content-Type", "text/xml")
			w := httptest.NewRecorder()
			ts.srv.ServeHTTP(w, req)
			if w.Code != 200 || w.Body.String() != "success" {
				b.Fatalf("POST /wechat = %d %s", w.Code, w.Body)
			}
		}
	})
}
