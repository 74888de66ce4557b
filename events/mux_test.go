package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
)

func click(t *testing.T) events.Event {
	t.Helper()
	e, err := events.Decode([]byte(`<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>k</EventKey></xml>`), events.XML)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMuxDispatchesByType(t *testing.T) {
	t.Parallel()
	mux := events.NewMux()
	var got string
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		got = e.EventKey
		return events.Text("clicked " + e.EventKey), nil
	})
	r, err := mux.Dispatch(context.Background(), click(t))
	if err != nil || got != "k" {
		t.Fatalf("Dispatch = %v, %v; handler saw %q", r, err, got)
	}
	out := string(events.Render(r, click(t).Head(), time.Unix(5, 0)))
	want := `<xml><ToUserName><![CDATA[u]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName><CreateTime>5</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[clicked k]]></Content></xml>`
	if out != want {
		t.Errorf("Render = %s\nwant     %s", out, want)
	}
}

func TestMuxNoHandlerAndFallback(t *testing.T) {
	t.Parallel()
	mux := events.NewMux()
	_, err := mux.Dispatch(context.Background(), click(t))
	if !errors.Is(err, events.ErrNoHandler) || !strings.Contains(err.Error(), "event.CLICK") {
		t.Fatalf("Dispatch without handler = %v, want ErrNoHandler naming the kind", err)
	}
	var kinds []string
	mux.Fallback(events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) {
		kinds = append(kinds, e.Kind())
		return nil, nil
	}))
	if r, err := mux.Dispatch(context.Background(), click(t)); r != nil || err != nil {
		t.Fatalf("fallback Dispatch = %v, %v", r, err)
	}
	if len(kinds) != 1 || kinds[0] != "event.CLICK" {
		t.Errorf("fallback saw %v", kinds)
	}
}

func TestMuxPanicsOnBadRegistration(t *testing.T) {
	t.Parallel()
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mux := events.NewMux()
	h := func(ctx context.Context, e *events.View) (events.Reply, error) { return nil, nil }
	events.Handle(mux, h)
	mustPanic("duplicate Handle", func() { events.Handle(mux, h) })
	mustPanic("nil Handle", func() { events.Handle[events.Click](mux, nil) })
	mustPanic("nil HandleKind", func() { mux.HandleKind("text", nil) })
	mux.Fallback(events.HandlerFunc(func(context.Context, events.Event) (events.Reply, error) { return nil, nil }))
	mustPanic("second Fallback", func() {
		mux.Fallback(events.HandlerFunc(func(context.Context, events.Event) (events.Reply, error) { return nil, nil }))
	})
}

func TestMiddlewareOrderRecoverTimeout(t *testing.T) {
	t.Parallel()
	mux := events.NewMux()
	var trace []string
	tag := func(name string) events.Middleware {
		return func(next events.Handler) events.Handler {
			return events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) {
				trace = append(trace, name)
				return next.Handle(ctx, e)
			})
		}
	}
	mux.Use(tag("outer"), events.Recover(), events.Timeout(time.Millisecond), tag("inner"))
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		<-ctx.Done()
		panic("boom")
	})
	_, err := mux.Dispatch(context.Background(), click(t))
	if !errors.Is(err, events.ErrPanic) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Dispatch = %v, want ErrPanic with the value", err)
	}
	if strings.Join(trace, ",") != "outer,inner" {
		t.Errorf("middleware order = %v, want outer,inner", trace)
	}
}

func TestRenderReplies(t *testing.T) {
	t.Parallel()
	h := &events.Header{ToUserName: "gh", FromUserName: "u"}
	now := time.Unix(7, 0)
	tests := []struct {
		r    events.Reply
		want string
	}{
		{events.Text("a]]>b"), `<Content><![CDATA[a]]]]><![CDATA[>b]]></Content>`},
		{events.Image("m1"), `<MsgType><![CDATA[image]]></MsgType><Image><MediaId><![CDATA[m1]]></MediaId></Image>`},
		{events.Voice("m2"), `<Voice><MediaId><![CDATA[m2]]></MediaId></Voice>`},
		{events.Video("m3", "t", "d"), `<Video><MediaId><![CDATA[m3]]></MediaId><Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description></Video>`},
		{events.News(events.Article{Title: "T", URL: "https://x"}), `<ArticleCount>1</ArticleCount><Articles><item><Title><![CDATA[T]]></Title>`},
	}
	for _, tt := range tests {
		out := string(events.Render(tt.r, h, now))
		if !strings.Contains(out, tt.want) {
			t.Errorf("Render(%s) = %s, want it to contain %s", tt.r.MsgType(), out, tt.want)
		}
		if _, err := events.Decode([]byte(out), events.XML); err != nil && !errors.Is(err, events.ErrInvalid) {
			t.Errorf("Render(%s) is not well-formed XML: %v", tt.r.MsgType(), err)
		}
	}
}

// TestMuxForAccount: an account's handlers are consulted first for its
// events, inside the shared middleware; other accounts, and events without
// Info, get the shared handlers.
func TestMuxForAccount(t *testing.T) {
	t.Parallel()
	mux := events.NewMux()
	var trail []string
	mux.Use(func(next events.Handler) events.Handler {
		return events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) {
			trail = append(trail, "shared-mw")
			return next.Handle(ctx, e)
		})
	})
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("shared"), nil
	})
	shop := mux.ForAccount("shop")
	if mux.ForAccount("shop") != shop {
		t.Fatal("ForAccount(shop) twice returned two Muxes")
	}
	shop.Use(func(next events.Handler) events.Handler {
		return events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) {
			trail = append(trail, "shop-mw")
			return next.Handle(ctx, e)
		})
	})
	events.Handle(shop, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("shop"), nil
	})
	mux.ForAccount("blog") // no handlers: the shared ones serve it
	tests := []struct {
		ctx   context.Context
		want  string
		trail []string
	}{
		{events.WithInfo(context.Background(), events.Info{Account: "shop"}), "shop", []string{"shared-mw", "shop-mw"}},
		{events.WithInfo(context.Background(), events.Info{Account: "blog"}), "shared", []string{"shared-mw"}},
		{events.WithInfo(context.Background(), events.Info{Account: "default"}), "shared", []string{"shared-mw"}},
		{context.Background(), "shared", []string{"shared-mw"}},
	}
	for _, tt := range tests {
		trail = nil
		r, err := mux.Dispatch(tt.ctx, click(t))
		info, _ := events.InfoFrom(tt.ctx)
		if err != nil || r != events.Text(tt.want) {
			t.Errorf("Dispatch(account %q) = %v, %v; want the %s handler", info.Account, r, err, tt.want)
		}
		if strings.Join(trail, ",") != strings.Join(tt.trail, ",") {
			t.Errorf("Dispatch(account %q) ran %v, want %v", info.Account, trail, tt.trail)
		}
	}
	for _, bad := range []func(){func() { mux.ForAccount("") }, func() { shop.ForAccount("x") }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("ForAccount did not panic")
				}
			}()
			bad()
		}()
	}
}
