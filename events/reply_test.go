package events_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/events"
)

// TestRenderGolden renders every reply helper as XML and as JSON and
// compares each with its golden under testdata/replies
// (UPDATE_GOLDEN=1 regenerates them).
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	h := &events.Header{ToUserName: "gh_account", FromUserName: "oUser"}
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name  string
		reply events.Reply
	}{
		{"text", events.Text("hello ]]> world")},
		{"image", events.Image("media-1")},
		{"voice", events.Voice("media-2")},
		{"video", events.Video("media-3", "title", "description")},
		{"news", events.News(events.Article{Title: "t1", Description: "d1", PicURL: "http://p/1", URL: "http://u/1"}, events.Article{Title: "t2"})},
		{"music", events.Music{Title: "song", Description: "a song", MusicURL: "http://m/1.mp3", HQMusicURL: "http://m/1hq.mp3", ThumbMediaId: "thumb-1"}},
		{"transfer_customer_service", events.TransferCustomerService()},
		{"transfer_customer_service_to_kf", events.TransferCustomerService("test1@test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for ext, got := range map[string][]byte{
				"xml":  events.Render(tt.reply, h, now),
				"json": events.RenderJSON(tt.reply, h, now),
			} {
				if ext == "xml" {
					if err := etree.NewDocument().ReadFromBytes(got); err != nil {
						t.Errorf("Render(%s) is not well-formed XML: %v", tt.name, err)
					}
				} else if !json.Valid(got) {
					t.Errorf("RenderJSON(%s) is not valid JSON: %s", tt.name, got)
				}
				golden := filepath.Join("testdata", "replies", tt.name+"."+ext)
				if os.Getenv("UPDATE_GOLDEN") != "" {
					if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("no golden %s (run with UPDATE_GOLDEN=1): %v", golden, err)
				}
				if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
					t.Errorf("rendering %s as %s (-golden +got):\n%s", tt.name, ext, diff)
				}
			}
		})
	}
}

// TestRenderRawAndFor checks that Raw is answered exactly as given in
// either format, and that RenderFor answers in the format the push came in.
func TestRenderRawAndFor(t *testing.T) {
	t.Parallel()
	raw := []byte(`<xml><MsgType><![CDATA[anything]]></MsgType></xml>`)
	r := events.Raw(raw)
	raw[0] = '!' // Raw keeps its own copy
	h := &events.Header{}
	for name, got := range map[string][]byte{"Render": events.Render(r, h, time.Unix(1, 0)), "RenderJSON": events.RenderJSON(r, h, time.Unix(1, 0))} {
		if string(got) != `<xml><MsgType><![CDATA[anything]]></MsgType></xml>` {
			t.Errorf("%s(Raw) = %s, want the raw body", name, got)
		}
	}

	xmlPush, err := events.Decode([]byte(`<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>9</MsgId></xml>`), events.XML)
	if err != nil {
		t.Fatal(err)
	}
	jsonPush, err := events.Decode([]byte(`{"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"text","Content":"hi","MsgId":9}`), events.JSON)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(2, 0)
	if got, want := string(events.RenderFor(events.Text("ok"), xmlPush, now)), `<xml><ToUserName><![CDATA[u]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName><CreateTime>2</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>`; got != want {
		t.Errorf("RenderFor(text, XML push) = %s, want %s", got, want)
	}
	if got, want := string(events.RenderFor(events.Text("ok"), jsonPush, now)), `{"Content":"ok","CreateTime":2,"FromUserName":"gh","MsgType":"text","ToUserName":"u"}`; got != want {
		t.Errorf("RenderFor(text, JSON push) = %s, want %s", got, want)
	}
	if events.FormatOf(xmlPush) != events.XML || events.FormatOf(jsonPush) != events.JSON {
		t.Errorf("FormatOf = %v, %v; want xml, json", events.FormatOf(xmlPush), events.FormatOf(jsonPush))
	}
}
