package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pushgate/pushgate/events"
)

// Register a typed handler, decode a push, dispatch it and render the
// passive reply.
func Example() {
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("you clicked " + e.EventKey), nil
	})

	body := []byte(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>
<CreateTime>123456789</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>
<EventKey><![CDATA[V1001_GOOD]]></EventKey></xml>`)
	e, err := events.Decode(body, events.DetectFormat("text/xml", body))
	if err != nil {
		panic(err)
	}
	reply, err := mux.Dispatch(context.Background(), e)
	if err != nil {
		panic(err)
	}
	payload, err := events.Marshal(e)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Kind(), events.Describe(e).DedupeKey(events.DefaultAccount, payload))
	fmt.Println(string(events.Render(reply, e.Head(), time.Unix(1700000000, 0))))
	// Output:
	// event.CLICK d:0123456789:2114194a133105ea1b4424edafacdbc8c6985b1a3d1e80eae7c6ab5bab1f578e
	// <xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[you clicked V1001_GOOD]]></Content></xml>
}

// Decode reports every problem of an invalid push, naming the fields.
func ExampleDecode_invalid() {
	_, err := events.Decode([]byte(`<xml><MsgType>event</MsgType><CreateTime>abc</CreateTime></xml>`), events.XML)
	fmt.Println(err)
	// Output:
	// invalid unknown: CreateTime: must be a number, got "abc"
}

// Fields nobody declared are kept and written back by Marshal.
func ExampleMarshal() {
	e, _ := events.Decode([]byte(`{"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"event","Event":"CLICK","EventKey":"k","MenuId":7}`), events.JSON)
	b, _ := events.Marshal(e)
	fmt.Println(string(b))
	// Output:
	// {"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"event","Event":"CLICK","EventKey":"k","MenuId":7}
}

// A push that arrived as JSON (a mini program in JSON mode) is answered in
// JSON; RenderFor picks the format the push came in.
func ExampleRenderFor() {
	e, err := events.Decode([]byte(`{"ToUserName":"gh_1","FromUserName":"oUser","CreateTime":1,"MsgType":"text","Content":"help","MsgId":42}`), events.JSON)
	if err != nil {
		panic(err)
	}
	now := time.Unix(1700000000, 0)
	fmt.Println(string(events.RenderFor(events.TransferCustomerService("kf1@gh_1"), e, now)))
	fmt.Println(string(events.Render(events.Music{Title: "song", MusicURL: "http://m/1.mp3"}, e.Head(), now)))
	// Output:
	// {"CreateTime":1700000000,"FromUserName":"gh_1","MsgType":"transfer_customer_service","ToUserName":"oUser","TransInfo":{"KfAccount":"kf1@gh_1"}}
	// <xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[music]]></MsgType><Music><Title><![CDATA[song]]></Title><Description><![CDATA[]]></Description><MusicUrl><![CDATA[http://m/1.mp3]]></MusicUrl><HQMusicUrl><![CDATA[]]></HQMusicUrl><ThumbMediaId><![CDATA[]]></ThumbMediaId></Music></xml>
}

// An Open Platform authorization event has no MsgType: its kind comes from
// its InfoType, and Describe indexes the platform's AppId as the receiver.
func ExampleDecode_openPlatform() {
	e, err := events.Decode([]byte(`<xml><AppId><![CDATA[wx_platform]]></AppId><CreateTime>1413192605</CreateTime>
<InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket></xml>`), events.XML)
	if err != nil {
		panic(err)
	}
	t := e.(*events.ComponentVerifyTicket)
	m := events.Describe(e)
	fmt.Println(e.Kind(), t.ComponentVerifyTicket, m.ToUser, m.Event, m.CreateTime)
	// Output:
	// component.component_verify_ticket ticket@@@abc wx_platform component_verify_ticket 1413192605
}

// Handlers registered on a Mux serve every account; those registered on
// mux.ForAccount(name) serve that account's events first. pushgate names
// the account in the handler's context (InfoFrom).
func ExampleMux_ForAccount() {
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		info, _ := events.InfoFrom(ctx)
		fmt.Println("shared handler, account", info.Account)
		return nil, nil
	})
	events.Handle(mux.ForAccount("shop"), func(ctx context.Context, e *events.Click) (events.Reply, error) {
		fmt.Println("shop's own handler for", e.EventKey)
		return nil, nil
	})

	body := []byte(`<xml><ToUserName>gh_1</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1700000000</CreateTime>
<MsgType>event</MsgType><Event>CLICK</Event><EventKey>BUY</EventKey></xml>`)
	e, err := events.Decode(body, events.XML)
	if err != nil {
		panic(err)
	}
	for _, account := range []string{"shop", "blog"} {
		ctx := events.WithInfo(context.Background(), events.Info{Account: account})
		if _, err := mux.Dispatch(ctx, e); err != nil {
			panic(err)
		}
	}
	// Output:
	// shop's own handler for BUY
	// shared handler, account blog
}
