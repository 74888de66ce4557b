// Command loadbench measures pushgate's POST /wechat under load against a
// bare net/http server that only answers "success", in the same run, on
// this machine:
//
//	go build -o bin/pushgate ./cmd/pushgate && go run ./cmd/loadbench -pushgate bin/pushgate
//
// It starts both servers as child processes on loopback, loads each in
// turn (bare, pushgate, bare, pushgate, ...) with unique signed CLICK
// pushes over keep-alive connections, and prints req/s, p50 and p99
// latency, the ratio pushgate/bare and pushgate's peak RSS.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pushgate/pushgate/handlers"
)

const token = "loadbench-token"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		bare(os.Args[2])
		return
	}
	pushgate := flag.String("pushgate", "bin/pushgate", "the pushgate binary to measure")
	conns := flag.Int("c", 50, "keep-alive connections")
	dur := flag.Duration("d", 10*time.Second, "duration of each measured round")
	rounds := flag.Int("rounds", 2, "rounds of each server, alternated")
	warm := flag.Duration("warmup", 2*time.Second, "unmeasured load before each round")
	driver := flag.String("db-driver", "sqlite", "pushgate's database driver")
	dsn := flag.String("db-dsn", "", "pushgate's DSN (default: a new SQLite file in a temp dir)")
	target := flag.String("target", "", "load this running server (base URL, WeChat token "+token+") for -d and exit")
	flag.Parse()
	if *target != "" {
		res := load(*target, *conns, *dur)
		fmt.Printf("%s: %.0f req/s, p50 %v, p99 %v, %d errors %s\n", *target, res.rps(), res.pct(0.5), res.pct(0.99), res.errs, res.firstErr)
		return
	}
	if err := runBench(*pushgate, *conns, *dur, *rounds, *warm, *driver, *dsn); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// bare is the baseline: net/http answering "success", nothing else.
func bare(addr string) {
	ok := []byte("success")
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(ok)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

type server struct {
	name string
	cmd  *exec.Cmd
	url  string
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(name string, args []string, env []string, addr string) (*server, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = io.Discard
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("%s did not listen on %s", name, addr)
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
	}
}

// cpuTime reads the child's user+system CPU time so far.
func (s *server) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
}

// selfCPU is the loader's own CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the child's high-water mark of resident memory.
func (s *server) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

type result struct {
	n        int64
	errs     int64
	elapsed  time.Duration
	lat      []time.Duration
	firstErr string
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

var seq atomic.Int64

// load posts unique signed CLICK pushes over conns keep-alive connections
// for d and returns what it saw.
func load(base string, conns int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu  sync.Mutex
		res result
		wg  sync.WaitGroup
	)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			var n, errs int64
			var firstErr string
			var body bytes.Buffer
			for ctx.Err() == nil {
				i := seq.Add(1)
				// A signed URL carries one push: each gets its own nonce.
				stamp, nonce := strconv.FormatInt(time.Now().Unix(), 10), strconv.FormatInt(i, 36)
				target := base + "/wechat?timestamp=" + stamp + "&nonce=" + nonce + "&signature=" + handlers.Signature(token, stamp, nonce)
				body.Reset()
				fmt.Fprintf(&body, "<xml><ToUserName><![CDATA[gh_loadbench]]></ToUserName><FromUserName><![CDATA[oUser%d]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[key_%d]]></EventKey></xml>", i%1000, 1700000000+i, i)
				t0 := time.Now()
				resp, err := client.Post(target, "text/xml", bytes.NewReader(body.Bytes()))
				if err != nil {
					if ctx.Err() == nil {
						errs++
						firstErr = err.Error()
					}
					continue
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(answer) != "success" {
					errs++
					firstErr = fmt.Sprintf("%d %s", resp.StatusCode, answer)
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
			}
			mu.Lock()
			res.n += n
			res.errs += errs
			res.lat = append(res.lat, lat...)
			if firstErr != "" {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

func runBench(bin string, conns int, d time.Duration, rounds int, warm time.Duration, driver, dsn string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("pushgate binary: %w (build it: go build -o bin/pushgate ./cmd/pushgate)", err)
	}
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if dsn == "" {
		dsn = filepath.Join(dir, "bench.db")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bareAddr, pgAddr := freeAddr(), freeAddr()
	b, err := start("bare", []string{self, "bare", bareAddr}, nil, bareAddr)
	if err != nil {
		return err
	}
	defer b.stop()
	p, err := start("pushgate", []string{bin, "serve"}, []string{
		"PUSHGATE_ADDR=" + pgAddr, "PUSHGATE_WECHAT_TOKEN=" + token,
		"PUSHGATE_DB_DRIVER=" + driver, "PUSHGATE_CPUPROFILE=" + os.Getenv("LOADBENCH_CPUPROFILE"), "PUSHGATE_DB_DSN=" + dsn, "PUSHGATE_LOG_LEVEL=warn",
	}, pgAddr)
	if err != nil {
		return err
	}
	defer p.stop()

	fmt.Printf("loadbench: %d connections, %d rounds of %v each (after %v warm-up), pushgate on %s\n", conns, rounds, d, warm, driver)
	fmt.Printf("%-9s %5s %10s %9s %9s %7s %12s %12s\n", "server", "round", "req/s", "p50", "p99", "errors", "server-cpu/r", "loader-cpu/r")
	var sums [2]float64
	var lastP result
	for r := 1; r <= rounds; r++ {
		for i, s := range []*server{b, p} {
			load(s.url, conns, warm)
			cpu0, self0 := s.cpuTime(), selfCPU()
			res := load(s.url, conns, d)
			perReq := func(d time.Duration) time.Duration {
				return (d / time.Duration(max(res.n, 1))).Round(100 * time.Nanosecond)
			}
			serverCPU, loaderCPU := perReq(s.cpuTime()-cpu0), perReq(selfCPU()-self0)
			sums[i] += res.rps()
			if i == 1 {
				lastP = res
			}
			fmt.Printf("%-9s %5d %10.0f %9v %9v %7d %12v %12v\n", s.name, r, res.rps(), res.pct(0.50).Round(10*time.Microsecond), res.pct(0.99).Round(10*time.Microsecond), res.errs, serverCPU, loaderCPU)
			if res.firstErr != "" {
				fmt.Printf("          first error: %s\n", res.firstErr)
			}
		}
	}
	if resp, err := http.Get(p.url + "/metrics"); err == nil {
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(m), "\n") {
			name := strings.Fields(line + " x")[0]
			if strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") || strings.HasPrefix(name, "pushgate_store_") && strings.HasSuffix(name, "_total") {
				fmt.Println("  pushgate", line)
			}
		}
	}
	rss, err := p.peakRSS()
	if err != nil {
		return err
	}
	fmt.Printf("ratio pushgate/bare (mean req/s): %.2f   pushgate p99 (last round): %v   pushgate peak RSS: %.1f MiB\n",
		sums[1]/sums[0], lastP.pct(0.99).Round(10*time.Microsecond), float64(rss)/(1<<20))
	return nil
}
