package pushgatetest_test

import (
	"context"
	"fmt"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/pushgatetest"
)

// An Open Platform account and a WeCom account beside the default one:
// Request(body).Account(name) seals each push as that kind of account
// receives it.
func ExampleWithAccount() {
	t := &exampleT{}
	defer t.cleanup()

	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.ComponentVerifyTicket) (events.Reply, error) {
		fmt.Println("ticket", e.ComponentVerifyTicket)
		return nil, nil
	})
	events.Handle(mux, func(ctx context.Context, e *events.TextMessage) (events.Reply, error) {
		info, _ := events.InfoFrom(ctx)
		return events.Text("hello from " + info.Account + " " + info.AuthorizerAppID), nil
	})
	srv := pushgatetest.NewServer(t, mux,
		pushgatetest.WithAccount(configs.Account{Name: "platform", Kind: configs.KindOpenPlatform,
			Token: "platform-token", AppID: "wx304925fbea25bcbe", AESKey: pushgatetest.AESKey}),
		pushgatetest.WithAccount(configs.Account{Name: "corp", Kind: configs.KindWeCom,
			Token: "corp-token", AESKey: pushgatetest.AESKey, ReceiveID: configs.StringList{"ww_corp"}}))

	ticket := []byte(`<xml><AppId>wx304925fbea25bcbe</AppId><CreateTime>1562834145</CreateTime>` +
		`<InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@abc</ComponentVerifyTicket></xml>`)
	a := srv.Request(ticket).Account("platform").Do(t)
	fmt.Println(a.Status, a.Body)

	text := []byte(`<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1562834145</CreateTime>` +
		`<MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>`)
	a = srv.Request(text).Account("platform").Authorizer("wxf8b4f85f3a794e77").Do(t)
	fmt.Println(a.Status, a.Reply.Content)

	a = srv.Request(text).Account("corp").Do(t)
	fmt.Println(a.Status, a.Reply.Content)
	// Output:
	// ticket ticket@@@abc
	// 200 success
	// 200 hello from platform wxf8b4f85f3a794e77
	// 200 hello from corp
}
