package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pushgate/pushgate/handlers"
)

// wrkScript drives unique signed CLICKs from wrk. wrk's Lua has no sha1,
// and pushgate refuses a (timestamp, nonce) pair it has seen within its
// freshness window, so the loader writes, just before each wrk run, a list
// of signed nonces for the current timestamp, longer than the requests the
// run can make; each wrk thread takes every n-th line and uses each once.
// The body is built per request (a unique FromUserName+CreateTime, so no
// push is a retry of another). A thread that runs out wraps around and
// counts it: a reused nonce is refused by pushgate, so the run then shows
// errors rather than quietly measuring refusals.
const wrkScript = `
local nextid = 0
local threads = {}
function setup(thread)
  thread:set("tid", nextid)
  nextid = nextid + 1
  table.insert(threads, thread)
end

local paths, idx, k, base = {}, {}, 0, 0
overflow = 0
function init(args)
  local nthreads = tonumber(args[2])
  local f = assert(io.open(args[1]))
  local ts = f:read("*l")
  base = tonumber(f:read("*l"))
  local j = 0
  for line in f:lines() do
    if j % nthreads == tid then
      local sp = line:find(" ", 1, true)
      paths[#paths + 1] = "/wechat?timestamp=" .. ts .. "&nonce=" .. line:sub(1, sp - 1) .. "&signature=" .. line:sub(sp + 1)
      idx[#idx + 1] = j
    end
    j = j + 1
  end
  f:close()
end

local headers = {["Content-Type"] = "text/xml"}
local fmt = "<xml><ToUserName><![CDATA[gh_loadbench]]></ToUserName><FromUserName><![CDATA[oUser%d]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[key_%d]]></EventKey></xml>"
function request()
  k = k + 1
  if k > #paths then k = 1; overflow = overflow + 1 end
  local j = idx[k]
  return wrk.format("POST", paths[k], headers, string.format(fmt, j % 1000, base + j, j))
end

function done(summary, latency, requests)
  local over = 0
  for _, t in ipairs(threads) do over = over + t:get("overflow") end
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout, over))
end
`

// wrkRun is one wrk invocation's figures.
type wrkRun struct {
	requests int64
	elapsed  time.Duration
	p50, p99 time.Duration
	errs     int64
	overflow int64
	cpu      time.Duration // wrk's own CPU time
}

var createBase int64 = 1700000000

// runWrk writes a fresh list of signed nonces (maxRate per second of d,
// so that none is used twice) and loads base with wrk for d.
func runWrk(wrk, dir, base string, conns int, d time.Duration, maxRate int) (wrkRun, error) {
	n := int(float64(maxRate) * d.Seconds())
	list := filepath.Join(dir, "nonces")
	f, err := os.Create(list)
	if err != nil {
		return wrkRun{}, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	fmt.Fprintf(w, "%s\n%d\n", stamp, createBase)
	createBase += int64(n)
	for range n {
		nonce := strconv.FormatInt(seq.Add(1), 36)
		w.WriteString(nonce)
		w.WriteByte(' ')
		w.WriteString(handlers.Signature(token, stamp, nonce))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return wrkRun{}, err
	}
	f.Close()
	script := filepath.Join(dir, "push.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return wrkRun{}, err
	}
	threads := 2
	cmd := exec.Command(wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%.0fs", max(1, d.Seconds())),
		"--timeout", "30s", "-s", script, base+"/wechat", "--", list, strconv.Itoa(threads))
	out, err := cmd.Output()
	if err != nil {
		return wrkRun{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r wrkRun
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 7 && f[0] == "WRKRESULT" {
			var v [6]int64
			for i := range v {
				v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
			}
			r = wrkRun{requests: v[0], elapsed: time.Duration(v[1]) * time.Microsecond,
				p50: time.Duration(v[2]) * time.Microsecond, p99: time.Duration(v[3]) * time.Microsecond, errs: v[4], overflow: v[5]}
		}
	}
	if r.requests == 0 {
		return r, fmt.Errorf("wrk printed no result: %s", out)
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}
