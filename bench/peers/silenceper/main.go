// Command silenceper is the peer row of pushgate's load benchmark: the
// receiver people would pick instead, silenceper/wechat v2's
// official-account server, verifying the signature, parsing the push,
// storing nothing and answering nothing (a nil reply: Serve then writes
// "success", as pushgate and the bare server answer), logging at warn. It is its own module so that pushgate never
// depends on it; cmd/loadbench builds it with `go build` in this directory.
//
//	silenceper ADDR TOKEN
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/silenceper/wechat/v2"
	"github.com/silenceper/wechat/v2/cache"
	offConfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	log "github.com/sirupsen/logrus"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: silenceper ADDR TOKEN")
		os.Exit(2)
	}
	addr, token := os.Args[1], os.Args[2]
	log.SetLevel(log.WarnLevel)
	wc := wechat.NewWechat()
	oa := wc.GetOfficialAccount(&offConfig.Config{AppID: "wxpeer", AppSecret: "peer", Token: token, Cache: cache.NewMemory()})
	http.HandleFunc("/wechat", func(w http.ResponseWriter, r *http.Request) {
		srv := oa.GetServer(r, w)
		srv.SetMessageHandler(func(*message.MixMessage) *message.Reply { return nil })
		if err := srv.Serve(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := srv.Send(); err != nil {
			log.Warn(err)
		}
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, nil))
	os.Exit(1)
}
