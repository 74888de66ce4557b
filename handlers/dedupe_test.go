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

// TestRetryAfterUpgradeOfKindsTypedSince: pushes of kinds the earlier
// version decoded as Generic (and so stored with a Generic payload under
// the six-field key) and this one types, retried after the upgrade, are
// their originals' duplicates. The rows below are what 16981a6 stored for
// these fixtures (key and payload, from that version's Decode, Marshal and
// key). The look-up compared the payload this version makes (its fields
// typed, in another order) and found no original, and a MASSSENDJOBFINISH,
// keyed by its MsgID now, was not looked up at all: each retry was stored
// and dispatched a second time.
func TestRetryAfterUpgradeOfKindsTypedSince(t *testing.T) {
	t.Parallel()
	stored := []struct{ fixture, key, payload string }{
		{"event.MASSSENDJOBFINISH.xml", `t:1481013459|gh_4d00ed8d6399|oV5CrjpxgaGXNHIQigzNlgLTnwic|event|MASSSENDJOBFINISH|`, `{"ToUserName":"gh_4d00ed8d6399","FromUserName":"oV5CrjpxgaGXNHIQigzNlgLTnwic","CreateTime":1481013459,"MsgType":"event","Event":"MASSSENDJOBFINISH","ArticleUrlResult":{"Count":"1","ResultList":{"item":{"ArticleIdx":"1","ArticleUrl":"http://mp.weixin.qq.com/s?__biz=MzA\u0026mid=1"}}},"CopyrightCheckResult":{"CheckState":"2","Count":"2","ResultList":{"item":[{"ArticleIdx":"1","AuditState":"2","CanReprint":"1","NeedReplaceContent":"1","NeedShowReprintSource":"1","OriginalArticleType":"1","OriginalArticleUrl":"Url_1","UserDeclareState":"0"},{"ArticleIdx":"2","AuditState":"2","CanReprint":"1","NeedReplaceContent":"1","NeedShowReprintSource":"1","OriginalArticleType":"1","OriginalArticleUrl":"Url_2","UserDeclareState":"0"}]}},"ErrorCount":"0","FilterCount":"0","MsgID":"1000001625","SentCount":"0","Status":"err(30003)","TotalCount":"0"}`},
		{"event.subscribe_msg_popup_event.xml", `t:1610969440|gh_123456789abc|otFpruAK8D-E6EfStSYonYSBZ8_4|event|subscribe_msg_popup_event|`, `{"ToUserName":"gh_123456789abc","FromUserName":"otFpruAK8D-E6EfStSYonYSBZ8_4","CreateTime":1610969440,"MsgType":"event","Event":"subscribe_msg_popup_event","SubscribeMsgPopupEvent":{"List":[{"PopupScene":"2","SubscribeStatusString":"accept","TemplateId":"VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"},{"PopupScene":"2","SubscribeStatusString":"reject","TemplateId":"9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"}]}}`},
		{"event.weapp_audit_success.xml", `t:1488856741|gh_fb9688c2a4b2|od1P50M-fNQI5Gcq-trm4a7apsU8|event|weapp_audit_success|`, `{"ToUserName":"gh_fb9688c2a4b2","FromUserName":"od1P50M-fNQI5Gcq-trm4a7apsU8","CreateTime":1488856741,"MsgType":"event","Event":"weapp_audit_success","SuccTime":"1535442403"}`},
		{"event.wxa_media_check.json", `t:1626959646|gh_38cc49f9733b|oH1fu0FdHqpToe2T6gBj0WyB8iS1|event|wxa_media_check|`, `{"ToUserName":"gh_38cc49f9733b","FromUserName":"oH1fu0FdHqpToe2T6gBj0WyB8iS1","CreateTime":1626959646,"MsgType":"event","Event":"wxa_media_check","appid":"wx8f16a5e5e8e28f71","detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":100,"prob":90}],"errcode":0,"errmsg":"ok","result":{"suggest":"pass","label":100},"trace_id":"60f96f1d-3845297a-1976a3ae","version":2}`},
	}
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			old, err := models.Open(context.Background(), drv, dsn, models.Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			bodies := map[string][]byte{}
			for _, s := range stored {
				body, err := fixtures.FS.ReadFile("pushes/" + s.fixture)
				if err != nil {
					t.Fatal(err)
				}
				bodies[s.fixture] = body
				e, err := events.Decode(body, events.DetectFormat("", body))
				if err != nil {
					t.Fatal(err)
				}
				m := events.Describe(e)
				saved, err := old.SaveEvent(context.Background(), &models.NewEvent{DedupeKey: s.key, Kind: "generic", MsgType: m.MsgType,
					Event: m.Event, FromUser: m.FromUser, ToUser: m.ToUser, CreateTime: m.CreateTime,
					Format: events.DetectFormat("", body).String(), Payload: []byte(s.payload), Raw: body})
				if err != nil {
					t.Fatal(err)
				}
				if err := old.RecordAttempt(context.Background(), models.Attempt{EventID: saved.ID}, true); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()

			ts := newReplica(t, drv, dsn, nil)
			for _, s := range stored {
				if status, answer := ts.push(t, "", bodies[s.fixture]); status != http.StatusOK {
					t.Errorf("retry of %s after the upgrade = %d %q, want 200", s.fixture, status, answer)
				}
			}
			if n := ts.rec.calls.Load(); n != 0 {
				t.Errorf("handler ran %d times for retries of %d pushes stored before the upgrade, want 0", n, len(stored))
			}
			rows, _, _ := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 50})
			if len(rows) != len(stored) {
				t.Errorf("stored %d events, want %d (the originals only)", len(rows), len(stored))
			}
			for _, r := range rows {
				if r.Duplicates != 1 {
					t.Errorf("pre-upgrade row %s has %d duplicates, want 1", r.DedupeKey, r.Duplicates)
				}
			}
		})
	}
}

