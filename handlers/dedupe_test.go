package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
)

// TestDistinctPushesWithoutIDAreTwoEvents posts, over real HTTP, pairs of
// pushes that carry no MsgId or RequestID, arrive in the same second and
// differ only outside the header: each of the pair must be stored and
// dispatched (WxJava #2231, #3445). The old six-field key answered the
// second "success" and dropped it.
func TestDistinctPushesWithoutIDAreTwoEvents(t *testing.T) {
	t.Parallel()
	mediaCheck := func(trace string) string {
		return `{"ToUserName":"gh_38cd0c2dbd0f","FromUserName":"oV1CM4hWh5dbHQX2ttiUVp3wK5wY","CreateTime":1700000000,` +
			`"MsgType":"event","Event":"wxa_media_check","appid":"wx8f16a5e8d2d1c2a1","trace_id":"` + trace + `",` +
			`"version":2,"result":{"suggest":"pass","label":100},"detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":100,"prob":90}]}`
	}
	contact := func(external string) string {
		return `<xml><ToUserName><![CDATA[ww4d1e7bb6ed8c1b24]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>` +
			`<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>` +
			`<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>` +
			`<ExternalUserID><![CDATA[` + external + `]]></ExternalUserID><State><![CDATA[]]></State><WelcomeCode><![CDATA[wc]]></WelcomeCode></xml>`
	}
	pipe := func(to, from string) string {
		return `<xml><ToUserName><![CDATA[` + to + `]]></ToUserName><FromUserName><![CDATA[` + from + `]]></FromUserName>` +
			`<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>` +
			`<EventKey><![CDATA[K]]></EventKey></xml>`
	}
	pairs := []struct {
		name, contentType string
		a, b              string
	}{
		{"wxa_media_check trace_id", "application/json", mediaCheck("6719e3a1-0001"), mediaCheck("6719e3a1-0002")},
		{"change_external_contact ExternalUserID", "text/xml", contact("wmAAAA"), contact("wmBBBB")},
		{"pipe in ToUserName and FromUserName", "text/xml", pipe("gh_a|x", "userB"), pipe("gh_a", "x|userB")},
	}
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil)
			for i, p := range pairs {
				for _, body := range []string{p.a, p.b} {
					if status, answer := ts.push(t, p.contentType, []byte(body)); status != http.StatusOK || answer != "success" {
						t.Fatalf("POST %s = %d %q, want 200 success", p.name, status, answer)
					}
				}
				if got, want := ts.rec.calls.Load(), int64(2*(i+1)); got != want {
					t.Errorf("after the pair %q the handler ran %d times, want %d", p.name, got, want)
				}
			}
			rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, r := range rows {
				keys[r.DedupeKey] = true
			}
			if got, want := len(rows), 2*len(pairs); got != want || len(keys) != want {
				t.Errorf("stored %d events under %d keys, want %d and %d: %v", got, len(keys), want, want, fmt.Sprint(keys))
			}
		})
	}
}

// TestSafeModeRetryReencrypted: WeChat's retry of a safe-mode push is the
// same message sealed again, with a new random prefix and so a new
// ciphertext; it is the original's duplicate.
func TestSafeModeRetryReencrypted(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil, func(c *configs.Config) {
				c.WeChat.AESKey, c.WeChat.AppID = testAESKey, "wx_app"
			})
			c, _ := handlers.NewCrypter(testToken, testAESKey, "wx_app")
			click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
			first, enc1 := c.SealPush(click, "toUser")
			retry, enc2 := c.SealPush(click, "toUser")
			if enc1 == enc2 {
				t.Fatal("sealing twice gave one ciphertext")
			}
			for _, p := range []struct {
				env []byte
				enc string
			}{{first, enc1}, {retry, enc2}} {
				if status, answer := safePostSigned(t, ts, p.env, p.enc); status != http.StatusOK || answer != "success" {
					t.Fatalf("safe-mode push = %d %q, want 200 success", status, answer)
				}
			}
			if n := ts.rec.calls.Load(); n != 1 {
				t.Errorf("handler ran %d times for a push and its re-encrypted retry, want 1", n)
			}
			rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Duplicates != 1 {
				t.Errorf("stored %d events (duplicates %v), want 1 with 1 duplicate", len(rows), rows)
			}
		})
	}
}

// TestRetryAfterKeyUpgrade: a push stored by an earlier version under the
// six-field key, retried after the upgrade, is recognised as its duplicate;
// a distinct push that shares that old key is stored.
func TestRetryAfterKeyUpgrade(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			ct := strconv.FormatInt(time.Now().Add(-10*time.Second).Unix(), 10)
			push := func(trace string) []byte {
				return []byte(`{"ToUserName":"gh_38cd0c2dbd0f","FromUserName":"oV1CM4hW","CreateTime":` + ct +
					`,"MsgType":"event","Event":"wxa_media_check","appid":"wx8f16","trace_id":"` + trace + `","version":2}`)
			}
			// The earlier version stored and handled the push.
			old, err := models.Open(context.Background(), drv, dsn, models.Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			body := push("trace-1")
			e, err := events.Decode(body, events.JSON)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := events.Marshal(e)
			m := events.Describe(e)
			saved, err := old.SaveEvent(context.Background(), &models.NewEvent{DedupeKey: m.LegacyKey(), Kind: m.Kind,
				MsgType: m.MsgType, Event: m.Event, FromUser: m.FromUser, ToUser: m.ToUser, CreateTime: m.CreateTime,
				Format: "json", Payload: payload, Raw: body})
			if err != nil {
				t.Fatal(err)
			}
			if err := old.RecordAttempt(context.Background(), models.Attempt{EventID: saved.ID}, true); err != nil {
				t.Fatal(err)
			}
			old.Close()

			ts := newReplica(t, drv, dsn, nil)
			if status, answer := ts.push(t, "application/json", body); status != http.StatusOK || answer != "success" {
				t.Fatalf("retry after the upgrade = %d %q, want 200 success", status, answer)
			}
			if n := ts.rec.calls.Load(); n != 0 {
				t.Errorf("handler ran %d times for a retry of a push stored before the upgrade, want 0", n)
			}
			if status, answer := ts.push(t, "application/json", push("trace-2")); status != http.StatusOK || answer != "success" {
				t.Fatalf("distinct push = %d %q, want 200 success", status, answer)
			}
			if n := ts.rec.calls.Load(); n != 1 {
				t.Errorf("handler ran %d times for a distinct push sharing the old key, want 1", n)
			}
			got, err := ts.store.GetEvent(context.Background(), saved.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Duplicates != 1 {
				t.Errorf("the pre-upgrade row has %d duplicates, want 1", got.Duplicates)
			}
			rows, _, _ := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 10})
			if len(rows) != 2 {
				t.Errorf("stored %d events, want 2 (the original and the distinct push)", len(rows))
			}
		})
	}
}
