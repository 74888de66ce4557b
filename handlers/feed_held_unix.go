//go:build unix

package handlers

import (
	"errors"
	"net"
	"syscall"
)

// directWrites: held streams are written by writeNow.
const directWrites = true

// writeNow writes bufs to rc's descriptor in one send that does not wait
// (see sendNow): it returns what the socket did not take at once (nil when
// it took everything), or the error that ends the stream. Several buffers
// are copied into sc.out first (a drain carries at most about drainMax).
// The send runs inside rc.Write, which holds the descriptor open for its
// duration, but never waits on the runtime's poller.
func writeNow(rc syscall.RawConn, sc *drainScratch, bufs net.Buffers) (net.Buffers, error) {
	data := bufs[0]
	scratch := false
	if len(bufs) > 1 {
		out := sc.out[:0]
		for _, b := range bufs {
			out = append(out, b...)
		}
		sc.out, data, scratch = out[:0], out, true
	}
	var n int
	var err error
	if rerr := rc.Write(func(fd uintptr) bool {
		for {
			n, err = sendNow(int(fd), data)
			if !errors.Is(err, syscall.EINTR) {
				return true // done, even if the socket is full
			}
		}
	}); rerr != nil {
		return nil, rerr
	}
	switch {
	case errors.Is(err, syscall.EAGAIN):
		n = 0
	case err != nil:
		return nil, err
	}
	if n >= len(data) {
		return nil, nil
	}
	rest := data[max(n, 0):]
	if scratch {
		rest = append([]byte(nil), rest...) // sc.out is the next drain's
	}
	return net.Buffers{rest}, nil
}