// TestDistinctFixturePairsAreTwoEvents posts, over real HTTP, the pairs of
// fixtures/distinct: pushes without MsgId or RequestID that differ only
// where the decoded push does not look (the first copy of a repeated
// element, …). Each of a pair must be stored and dispatched: keyed by the
// decoded push alone, the second was taken for the first's retry.
func TestDistinctFixturePairsAreTwoEvents(t *testing.T) {
	t.Parallel()
	pairs, err := fixtures.Distinct()
	if err != nil || len(pairs) == 0 {
		t.Fatalf("fixtures.Distinct() = %d pairs, %v", len(pairs), err)
	}
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil)
			ctype := map[string]string{"xml": "text/xml", "json": "application/json"}
			for i, p := range pairs {
				for _, body := range [][]byte{p.A, p.B, p.A} { // the second A is a retry
					if status, answer := ts.push(t, ctype[p.Format], body); status != http.StatusOK || answer != "success" {
						t.Fatalf("POST %s = %d %q, want 200 success", p.Name, status, answer)
					}
				}
				if got, want := ts.rec.calls.Load(), int64(2*(i+1)); got != want {
					t.Errorf("after the pair %s (and a retry of its first) the handler ran %d times, want %d", p.Name, got, want)
				}
			}
			rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			dups := 0
			for _, r := range rows {
				dups += r.Duplicates
			}
			if got, want := len(rows), 2*len(pairs); got != want || dups != len(pairs) {
				t.Errorf("stored %d events with %d duplicates, want %d events and %d duplicates", got, dups, want, len(pairs))
			}
		})
	}
}

// jobFinish is a TEMPLATESENDJOBFINISH whose MsgID is id, created at ct.
func jobFinish(id, ct, status string) []byte {
	return []byte(`<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>` +
		`<CreateTime>` + ct + `</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>` +
		`<MsgID>` + id + `</MsgID><Status><![CDATA[` + status + `]]></Status></xml>`)
}

// textMessage is a text message whose MsgId is id, created at ct.
func textMessage(id, ct string) []byte {
	return []byte(`<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>` +
		`<CreateTime>` + ct + `</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>` + id + `</MsgId></xml>`)
}

// TestMsgIDSpacesDistinct: a template send's MsgID and a user message's
// MsgId come from different counters; a job-finish event and a message of
// one account that carry the same number are two events, each dispatched.
func TestMsgIDSpacesDistinct(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			ts := newReplica(t, drv, recoverDSN(t, drv), nil)
			ct := strconv.FormatInt(time.Now().Unix(), 10)
			for _, body := range [][]byte{jobFinish("200163836", ct, "success"), textMessage("200163836", ct)} {
				if status, answer := ts.push(t, "text/xml", body); status != http.StatusOK || answer != "success" {
					t.Fatalf("POST = %d %q, want 200 success", status, answer)
				}
			}
			if n := ts.rec.calls.Load(); n != 2 {
				t.Errorf("handler ran %d times for a job-finish event and a message sharing a number, want 2", n)
			}
			rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Errorf("stored %d events, want 2", len(rows))
			}
		})
	}
}

