package events_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
)

// TestSubscribeMsgListForms decodes every form the list of a
// subscribe-message event arrives in to the same entries.
func TestSubscribeMsgListForms(t *testing.T) {
	t.Parallel()
	head := `"ToUserName":"gh_1","FromUserName":"o1","CreateTime":"1620973045","MsgType":"event","Event":"subscribe_msg_popup_event"`
	xmlHead := `<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1620973045</CreateTime><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event>`
	a := events.SubscribeMsgPopupItem{TemplateId: "A", SubscribeStatusString: "accept", PopupScene: 2}
	b := events.SubscribeMsgPopupItem{TemplateId: "B", SubscribeStatusString: "reject", PopupScene: 0}
	itemA := `{"TemplateId":"A","SubscribeStatusString":"accept","PopupScene":"2"}`
	itemB := `{"TemplateId":"B","SubscribeStatusString":"reject","PopupScene":0}`
	xmlA := `<List><TemplateId>A</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>2</PopupScene></List>`
	xmlB := `<List><TemplateId>B</TemplateId><SubscribeStatusString>reject</SubscribeStatusString><PopupScene>0</PopupScene></List>`
	tests := []struct {
		name   string
		body   string
		format events.Format
		want   []events.SubscribeMsgPopupItem
	}{
		{"json one object", `{` + head + `,"List":` + itemA + `}`, events.JSON, []events.SubscribeMsgPopupItem{a}},
		{"json array", `{` + head + `,"List":[` + itemA + `,` + itemB + `]}`, events.JSON, []events.SubscribeMsgPopupItem{a, b}},
		{"json wrapper array", `{` + head + `,"SubscribeMsgPopupEvent":[` + itemA + `,` + itemB + `]}`, events.JSON, []events.SubscribeMsgPopupItem{a, b}},
		{"json wrapper one", `{` + head + `,"SubscribeMsgPopupEvent":{"List":` + itemA + `}}`, events.JSON, []events.SubscribeMsgPopupItem{a}},
		{"json wrapper list array", `{` + head + `,"SubscribeMsgPopupEvent":{"List":[` + itemA + `,` + itemB + `]}}`, events.JSON, []events.SubscribeMsgPopupItem{a, b}},
		{"xml one", xmlHead + `<SubscribeMsgPopupEvent>` + xmlA + `</SubscribeMsgPopupEvent></xml>`, events.XML, []events.SubscribeMsgPopupItem{a}},
		{"xml repeated", xmlHead + `<SubscribeMsgPopupEvent>` + xmlA + xmlB + `</SubscribeMsgPopupEvent></xml>`, events.XML, []events.SubscribeMsgPopupItem{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := events.Decode([]byte(tt.body), tt.format)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", tt.name, err)
			}
			got, ok := e.(*events.SubscribeMsgPopup)
			if !ok {
				t.Fatalf("Decode(%s) = %T, want *SubscribeMsgPopup", tt.name, e)
			}
			if diff := cmp.Diff(tt.want, got.List); diff != "" {
				t.Errorf("Decode(%s).List (-want +got):\n%s", tt.name, diff)
			}
			if len(got.Extra) != 0 {
				t.Errorf("Decode(%s).Extra = %v, want nothing left over", tt.name, got.Extra)
			}
		})
	}
}

// TestNewKindsRequireTheirFields checks the validator rules of the new
// kinds: a push without its identifying field is refused, naming it.
func TestNewKindsRequireTheirFields(t *testing.T) {
	t.Parallel()
	head := `<ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>`
	tests := []struct {
		body, field string
	}{
		{`<MsgType>event</MsgType><Event>kf_create_session</Event>`, "KfAccount"},
		{`<MsgType>event</MsgType><Event>kf_switch_session</Event><FromKfAccount>a</FromKfAccount>`, "ToKfAccount"},
		{`<MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1</MsgID>`, "Status"},
		{`<MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event><PublishEventInfo><publish_status>0</publish_status></PublishEventInfo>`, "publish_id"},
		{`<MsgType>event</MsgType><Event>weapp_audit_fail</Event><FailTime>1</FailTime>`, "Reason"},
		{`<MsgType>event</MsgType><Event>user_get_card</Event>`, "CardId"},
		{`<MsgType>miniprogrampage</MsgType><MsgId>1</MsgId>`, "AppId"},
		{`<MsgType>event</MsgType><Event>wxa_media_check</Event>`, "trace_id"},
		{`<MsgType>event</MsgType><Event>naming_verify_success</Event>`, "ExpiredTime"},
		{`<MsgType>event</MsgType><Event>qualification_verify_fail</Event>`, "FailTime"},
		{`<MsgType>event</MsgType><Event>change_contact</Event>`, "ChangeType"},
		{`<MsgType>event</MsgType><Event>change_external_contact</Event>`, "ChangeType"},
	}
	for _, tt := range tests {
		body := `<xml>` + head + tt.body + `</xml>`
		_, err := events.Decode([]byte(body), events.XML)
		var inv *events.InvalidError
		if !asInvalid(err, &inv) {
			t.Errorf("Decode(%s) = %v, want *InvalidError", body, err)
			continue
		}
		var fields []string
		for _, f := range inv.Fields {
			fields = append(fields, f.Field)
		}
		if diff := cmp.Diff([]string{tt.field}, fields); diff != "" {
			t.Errorf("Decode(%s) invalid fields (-want +got):\n%s", body, diff)
		}
	}
}

func asInvalid(err error, target **events.InvalidError) bool {
	return errors.As(err, target)
}

