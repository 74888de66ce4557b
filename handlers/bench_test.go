package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// BenchmarkPostWechat runs the whole POST /wechat path in-process (gin,
// signature, decode, validation, SQLite group commit with
// synchronous=FULL, dispatch, answer) with unique CLICK pushes from
// parallel goroutines, each signed with its own nonce as WeChat signs them.
func BenchmarkPostWechat(b *testing.B) { benchPost(b, newTestServer(b)) }

// BenchmarkPostWechatTraced is BenchmarkPostWechat with tracing on: every
// span sampled, batched to an exporter that drops them (the cost of making
// the spans, not of shipping them).
func BenchmarkPostWechatTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	defer tp.Shutdown(context.Background())
	cfg := configs.Default()
	cfg.WeChat.Token = testToken
	cfg.DB.DSN = filepath.Join(b.TempDir(), "pushgate.db")
	cfg.ReplyBudget = 2 * time.Second
	store, err := models.Open(context.Background(), cfg.DB.Driver, cfg.DB.DSN, models.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	mux := events.NewMux()
	mux.Fallback(&recorder{})
	srv := newServer(b, handlers.Deps{Config: cfg, Store: store, Mux: mux, Logger: quietLogger(), TracerProvider: tp})
	benchPost(b, &testServer{srv: srv, store: store, cfg: cfg})
}

// discardSpans is an exporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

func benchPost(b *testing.B, ts *testServer) {
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