// TestRetryAfterMsgIDSpaceUpgrade: a job-finish event stored by an earlier
// version under the shared "m:" key, retried after the upgrade, is its
// original's duplicate.
func TestRetryAfterMsgIDSpaceUpgrade(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			ct := strconv.FormatInt(time.Now().Add(-10*time.Second).Unix(), 10)
			body := jobFinish("200163837", ct, "success")
			e, err := events.Decode(body, events.XML)
			if err != nil {
				t.Fatal(err)
			}
			id := storedBeforeUpgrade(t, drv, dsn, "m:"+events.Describe(e).MsgID, body)
			retryIsDuplicate(t, drv, dsn, id, body)
		})
	}
}

// TestRetryAfterUnkeptUpgrade: a push decoding did not hold whole (here a
// repeated EventKey), stored by an earlier version under its digest key
// without the raw push's part, retried after the upgrade, is its
// original's duplicate; a distinct push sharing that old key (the other
// copy of the repeated field first) is not.
func TestRetryAfterUnkeptUpgrade(t *testing.T) {
	t.Parallel()
	for _, drv := range []string{models.DriverSQLite, models.DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			dsn := recoverDSN(t, drv)
			ct := strconv.FormatInt(time.Now().Add(-10*time.Second).Unix(), 10)
			push := func(first string) []byte {
				return []byte(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>` + ct +
					`</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[` + first +
					`]]></EventKey><EventKey><![CDATA[K2]]></EventKey></xml>`)
			}
			body := push("K1")
			e, err := events.Decode(body, events.XML)
			if err != nil {
				t.Fatal(err)
			}
			m := events.Describe(e)
			if m.Unkept == "" {
				t.Fatal("a repeated EventKey decoded whole: the test needs a push decoding does not hold whole")
			}
			payload, _ := events.Marshal(e)
			oldKey := m.LegacyUnkeptKey(events.DefaultAccount, payload)
			if oldKey == "" || oldKey == m.DedupeKey(events.DefaultAccount, payload) {
				t.Fatalf("LegacyUnkeptKey = %q: want the key without the raw part", oldKey)
			}
			id := storedBeforeUpgrade(t, drv, dsn, oldKey, body)
			ts := retryIsDuplicate(t, drv, dsn, id, body)
			// The other push of that old key is a push of its own.
			if status, _ := ts.push(t, "text/xml", push("K3")); status != http.StatusOK {
				t.Fatalf("distinct push = %d", status)
			}
			eventually(t, "the distinct push dispatched", func() bool { return ts.rec.calls.Load() == 1 })
		})
	}
}

// storedBeforeUpgrade stores body under key as an earlier version did
// (handled, on its own Store, closed again) and returns its row's id.
func storedBeforeUpgrade(t *testing.T, drv, dsn, key string, body []byte) int64 {
	t.Helper()
	e, err := events.Decode(body, events.XML)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := events.Marshal(e)
	m := events.Describe(e)
	old, err := models.Open(context.Background(), drv, dsn, models.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	saved, err := old.SaveEvent(context.Background(), &models.NewEvent{DedupeKey: key, Kind: m.Kind,
		MsgType: m.MsgType, Event: m.Event, EventKey: m.EventKey, FromUser: m.FromUser, ToUser: m.ToUser,
		CreateTime: m.CreateTime, MsgID: m.MsgID, Format: "xml", Payload: payload, Raw: body})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.RecordAttempt(context.Background(), models.Attempt{EventID: saved.ID}, true); err != nil {
		t.Fatal(err)
	}
	return saved.ID
}

// retryIsDuplicate posts body to a replica of this version on dsn and
// checks that it is answered, not dispatched, and counted as a duplicate
// of the row id.
func retryIsDuplicate(t *testing.T, drv, dsn string, id int64, body []byte) *testServer {
	t.Helper()
	ts := newReplica(t, drv, dsn, nil)
	if status, answer := ts.push(t, "text/xml", body); status != http.StatusOK || answer != "success" {
		t.Fatalf("retry after the upgrade = %d %q, want 200 success", status, answer)
	}
	if n := ts.rec.calls.Load(); n != 0 {
		t.Errorf("handler ran %d times for a retry of a push stored before the upgrade, want 0", n)
	}
	got, err := ts.store.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Duplicates != 1 {
		t.Errorf("the pre-upgrade row has %d duplicates, want 1", got.Duplicates)
	}
	return ts
}
