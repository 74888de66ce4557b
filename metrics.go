package pushgate

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// WithRegisterer registers pushgate's metrics on reg as well as on the
// Service's own registry (which GET /metrics serves, with the Go runtime and
// process collectors): a program that serves its own /metrics passes its
// registerer (prometheus.DefaultRegisterer, say) to expose them there too.
// A metric reg already has is left to reg's own collector.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.registerer = reg }
}

// teeRegisterer registers on the service's registry and on the caller's.
type teeRegisterer struct {
	own    prometheus.Registerer
	theirs prometheus.Registerer
}

func (t teeRegisterer) Register(c prometheus.Collector) error {
	if err := t.own.Register(c); err != nil {
		return err
	}
	if err := t.theirs.Register(c); err != nil {
		if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
			return nil
		}
		t.own.Unregister(c)
		return err
	}
	return nil
}

func (t teeRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t teeRegisterer) Unregister(c prometheus.Collector) bool {
	ok := t.own.Unregister(c)
	t.theirs.Unregister(c)
	return ok
}
