package pushgatetest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/pushgatetest"
)

// In a test, pass t; this example runs outside one, with exampleT.
func ExampleNewServer() {
	t := &exampleT{}
	defer t.cleanup()

	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("you clicked " + e.EventKey), nil
	})
	srv := pushgatetest.NewServer(t, mux)

	a := srv.PushFixture(t, "event.CLICK")
	fmt.Println(a.Status, a.Reply.MsgType, a.Reply.Content)

	// WeChat retries a push it got no answer to: the retry gets the same
	// reply and is not dispatched again.
	again := srv.PushFixture(t, "event.CLICK")
	fmt.Println(again.Reply.Content)
	evs := srv.WaitHandled(t, 1)
	fmt.Println(len(evs), evs[0].Status, evs[0].Attempts, evs[0].Duplicates)
	// Output:
	// 200 text you clicked EVENTKEY
	// you clicked EVENTKEY
	// 1 handled 1 1
}

// Every bundled sample through your handlers, in one table test.
func ExampleFixtures() {
	t := &exampleT{}
	defer t.cleanup()
	mux := events.NewMux()
	mux.Fallback(events.HandlerFunc(func(ctx context.Context, e events.Event) (events.Reply, error) { return nil, nil }))
	srv := pushgatetest.NewServer(t, mux)

	failed := 0
	for _, f := range pushgatetest.Fixtures() {
		// In a test: t.Run(f.Name, func(t *testing.T) { ... })
		if a := srv.Request(f.Body).Format(f.Format).Do(t); !a.Success() {
			failed++
		}
	}
	fmt.Println("failed:", failed)
	// Output: failed: 0
}

// exampleT is the part of *testing.T the kit uses, for examples.
type exampleT struct {
	cleanups []func()
	dirs     []string
}

func (t *exampleT) Helper() {}
func (t *exampleT) Errorf(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
func (t *exampleT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "pushgatetest")
	if err != nil {
		panic(err)
	}
	t.dirs = append(t.dirs, dir)
	return dir
}
func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}
