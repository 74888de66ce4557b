// Command loadbench measures pushgate's POST /wechat under load against a
// bare net/http server that only answers "success" and, with -peer, the
// receiver people would pick instead (bench/peers/silenceper, built here),
// in the same run, on this machine:
//
//	make bench-load
//	go build -o bin/pushgate ./cmd/pushgate && go run ./cmd/loadbench -pushgate bin/pushgate -peer bench/peers/silenceper
//
// With -floor the durable floor is loaded too (floor.go): net/http that
// commits each signed push's raw body to SQLite (WAL, synchronous=FULL,
// group commit) before answering and does nothing else, the least a
// receiver that stores every push before its answer spends here.
//
// With -base OTHER_BINARY a second pushgate (say, main's, built from another
// checkout) is loaded in the same rounds on its own SQLite file, and the
// output adds pushgate/base per round: compare two builds on a noisy machine.
//
// It starts the servers as child processes on loopback, loads each in
// turn (bare, peer, pushgate, bare, ...) with unique signed CLICK pushes
// over keep-alive connections, and prints req/s, p50 and p99 latency,
// server and loader CPU per request (from /proc), the ratios to bare and
// pushgate/peer, and pushgate's peak RSS. The load comes from wrk when it
// is installed (-loader auto): a C loader spends less CPU per request than
// the servers, where this program's own Go loader (-loader go, the
// fallback) spends more and squeezes every ratio toward 1 on a small
// machine.
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
	if len(os.Args) > 3 && os.Args[1] == "floor" {
		floor(os.Args[2], os.Args[3])
		return
	}
	var o options
	flag.StringVar(&o.pushgate, "pushgate", "bin/pushgate", "the pushgate binary to measure")
	flag.StringVar(&o.base, "base", "", "a second pushgate binary (say, main's) loaded in the same rounds, on its own SQLite file: prints pushgate/base")
	flag.BoolVar(&o.floor, "floor", false, "load the durable floor too: net/http storing each signed push's raw body under its nonce in SQLite (WAL, synchronous=FULL, group commit) before answering, and nothing else")
	flag.IntVar(&o.conns, "c", 50, "keep-alive connections")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "duration of each measured round")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds of each server, alternated")
	flag.DurationVar(&o.warm, "warmup", 2*time.Second, "unmeasured load before each round")
	flag.StringVar(&o.driver, "db-driver", "sqlite", "pushgate's database driver")
	flag.StringVar(&o.dsn, "db-dsn", "", "pushgate's DSN (default: a new SQLite file in a temp dir)")
	flag.StringVar(&o.loader, "loader", "auto", "wrk, go (this program's loader: the fallback, and for CPU profiles) or auto (wrk when installed)")
	flag.StringVar(&o.peer, "peer", "", "directory of the peer module to build and load in the same rounds (bench/peers/silenceper)")
	flag.StringVar(&o.logLevel, "log-level", "warn", "PUSHGATE_LOG_LEVEL of the measured pushgate")
	flag.IntVar(&o.maxRate, "max-rate", 120000, "wrk: signed nonces written per second of a run (more than any server answers)")
	target := flag.String("target", "", "load this running server (base URL, WeChat token "+token+") for -d with the Go loader and exit")
	flag.Parse()
	if *target != "" {
		res := load(*target, o.conns, o.dur)
		fmt.Printf("%s: %.0f req/s, p50 %v, p99 %v, %d errors %s\n", *target, res.rps(), res.pct(0.5), res.pct(0.99), res.errs, res.firstErr)
		return
	}
	if err := runBench(o); err != nil {
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

type options struct {
	pushgate, base, driver, dsn, loader, peer, logLevel string
	conns, rounds, maxRate                              int
	floor                                               bool
	dur, warm                                           time.Duration
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

// buildPeer builds the peer module in dir (its own go.mod: it needs the
// module proxy the first time) into out.
func buildPeer(dir, out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v: %s", dir, err, b)
	}
	return nil
}

// figures is one measured round of one server.
type figures struct {
	rps                  float64
	p50, p99             time.Duration
	errs, n              int64
	serverCPU, loaderCPU time.Duration // per request
	note                 string
}

func runBench(o options) error {
	if _, err := os.Stat(o.pushgate); err != nil {
		return fmt.Errorf("pushgate binary: %w (build it: go build -o bin/pushgate ./cmd/pushgate)", err)
	}
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dsn := o.dsn
	if dsn == "" {
		dsn = filepath.Join(dir, "bench.db")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	wrk := ""
	switch o.loader {
	case "wrk", "auto":
		if p, err := exec.LookPath("wrk"); err == nil {
			wrk = p
		} else if o.loader == "wrk" {
			return fmt.Errorf("wrk not found (apt-get install -y wrk): %w", err)
		}
	case "go":
	default:
		return fmt.Errorf("-loader %q: want wrk, go or auto", o.loader)
	}

	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	bareAddr := freeAddr()
	b, err := start("bare", []string{self, "bare", bareAddr}, nil, bareAddr)
	if err != nil {
		return err
	}
	servers = append(servers, b)
	peerNote := "no peer (-peer empty)"
	if o.peer != "" {
		bin := filepath.Join(dir, "silenceper")
		if err := buildPeer(o.peer, bin); err != nil {
			peerNote = "no peer row: " + err.Error()
		} else {
			addr := freeAddr()
			pe, err := start("peer", []string{bin, addr, token}, nil, addr)
			if err != nil {
				return err
			}
			servers = append(servers, pe)
			peerNote = "peer: silenceper/wechat v2 official-account server, nil reply, logrus at warn"
		}
	}
	if o.floor {
		addr := freeAddr()
		fl, err := start("floor", []string{self, "floor", addr, filepath.Join(dir, "floor.db")}, nil, addr)
		if err != nil {
			return err
		}
		servers = append(servers, fl)
	}
	if o.base != "" {
		if o.dsn != "" {
			return errors.New("-base needs its own SQLite file: leave -db-dsn empty")
		}
		addr := freeAddr()
		bs, err := start("base", []string{o.base, "serve"}, []string{
			"PUSHGATE_ADDR=" + addr, "PUSHGATE_WECHAT_TOKEN=" + token,
			"PUSHGATE_DB_DRIVER=" + o.driver, "PUSHGATE_DB_DSN=" + filepath.Join(dir, "base.db"), "PUSHGATE_LOG_LEVEL=" + o.logLevel,
		}, addr)
		if err != nil {
			return err
		}
		servers = append(servers, bs)
	}
	pgAddr := freeAddr()
	p, err := start("pushgate", []string{o.pushgate, "serve"}, []string{
		"PUSHGATE_ADDR=" + pgAddr, "PUSHGATE_WECHAT_TOKEN=" + token,
		"PUSHGATE_DB_DRIVER=" + o.driver, "PUSHGATE_CPUPROFILE=" + os.Getenv("LOADBENCH_CPUPROFILE"), "PUSHGATE_DB_DSN=" + dsn, "PUSHGATE_LOG_LEVEL=" + o.logLevel,
	}, pgAddr)
	if err != nil {
		return err
	}
	servers = append(servers, p)

	// wrk counts only transport errors and non-2xx answers: check once,
	// with the Go client, that every server answers a push "success".
	for _, s := range servers {
		if res := load(s.url, 1, 200*time.Millisecond); res.errs > 0 || res.n == 0 {
			return fmt.Errorf("%s does not answer a signed push with 200 \"success\": %s", s.name, res.firstErr)
		}
	}
	loaderName := "go (cmd/loadbench)"
	if wrk != "" {
		loaderName = "wrk (" + wrk + "), signed nonces precomputed per run, each used once"
	}
	fmt.Printf("loadbench: %d connections, %d rounds of %v each (after %v warm-up), pushgate on %s (DSN %s)\n", o.conns, o.rounds, o.dur, o.warm, o.driver, dsn)
	fmt.Printf("loader: %s\nPUSHGATE_LOG_LEVEL=%s; %s\n", loaderName, o.logLevel, peerNote)
	fmt.Printf("%-9s %5s %10s %9s %9s %7s %12s %12s\n", "server", "round", "req/s", "p50", "p99", "errors", "server-cpu/r", "loader-cpu/r")
	all := map[string][]figures{}
	for r := 1; r <= o.rounds; r++ {
		for _, s := range servers {
			f, err := measure(s, o, wrk, dir)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", s.name, r, err)
			}
			all[s.name] = append(all[s.name], f)
			fmt.Printf("%-9s %5d %10.0f %9v %9v %7d %12v %12v\n", s.name, r, f.rps, f.p50.Round(10*time.Microsecond), f.p99.Round(10*time.Microsecond), f.errs, f.serverCPU, f.loaderCPU)
			if f.note != "" {
				fmt.Printf("          %s\n", f.note)
			}
		}
	}
	if resp, err := http.Get(p.url + "/metrics"); err == nil {
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(m), "\n") {
			name := strings.Fields(line + " x")[0]
			if strings.HasPrefix(name, "pushgate_store_") && strings.HasSuffix(name, "_total") {
				fmt.Println("  pushgate", line)
			}
		}
	}
	rss, err := p.peakRSS()
	if err != nil {
		return err
	}
	mean := func(name string, get func(figures) float64) float64 {
		var sum float64
		for _, f := range all[name] {
			sum += get(f)
		}
		return sum / float64(max(1, len(all[name])))
	}
	rps := func(f figures) float64 { return f.rps }
	cpu := func(f figures) float64 { return float64(f.serverCPU) }
	worstP99 := func(name string) time.Duration {
		var w time.Duration
		for _, f := range all[name] {
			w = max(w, f.p99)
		}
		return w
	}
	fmt.Printf("mean req/s: bare %.0f", mean("bare", rps))
	if len(all["peer"]) > 0 {
		fmt.Printf(", peer %.0f", mean("peer", rps))
	}
	if len(all["floor"]) > 0 {
		fmt.Printf(", floor %.0f", mean("floor", rps))
	}
	if len(all["base"]) > 0 {
		fmt.Printf(", base %.0f", mean("base", rps))
	}
	fmt.Printf(", pushgate %.0f\n", mean("pushgate", rps))
	fmt.Printf("ratio pushgate/bare %.2f", mean("pushgate", rps)/mean("bare", rps))
	if len(all["peer"]) > 0 {
		fmt.Printf("   peer/bare %.2f   pushgate/peer %.2f", mean("peer", rps)/mean("bare", rps), mean("pushgate", rps)/mean("peer", rps))
	}
	fmt.Printf("\nserver CPU per request vs bare: pushgate %.2fx", mean("pushgate", cpu)/mean("bare", cpu))
	if len(all["peer"]) > 0 {
		fmt.Printf("   peer %.2fx", mean("peer", cpu)/mean("bare", cpu))
	}
	if len(all["floor"]) > 0 {
		fmt.Printf("   floor %.2fx", mean("floor", cpu)/mean("bare", cpu))
		fmt.Printf("\nthe durable floor: floor/bare %.2f", mean("floor", rps)/mean("bare", rps))
		if len(all["peer"]) > 0 {
			fmt.Printf("   floor/peer %.2f", mean("floor", rps)/mean("peer", rps))
		}
		fmt.Printf("   pushgate/floor %.2f   pushgate CPU per request vs floor %.2fx", mean("pushgate", rps)/mean("floor", rps), mean("pushgate", cpu)/mean("floor", cpu))
	}
	if len(all["base"]) > 0 {
		fmt.Printf("\npushgate vs base (%s), same rounds: req/s %.2fx, server CPU per request %.2fx; per round req/s:", o.base, mean("pushgate", rps)/mean("base", rps), mean("pushgate", cpu)/mean("base", cpu))
		for i := range min(len(all["base"]), len(all["pushgate"])) {
			fmt.Printf(" %.2f", all["pushgate"][i].rps/all["base"][i].rps)
		}
		fmt.Printf("; base p99 (worst round): %v", worstP99("base").Round(10*time.Microsecond))
	}
	fmt.Printf("\npushgate p99 (worst round): %v   pushgate peak RSS: %.1f MiB\n", worstP99("pushgate").Round(10*time.Microsecond), float64(rss)/(1<<20))
	return nil
}

