package main

import (
	"context"
	"log/slog"

	"github.com/pushgate/pushgate/bridge"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
	"github.com/pushgate/pushgate/models"
	"github.com/pushgate/pushgate/notify"
	"github.com/pushgate/pushgate/stream"
	"github.com/pushgate/pushgate/ui"
)

// app is the wired service.
type app struct {
	server  *handlers.Server
	closers []func()
}

// close stops the parts in the reverse order of their start.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// wire builds the handler mux, the feature packages and the HTTP server,
// and starts the background parts (bridge listener and pruning).
func wire(ctx context.Context, cfg *configs.Config, store *models.Store, log *slog.Logger, dev bool) (*app, error) {
	mux := events.NewMux()
	mux.Use(events.Recover(), events.Log(log))
	logHandlers(mux, log)

	a := &app{}
	notifier := notify.New(store, cfg.Notify, cfg.NotifySubscribers(), notify.Options{Logger: log})
	if err := notifier.Start(ctx); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, notifier.Close)

	br, err := bridge.New(store, cfg, bridge.Options{Logger: log, Notifier: notifier})
	if err != nil {
		return nil, err
	}
	if err := br.Start(ctx); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, br.Close)

	hub := stream.New(store, stream.Options{Logger: log})
	if err := hub.Start(ctx); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, hub.Close)
	context.AfterFunc(ctx, hub.Close) // at shutdown, end the feeds' connections first

	a.server = handlers.New(handlers.Deps{
		Config:    cfg,
		Store:     store,
		Mux:       mux,
		Logger:    log,
		Observers: []handlers.Observer{br, notifier, hub},
		Features: []handlers.Feature{
			handlers.Results{Bridge: br, MaxWait: cfg.Results.MaxWait, Logger: log},
			handlers.Sync{Bridge: br, BodyLimit: cfg.BodyLimit, Logger: log},
			handlers.Deliveries{Store: store, Notifier: notifier, Logger: log},
			handlers.Feed{Hub: hub, Token: cfg.APIToken, MaxWait: cfg.Results.MaxWait, Logger: log},
			ui.New(ui.Options{AdminToken: cfg.AdminToken, APIToken: cfg.APIToken, Dev: dev, WeChatToken: cfg.WeChat.Token, Logger: log}),
		},
		Gauges: []handlers.Gauge{{
			Name: "pushgate_bridge_waiting", Help: "Long polls and sync requests waiting for a result.",
			Value: func() float64 { return float64(br.Waiting()) },
		}},
	})
	return a, nil
}
