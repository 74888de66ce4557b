// Package pushgate is a WeChat push receiver you run with your own Go
// handlers: it proves each push genuine, stores it durably exactly once,
// dispatches it to the handler registered for its kind, and answers within
// WeChat's budget, with crash recovery, replay, outbound notifications and
// an admin API around that.
//
// The whole command line (serve, send, events list, replay, deliveries, tail)
// with your handlers is one call:
//
//	func main() {
//		mux := events.NewMux()
//		events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
//			return events.Text("you clicked " + e.EventKey), nil
//		})
//		pushgate.Main(mux)
//	}
//
// For more control, New builds a Service from a configs.Config; Run serves
// it on the configured address, or Start runs its background work and
// Handler gives its routes to mount in a server of your own. Package
// pushgatetest runs a real pushgate in your tests.
//
// Handlers learn which stored event they handle from events.InfoFrom, and
// steer the outcome with the errors they return (events.Permanent,
// events.RetryAfter); see events.Handler for the delivery guarantees.
package pushgate