// measure warms s up, then loads it for one round with wrk (when wrk is
// not empty) or the Go loader.
func measure(s *server, o options, wrk, dir string) (figures, error) {
	if wrk == "" {
		load(s.url, o.conns, o.warm)
		cpu0, self0 := s.cpuTime(), selfCPU()
		res := load(s.url, o.conns, o.dur)
		perReq := func(d time.Duration) time.Duration {
			return (d / time.Duration(max(res.n, 1))).Round(100 * time.Nanosecond)
		}
		f := figures{rps: res.rps(), p50: res.pct(0.5), p99: res.pct(0.99), errs: res.errs, n: res.n,
			serverCPU: perReq(s.cpuTime() - cpu0), loaderCPU: perReq(selfCPU() - self0)}
		if res.firstErr != "" {
			f.note = "first error: " + res.firstErr
		}
		return f, nil
	}
	if o.warm > 0 {
		if _, err := runWrk(wrk, dir, s.url, o.conns, o.warm, o.maxRate); err != nil {
			return figures{}, err
		}
	}
	cpu0 := s.cpuTime()
	r, err := runWrk(wrk, dir, s.url, o.conns, o.dur, o.maxRate)
	if err != nil {
		return figures{}, err
	}
	n := max(r.requests, 1)
	f := figures{rps: float64(r.requests) / r.elapsed.Seconds(), p50: r.p50, p99: r.p99, errs: r.errs, n: r.requests,
		serverCPU: ((s.cpuTime() - cpu0) / time.Duration(n)).Round(100 * time.Nanosecond),
		loaderCPU: (r.cpu / time.Duration(n)).Round(100 * time.Nanosecond)}
	if r.overflow > 0 {
		f.note = fmt.Sprintf("the nonce list ran out %d times (raise -max-rate): reused nonces are refused", r.overflow)
	}
	return f, nil
}
