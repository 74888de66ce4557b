// Command faults runs pushgate through faults while a load of unique signed
// pushes goes on, and prints for each scenario: pushes acknowledged (200),
// stored, dispatched (handler runs, from the server's log), dispatched more
// than once, and attempts recorded. Targets: no acknowledged push lost, none
// dispatched twice outside a crash, every dispatch recorded.
//
// It needs root (tmpfs, chattr) and PostgreSQL's binaries (initdb, pg_ctl):
// the PostgreSQL scenarios run a private cluster on its own port (-pgport,
// default 55432) in a temporary directory, never the shared server.
//
//	go run ./cmd/faults [-only sqlite-kill9,pg-stop] [-pgport 55432]
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"github.com/pushgate/pushgate/handlers"
)

const token = "faults-token"

func main() {
	only := flag.String("only", "", "comma-separated scenarios to run (default all)")
	pgport := flag.Int("pgport", 55432, "port of the private PostgreSQL cluster")
	keep := flag.Bool("keep", false, "keep the working directory (servers' logs, databases)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "pushgate-faults-")
	check(err)
	if *keep {
		fmt.Println("working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "pushgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pushgate")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	check(build.Run())

	r := &runner{dir: dir, bin: bin, pgport: *pgport}
	scenarios := []struct {
		name string
		run  func(*runner, string) result
	}{
		{"sqlite-kill9", (*runner).sqliteKill9},
		{"sqlite-readonly", (*runner).sqliteReadOnly},
		{"sqlite-disk-full", (*runner).sqliteDiskFull},
		{"pg-kill9", (*runner).pgKill9},
		{"pg-stop-start", (*runner).pgStopStart},
		{"pg-replica-killed", (*runner).pgReplicaKilled},
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	defer r.stopPG()
	fmt.Printf("%-18s %6s %6s %10s %8s %8s %9s %6s\n", "scenario", "acked", "stored", "dispatched", "twice+", "attempts", "ackedLost", "left")
	for _, s := range scenarios {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		res := s.run(r, s.name)
		fmt.Printf("%-18s %6d %6d %10d %8d %8d %9d %6d  %s\n", s.name, res.acked, res.stored, res.dispatched,
			res.twice, res.attempts, res.ackedLost, res.left, res.note)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

type runner struct {
	dir, bin string
	pgport   int
	pgData   string
}

type result struct {
	acked, stored, dispatched, twice, attempts, ackedLost, left int
	note                                                        string
}

// child is one `pushgate serve` process.
type child struct {
	cmd  *exec.Cmd
	addr string
	log  string
}

func (r *runner) start(name, driver, dsn, logPath string) *child {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := ln.Addr().String()
	ln.Close()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	check(err)
	cmd := exec.Command(r.bin, "serve")
	cmd.Env = append(os.Environ(), "PUSHGATE_ADDR="+addr, "PUSHGATE_DB_DRIVER="+driver, "PUSHGATE_DB_DSN="+dsn,
		"PUSHGATE_WECHAT_TOKEN="+token, "PUSHGATE_ADMIN_TOKEN=faults-admin", "PUSHGATE_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = lf, lf
	check(cmd.Start())
	go func() { cmd.Wait(); lf.Close() }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return &child{cmd: cmd, addr: addr, log: logPath}
		}
	}
	check(fmt.Errorf("%s: pushgate did not come up", name))
	return nil
}

func (c *child) kill9() { c.cmd.Process.Signal(syscall.SIGKILL); time.Sleep(100 * time.Millisecond) }
func (c *child) stop()  { c.cmd.Process.Signal(syscall.SIGTERM); time.Sleep(500 * time.Millisecond) }

// load posts unique signed pushes from workers to the targets (round robin)
// until stopped, retrying a push that got no 200 twice (as WeChat does),
// and remembers which were acknowledged.
type load struct {
	prefix  string
	targets atomic.Pointer[[]string]
	next    atomic.Int64
	stopped atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[string]bool
}

func startLoad(prefix string, workers int, targets ...string) *load {
	l := &load{prefix: prefix, acked: map[string]bool{}}
	l.targets.Store(&targets)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range workers {
		l.wg.Go(func() {
			for !l.stopped.Load() {
				n := l.next.Add(1)
				from := fmt.Sprintf("%s-%d", prefix, n)
				body := fmt.Sprintf("<xml><ToUserName>gh_faults</ToUserName><FromUserName>%s</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>k%d</EventKey></xml>",
					from, time.Now().Unix(), n)
				for try := range 3 {
					ts := *l.targets.Load()
					if post(client, ts[(w+try)%len(ts)], body) {
						l.mu.Lock()
						l.acked[from] = true
						l.mu.Unlock()
						break
					}
					time.Sleep(300 * time.Millisecond)
				}
			}
		})
	}
	return l
}

func (l *load) stop() map[string]bool {
	l.stopped.Store(true)
	l.wg.Wait()
	return l.acked
}

func post(client *http.Client, addr, body string) bool {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {handlers.Signature(token, stamp, nonce)}}
	resp, err := client.Post("http://"+addr+"/wechat?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && string(b) == "success"
}

var dispatchLine = regexp.MustCompile(`msg=push .* from=(\S+)`)

// tally counts what happened to the pushes whose FromUserName has prefix.
func tally(driver, dsn, prefix string, acked map[string]bool, logs ...string) result {
	runs := map[string]int{}
	for _, path := range logs {
		f, err := os.Open(path)
		check(err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := dispatchLine.FindStringSubmatch(sc.Text()); m != nil && strings.HasPrefix(m[1], prefix+"-") {
				runs[m[1]]++
			}
		}
		f.Close()
	}
	db, err := sql.Open(map[string]string{"sqlite": "sqlite3", "postgres": "pgx"}[driver], dsn)
	check(err)
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT from_user, attempts, status FROM events WHERE from_user LIKE '"+prefix+"-%'")
	check(err)
	stored := map[string]bool{}
	var res result
	for rows.Next() {
		var from, status string
		var attempts int
		check(rows.Scan(&from, &attempts, &status))
		stored[from] = true
		res.attempts += attempts
		if status == "received" {
			res.left++
		}
	}
	check(rows.Err())
	res.acked, res.stored = len(acked), len(stored)
	for from := range acked {
		if !stored[from] {
			res.ackedLost++
		}
	}
	for _, n := range runs {
		res.dispatched += n
		if n > 1 {
			res.twice++
		}
	}
	return res
}

// settle waits until no stored push of prefix is left received, or limit.
func settle(driver, dsn, prefix string, limit time.Duration) {
	db, err := sql.Open(map[string]string{"sqlite": "sqlite3", "postgres": "pgx"}[driver], dsn)
	check(err)
	defer db.Close()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Second) {
		var n int
		if db.QueryRow("SELECT count(*) FROM events WHERE status = 'received' AND from_user LIKE '"+prefix+"-%'").Scan(&n) == nil && n == 0 {
			return
		}
	}
}

func (r *runner) sqliteKill9(name string) result {
	dsn := filepath.Join(r.dir, name+".db")
	logp := filepath.Join(r.dir, name+".log")
	c := r.start(name, "sqlite", dsn, logp)
	l := startLoad(name, 8, c.addr)
	time.Sleep(2 * time.Second)
	c.kill9()
	c = r.start(name, "sqlite", dsn, logp) // start-up recovery
	(*l).targets.Store(&[]string{c.addr})
	time.Sleep(2 * time.Second)
	acked := l.stop()
	settle("sqlite", dsn, name, 10*time.Second)
	c.stop()
	res := tally("sqlite", dsn, name, acked, logp)
	res.note = "kill -9 under load, restart on the same file"
	return res
}

func (r *runner) sqliteReadOnly(name string) result {
	dsn := filepath.Join(r.dir, name+".db")
	logp := filepath.Join(r.dir, name+".log")
	c := r.start(name, "sqlite", dsn, logp)
	l := startLoad(name, 8, c.addr)
	time.Sleep(time.Second)
	files := []string{dsn, dsn + "-wal"}
	check(exec.Command("chattr", append([]string{"+i"}, files...)...).Run())
	time.Sleep(3 * time.Second)
	health := healthz(c.addr)
	check(exec.Command("chattr", append([]string{"-i"}, files...)...).Run())
	time.Sleep(3 * time.Second)
	acked := l.stop()
	settle("sqlite", dsn, name, 10*time.Second)
	after := healthz(c.addr)
	c.stop()
	res := tally("sqlite", dsn, name, acked, logp)
	res.note = fmt.Sprintf("db and WAL immutable for 3s, then writable; /healthz %d while read-only, %d after (no restart)", health, after)
	return res
}

func (r *runner) sqliteDiskFull(name string) result {
	mnt := filepath.Join(r.dir, "tmpfs")
	check(os.MkdirAll(mnt, 0o755))
	check(exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).Run())
	defer exec.Command("umount", "-l", mnt).Run()
	dsn := filepath.Join(mnt, name+".db")
	logp := filepath.Join(r.dir, name+".log")
	c := r.start(name, "sqlite", dsn, logp)
	l := startLoad(name, 8, c.addr)
	time.Sleep(time.Second)
	filler := filepath.Join(mnt, "filler")
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run() // until the disk is full
	time.Sleep(3 * time.Second)
	health := healthz(c.addr)
	os.Remove(filler)
	time.Sleep(3 * time.Second)
	acked := l.stop()
	settle("sqlite", dsn, name, 10*time.Second)
	after := healthz(c.addr)
	c.stop()
	res := tally("sqlite", dsn, name, acked, logp)
	res.note = fmt.Sprintf("64 MiB tmpfs filled for 3s, then freed; /healthz %d while full, %d after", health, after)
	return res
}

func healthz(addr string) int {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startPG starts the private cluster (initdb once) on r.pgport.
func (r *runner) startPG() string {
	if r.pgData == "" {
		r.pgData = filepath.Join(r.dir, "pgdata")
		check(os.MkdirAll(r.pgData, 0o700))
		check(exec.Command("chown", "-R", "postgres", r.dir).Run())
		check(asPostgres("initdb", "-D", r.pgData, "-U", "postgres", "--auth=trust").Run())
	}
	check(asPostgres("pg_ctl", "-D", r.pgData, "-w", "-l", filepath.Join(r.dir, "pg.log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", r.pgport, r.dir), "start").Run())
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", r.pgport)
}

func (r *runner) stopPG() {
	if r.pgData != "" {
		asPostgres("pg_ctl", "-D", r.pgData, "-w", "-m", "fast", "stop").Run()
	}
}

func asPostgres(args ...string) *exec.Cmd {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	return cmd
}

// pgDB creates database name on the private cluster and returns its DSN.
func (r *runner) pgDB(name string) string {
	base := r.startPGOnce()
	db, err := sql.Open("pgx", base)
	check(err)
	defer db.Close()
	db.Exec("DROP DATABASE IF EXISTS " + strings.ReplaceAll(name, "-", "_"))
	_, err = db.Exec("CREATE DATABASE " + strings.ReplaceAll(name, "-", "_"))
	check(err)
	return strings.Replace(base, "dbname=postgres", "dbname="+strings.ReplaceAll(name, "-", "_"), 1)
}

func (r *runner) startPGOnce() string {
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", r.pgport)
	if r.pgData == "" {
		return r.startPG()
	}
	return dsn
}

// pgWait is how long a PostgreSQL scenario that killed a replica waits for
// the sweep: handlers.SweepGrace plus the sweep's period and a margin.
const pgWait = handlers.SweepGrace + 45*time.Second

func (r *runner) pgKill9(name string) result {
	dsn := r.pgDB(name)
	logp := filepath.Join(r.dir, name+".log")
	c := r.start(name, "postgres", dsn, logp)
	l := startLoad(name, 8, c.addr)
	time.Sleep(2 * time.Second)
	c.kill9()
	c = r.start(name, "postgres", dsn, logp)
	l.targets.Store(&[]string{c.addr})
	time.Sleep(2 * time.Second)
	acked := l.stop()
	settle("postgres", dsn, name, pgWait)
	c.stop()
	res := tally("postgres", dsn, name, acked, logp)
	res.note = "kill -9 under load, restart (rows left received wait for the sweep's grace)"
	return res
}

func (r *runner) pgStopStart(name string) result {
	dsn := r.pgDB(name)
	logp := filepath.Join(r.dir, name+".log")
	c := r.start(name, "postgres", dsn, logp)
	l := startLoad(name, 8, c.addr)
	time.Sleep(2 * time.Second)
	r.stopPG()
	time.Sleep(3 * time.Second)
	health := healthz(c.addr)
	r.startPG()
	time.Sleep(3 * time.Second)
	acked := l.stop()
	settle("postgres", dsn, name, 20*time.Second)
	after := healthz(c.addr)
	c.stop()
	res := tally("postgres", dsn, name, acked, logp)
	res.note = fmt.Sprintf("private cluster stopped (fast) for 3s under load, then started; /healthz %d while down, %d after", health, after)
	return res
}

func (r *runner) pgReplicaKilled(name string) result {
	dsn := r.pgDB(name)
	logA, logB := filepath.Join(r.dir, name+"-a.log"), filepath.Join(r.dir, name+"-b.log")
	a := r.start(name+"-a", "postgres", dsn, logA)
	b := r.start(name+"-b", "postgres", dsn, logB)
	l := startLoad(name, 8, a.addr, b.addr)
	time.Sleep(2 * time.Second)
	a.kill9()
	l.targets.Store(&[]string{b.addr})
	time.Sleep(2 * time.Second)
	acked := l.stop()
	settle("postgres", dsn, name, pgWait) // b's sweep takes a's left-overs
	b.stop()
	res := tally("postgres", dsn, name, acked, logA, logB)
	res.note = "two replicas, one killed -9 under load; the other's sweep recovers"
	return res
}