// TestComponentEvents checks the Open Platform shape: the kind comes from
// InfoType, the header fields of official-account pushes are not required,
// Describe indexes AppId as ToUser (and AuthorizerAppid as FromUser), and
// a missing field of the type is refused.
func TestComponentEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		format     events.Format
		kind       string
		meta       events.Meta
	}{
		{
			"ticket",
			`<xml><AppId>wx_platform</AppId><CreateTime>1562834145</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@x</ComponentVerifyTicket></xml>`,
			events.XML, "component.component_verify_ticket",
			events.Meta{Kind: "component.component_verify_ticket", Event: "component_verify_ticket", ToUser: "wx_platform", CreateTime: 1562834145},
		},
		{
			"unauthorized json",
			`{"AppId":"wx_platform","CreateTime":"1562834400","InfoType":"unauthorized","AuthorizerAppid":"wx_author"}`,
			events.JSON, "component.unauthorized",
			events.Meta{Kind: "component.unauthorized", Event: "unauthorized", ToUser: "wx_platform", FromUser: "wx_author", CreateTime: 1562834400},
		},
		{
			"undeclared info type",
			`<xml><AppId>wx_platform</AppId><CreateTime>7</CreateTime><InfoType>notify_something_new</InfoType><AuthorizerAppid>wx_author</AuthorizerAppid></xml>`,
			events.XML, events.KindUnknown,
			events.Meta{Kind: events.KindUnknown, Event: "notify_something_new", ToUser: "wx_platform", FromUser: "wx_author", CreateTime: 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := events.Decode([]byte(tt.body), tt.format)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", tt.name, err)
			}
			if e.Kind() != tt.kind {
				t.Errorf("Decode(%s).Kind() = %q, want %q", tt.name, e.Kind(), tt.kind)
			}
			if !events.IsComponent(e) {
				t.Errorf("IsComponent(Decode(%s)) = false, want true", tt.name)
			}
			if diff := cmp.Diff(tt.meta, events.Describe(e)); diff != "" {
				t.Errorf("Describe(Decode(%s)) (-want +got):\n%s", tt.name, diff)
			}
			if h := e.Head(); h.ToUserName != tt.meta.ToUser || h.CreateTime != tt.meta.CreateTime {
				t.Errorf("Decode(%s).Head() = %+v, want ToUserName %q and CreateTime %d", tt.name, h, tt.meta.ToUser, tt.meta.CreateTime)
			}
		})
	}

	_, err := events.Decode([]byte(`<xml><AppId>wx_platform</AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType></xml>`), events.XML)
	var inv *events.InvalidError
	if !asInvalid(err, &inv) {
		t.Fatalf("Decode(authorized without its fields) = %v, want *InvalidError", err)
	}
	var fields []string
	for _, f := range inv.Fields {
		fields = append(fields, f.Field)
	}
	if diff := cmp.Diff([]string{"AuthorizerAppid", "AuthorizationCode"}, fields); diff != "" {
		t.Errorf("invalid fields of authorized (-want +got):\n%s", diff)
	}

	click, err := events.Decode([]byte(`<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><InfoType>x</InfoType></xml>`), events.XML)
	if err != nil || click.Kind() != "event.CLICK" || events.IsComponent(click) {
		t.Errorf("a push with MsgType and an InfoType field = %v, %v; want an event.CLICK that is not a component event", click, err)
	}
}

// TestWeComPushes checks that WeCom app messages decode to the
// official-account types with AgentID set, and that its contact events
// index their ChangeType.
func TestWeComPushes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture  string
		kind     string
		agentID  int64
		eventKey string
	}{
		{"text~wecom.xml", "text", 1, ""},
		{"image~wecom.xml", "image", 1, ""},
		{"voice~wecom.xml", "voice", 1, ""},
		{"video~wecom.xml", "video", 1, ""},
		{"location~wecom.xml", "location", 1, ""},
		{"link~wecom.xml", "link", 1, ""},
		{"event.enter_agent.xml", "event.enter_agent", 1, ""},
		{"event.change_contact~update_tag.xml", "event.change_contact", 0, "update_tag"},
		{"event.change_external_contact~del_follow_user.xml", "event.change_external_contact", 0, "del_follow_user"},
	}
	for _, tt := range tests {
		body, err := fixtures.FS.ReadFile("pushes/" + tt.fixture)
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Decode(body, events.XML)
		if err != nil {
			t.Fatalf("Decode(%s) error: %v", tt.fixture, err)
		}
		if e.Kind() != tt.kind || e.Head().AgentID != tt.agentID {
			t.Errorf("Decode(%s) = %s with AgentID %d, want %s with %d", tt.fixture, e.Kind(), e.Head().AgentID, tt.kind, tt.agentID)
		}
		if got := events.Describe(e).EventKey; got != tt.eventKey {
			t.Errorf("Describe(Decode(%s)).EventKey = %q, want %q", tt.fixture, got, tt.eventKey)
		}
	}
	link, _ := fixtures.FS.ReadFile("pushes/link~wecom.xml")
	e, _ := events.Decode(link, events.XML)
	if got := e.(*events.LinkMessage).PicUrl; got != "this is a url" {
		t.Errorf("Decode(link~wecom.xml).PicUrl = %q, want %q", got, "this is a url")
	}
}

// TestReadmeListsEveryKind keeps the README's kinds table complete.
func TestReadmeListsEveryKind(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range append(events.Kinds(), events.KindUnknown) {
		if !strings.Contains(string(readme), "`"+kind+"`") {
			t.Errorf("README.md does not list the kind %q", kind)
		}
	}
}
