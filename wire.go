package pushgate

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushgate/pushgate/bridge"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/notify"
	"github.com/pushgate/pushgate/stream"
	"github.com/pushgate/pushgate/ui"
)

// part is a piece with background work: Start starts the parts in order,
// Close closes them in the reverse order.
type part struct {
	start func(context.Context) error
	close func()
}

// wire builds the feature packages and the HTTP server around mux (already
// wrapped in the middleware), once the store is open.
func (s *Service) wire(cfg *configs.Config, mux *events.Mux, o *options) error {
	log, store := o.log, s.store
	tp := o.tracerProvider
	if tp == nil {
		envTP, shutdown, err := tracingFromEnv(osGetenv, log)
		if err != nil {
			return err
		}
		if envTP != nil {
			tp = envTP
			// Closed last of the parts: the spans of their closing are flushed.
			s.parts = append(s.parts, part{func(context.Context) error { return nil }, shutdown})
		}
	}
	own := handlers.NewRegistry()
	var reg prometheus.Registerer = own
	if o.registerer != nil {
		reg = teeRegisterer{own: own, theirs: o.registerer}
	}
	notifier := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log, Now: o.now, Registerer: reg, TracerProvider: tp})
	s.parts = append(s.parts, part{notifier.Start, notifier.Close})

	br, err := bridge.New(store, cfg, bridge.Options{Logger: log, Notifier: notifier, Now: o.now, Registerer: reg, TracerProvider: tp})
	if err != nil {
		return err
	}
	s.parts = append(s.parts, part{br.Start, br.Close})

	hub := stream.New(store, stream.Options{Logger: log, Registerer: reg})
	s.parts = append(s.parts, part{func(ctx context.Context) error {
		if err := hub.Start(ctx); err != nil {
			return err
		}
		context.AfterFunc(ctx, hub.Close) // at shutdown, end the feeds' connections first
		return nil
	}, hub.Close})

	s.server, err = handlers.New(handlers.Deps{
		Config:         cfg,
		Store:          store,
		Mux:            mux,
		Logger:         log,
		Now:            o.now,
		Registerer:     reg,
		Gatherer:       own,
		TracerProvider: tp,
		Observers:      []handlers.Observer{br, notifier, hub},
		Features: append([]handlers.Feature{
			handlers.Results{Bridge: br, MaxWait: cfg.Results.MaxWait, Logger: log},
			handlers.Sync{Bridge: br, BodyLimit: cfg.BodyLimit, Logger: log},
			handlers.Deliveries{Store: store, Notifier: notifier, Logger: log},
			handlers.Feed{Hub: hub, Token: cfg.APIToken, MaxWait: cfg.Results.MaxWait, Logger: log},
			ui.New(ui.Options{AdminToken: cfg.AdminToken, APIToken: cfg.APIToken, Dev: o.dev, WeChatToken: cfg.WeChat.Token,
				SealPush: devSealer(cfg, o.dev), Logger: log, Now: o.now}),
		}, o.routes...),
		Gauges: append([]handlers.Gauge{{
			Name: "pushgate_bridge_waiting", Help: "Long polls and sync requests waiting for a result.",
			Value: func() float64 { return float64(br.Waiting()) },
		}, {
			Name: "pushgate_feed_subscribers", Help: "Streams and WebSockets following the live feed.",
			Value: func() float64 { return float64(hub.Subscribers()) },
		}, {
			Name: "pushgate_feed_held_polls", Help: "Feed long polls held until an event arrives.",
			Value: func() float64 { return float64(hub.Held()) },
		}}, o.gauges...),
	})
	return err
}

// devSealer seals the inspector's development pushes for the default
// account when it takes sealed ones (safe or compat mode); nil otherwise.
func devSealer(cfg *configs.Config, dev bool) func(body []byte, format, timestamp, nonce string) ([]byte, url.Values) {
	acct, ok := cfg.Account(configs.DefaultAccount)
	if !dev || !ok || acct.AESKey == "" || acct.ResolvedMode() == configs.ModePlain {
		return nil
	}
	crypter, err := handlers.NewCrypter(acct.Token, acct.AESKey, acct.AppID)
	if err != nil { // Validate checked the key
		return nil
	}
	return func(body []byte, format, timestamp, nonce string) ([]byte, url.Values) {
		sealed, enc := crypter.SealPush(body, "")
		if format == "json" { // a JSON push travels in a JSON envelope
			sealed, _ = json.Marshal(map[string]string{"ToUserName": "", "Encrypt": enc})
		}
		return sealed, url.Values{"encrypt_type": {"aes"}, "msg_signature": {handlers.MsgSignature(acct.Token, timestamp, nonce, enc)}}
	}
}
