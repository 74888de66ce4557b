package bridge_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/pushgate/pushgate/bridge"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// A caller invoked a service-market API with async:true and got a request id;
// Await returns the result as soon as the platform pushes it.
func ExampleBridge_Await() {
	dir, err := os.MkdirTemp("", "pushgate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := models.Open(ctx, models.DriverSQLite, filepath.Join(dir, "pushgate.db"), models.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b, err := bridge.New(store, configs.Default(), bridge.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(ctx); err != nil {
		log.Fatal(err)
	}

	// Later, the push arrives (the HTTP server calls Accepted once it is stored).
	go func() {
		time.Sleep(10 * time.Millisecond)
		b.Accepted(ctx, 1, &events.AsyncAPIResult{
			Header:    events.Header{MsgType: "event", Event: "servicemarket_async_api_result"},
			Api:       "api_name",
			Data:      `{"result":"hello world"}`,
			RequestID: "MLymLNve4FwfMA4YlZ4yiYQKJzqTksjLYZpP2OOoWrPiEe6rMkj5JymcJq6tL7p3LKk",
			Service:   "wx10427c80e0ae4c1d",
		})
	}()

	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := b.Await(wait, "MLymLNve4FwfMA4YlZ4yiYQKJzqTksjLYZpP2OOoWrPiEe6rMkj5JymcJq6tL7p3LKk")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Api, string(res.Value()), res.ExpiresAt.Sub(res.ReceivedAt))
	// Output: api_name {"result":"hello world"} 24h0m0s
}
