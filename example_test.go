package pushgate_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pushgate/pushgate"
	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// A program's whole main: its handlers, then the pushgate command line
// (serve, send, events list, replay, deliveries, tail), settings from flags,
// PUSHGATE_* variables and --config as for the pushgate binary.
func ExampleMain() {
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("you clicked " + e.EventKey), nil
	})
	pushgate.Main(mux) // runs os.Args[1:], then exits
}

// New and Run: the full receiver with your handlers, serving until the
// context ends.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "pushgate-example")
	defer os.RemoveAll(dir)
	cfg := configs.Default()
	cfg.WeChat.Token = "my-token"
	cfg.DB.DSN = filepath.Join(dir, "pushgate.db")
	cfg.Addr = "127.0.0.1:0" // any free port; Run listens on it

	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		info, _ := events.InfoFrom(ctx)
		return events.Text(fmt.Sprintf("you clicked %s (attempt %d)", e.EventKey, info.Attempt)), nil
	})
	svc, err := pushgate.New(cfg, mux, pushgate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ln, _ := pushgate.Listen(cfg) // Run(ctx) listens itself; Serve takes a listener
	go svc.Serve(ctx, ln)

	fmt.Println(postClick("http://"+ln.Addr().String(), "my-token", "MENU_1"))
	// Output: <Content><![CDATA[you clicked MENU_1 (attempt 1)]]></Content>
}

// Run serves until SIGINT or SIGTERM, then lets in-flight pushes and
// handlers finish and closes the database.
func ExampleService_Run() {
	cfg, err := configs.Load(os.Args[1:], os.Getenv) // flags > PUSHGATE_* > --config file
	if err != nil {
		log.Fatal(err)
	}
	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Subscribe) (events.Reply, error) {
		return events.Text("welcome"), nil
	})
	svc, err := pushgate.New(cfg, mux)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := svc.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// Handler mounts pushgate in a server of your own, here under /pushgate/.
// Start runs the background work (recovery, sweep, pruning, notifier)
// that Run would; until then the handler answers 503.
func ExampleService_Handler() {
	dir, _ := os.MkdirTemp("", "pushgate-example")
	defer os.RemoveAll(dir)
	cfg := configs.Default()
	cfg.WeChat.Token = "my-token"
	cfg.DB.DSN = filepath.Join(dir, "pushgate.db")

	mux := events.NewMux()
	events.Handle(mux, func(ctx context.Context, e *events.Click) (events.Reply, error) {
		return events.Text("mounted " + e.EventKey), nil
	})
	svc, err := pushgate.New(cfg, mux, pushgate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	if err := svc.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	own := http.NewServeMux()
	own.Handle("/pushgate/", http.StripPrefix("/pushgate", svc.Handler()))
	own.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "my own route") })
	srv := httptest.NewServer(own) // or your http.Server, with TLS
	defer srv.Close()

	fmt.Println(postClick(srv.URL+"/pushgate", "my-token", "MENU_2"))
	// Output: <Content><![CDATA[mounted MENU_2]]></Content>
}

// postClick posts a signed CLICK push and returns the Content of the reply.
func postClick(base, token, key string) string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"timestamp": {ts}, "nonce": {"n" + key}, "signature": {handlers.Signature(token, ts, "n"+key)}}
	body := `<xml><ToUserName>gh_1</ToUserName><FromUserName>user</FromUserName><CreateTime>` + ts +
		`</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>` + key + `</EventKey></xml>`
	resp, err := http.Post(base+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s := string(b)
	if i, j := strings.Index(s, "<Content>"), strings.Index(s, "</Content>"); i >= 0 && j > i {
		return s[i : j+len("</Content>")]
	}
	return fmt.Sprint(resp.StatusCode, " ", s)
}
