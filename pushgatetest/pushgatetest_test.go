package pushgatetest_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/internal/pgtest"
	"github.com/pushgate/pushgate/pushgatetest"
)

// clickMux answers a CLICK with its key and counts the dispatches.
func clickMux(calls *atomic.Int64) *events.Mux {
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		calls.Add(1)
		return events.Text("clicked " + e.EventKey), nil
	})
	return mux
}

// TestPushReplyAndRetry posts a CLICK in each mode and database, reads the
// passive reply, posts the platform's retry and checks that it is answered
// alike and not dispatched again.
func TestPushReplyAndRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts func(t *testing.T) []pushgatetest.Option
	}{
		{"plain sqlite", func(*testing.T) []pushgatetest.Option { return nil }},
		{"safe mode", func(*testing.T) []pushgatetest.Option { return []pushgatetest.Option{pushgatetest.WithSafeMode()} }},
		{"postgres", func(t *testing.T) []pushgatetest.Option {
			return []pushgatetest.Option{pushgatetest.WithPostgres(pgtest.DSN(t))}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			srv := pushgatetest.NewServer(t, clickMux(&calls), tc.opts(t)...)
			first := srv.PushFixture(t, "event.CLICK")
			if first.Status != http.StatusOK || first.Reply == nil {
				t.Fatalf("PushFixture(event.CLICK) = %+v, want 200 with a passive reply", first)
			}
			if got, want := first.Reply.Content, "clicked EVENTKEY"; got != want || first.Reply.MsgType != "text" {
				t.Errorf("reply = %s %q, want text %q", first.Reply.MsgType, got, want)
			}
			retry := srv.PushFixture(t, "event.CLICK")
			if retry.Reply == nil || retry.Reply.Content != first.Reply.Content {
				t.Errorf("the retry's answer = %+v, want the original's reply %q", retry, first.Reply.Content)
			}
			evs := srv.WaitHandled(t, 1)
			if len(evs) != 1 || evs[0].Duplicates != 1 || evs[0].Status != "handled" {
				t.Errorf("stored events = %+v, want one handled with one duplicate", evs)
			}
			if got := calls.Load(); got != 1 {
				t.Errorf("dispatches = %d, want 1", got)
			}
			if att := srv.Attempts(t, evs[0].ID); len(att) != 1 || att[0].Error != "" || att[0].Replay {
				t.Errorf("Attempts = %+v, want one successful first dispatch", att)
			}
		})
	}
}

// TestRefusals checks the builder's knobs: a wrong token gets 401, an
// undecodable body 400.
func TestRefusals(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := pushgatetest.NewServer(t, clickMux(&calls))
	click := pushgatetest.Fixtures()[0].Body
	tests := []struct {
		name string
		req  *pushgatetest.Request
		want int
	}{
		{"wrong token", srv.Request(click).Token("nope"), http.StatusUnauthorized},
		{"signed for another timestamp", srv.Request(click).Token(pushgatetest.Token + "x").Timestamp(time.Now().Add(-time.Hour)), http.StatusUnauthorized},
		{"not a push", srv.Request([]byte("<xml><a>")), http.StatusBadRequest},
	}
	for _, tc := range tests {
		if a := tc.req.Do(t); a.Status != tc.want {
			t.Errorf("%s: status = %d (%q), want %d", tc.name, a.Status, a.Body, tc.want)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("refused pushes were dispatched %d times", calls.Load())
	}
}

// TestEveryFixture runs a fallback handler over every bundled sample.
func TestEveryFixture(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	kinds := make(chan string, 1000)
	mux := events.NewMux()
	mux.Fallback(events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) {
		kinds <- e.Kind()
		return nil, nil
	}))
	srv := pushgatetest.NewServer(t, mux)
	fixtures := pushgatetest.Fixtures()
	for _, f := range fixtures {
		if a := srv.Request(f.Body).Format(f.Format).Do(t); !a.Success() {
			t.Errorf("push of %s = %d %q, want 200 success", f.Name, a.Status, a.Body)
		}
	}
	evs := srv.WaitHandled(t, 1)
	close(kinds)
	for k := range kinds {
		seen[k] = true
	}
	for _, f := range fixtures {
		if !seen[f.Kind] {
			t.Errorf("no handler call for kind %s (fixture %s)", f.Kind, f.Name)
		}
	}
	if len(evs) == 0 || len(fixtures) < len(events.Kinds()) {
		t.Errorf("%d events stored from %d fixtures for %d kinds", len(evs), len(fixtures), len(events.Kinds()))
	}
}

// TestEventsCarryAccount checks that the stored events the kit reads say
// which account (and, on an Open Platform, which authorizer) received them.
func TestEventsCarryAccount(t *testing.T) {
	t.Parallel()
	srv := pushgatetest.NewServer(t, events.NewMux(),
		pushgatetest.WithAccount(configs.Account{Name: "blog", Token: "blog-token", Mode: configs.ModePlain}),
		pushgatetest.WithAccount(configs.Account{Name: "platform", Kind: configs.KindOpenPlatform,
			Token: "platform-token", AppID: "wx304925fbea25bcbe", AESKey: pushgatetest.AESKey}))
	text := func(id string) []byte {
		return []byte(`<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1562834145</CreateTime>` +
			`<MsgType>text</MsgType><Content>hi</Content><MsgId>` + id + `</MsgId></xml>`)
	}
	srv.Push(t, text("1"))
	srv.Request(text("2")).Account("blog").Do(t)
	srv.Request(text("3")).Account("platform").Authorizer("wxf8b4f85f3a794e77").Do(t)
	got := map[string][2]string{}
	for _, e := range srv.WaitHandled(t, 3) {
		got[e.MsgID] = [2]string{e.Account, e.AuthorizerAppID}
	}
	want := map[string][2]string{"1": {"default", ""}, "2": {"blog", ""}, "3": {"platform", "wxf8b4f85f3a794e77"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events' (account, authorizer) by MsgId (-want +got):\n%s", diff)
	}
}
