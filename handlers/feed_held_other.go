//go:build !unix

package handlers

import (
	"net"
	"syscall"
)

// directWrites: held streams are written through net.Conn, with a short
// deadline (poolWriteWait).
const directWrites = false

func writeNow(syscall.RawConn, *drainScratch, net.Buffers) (net.Buffers, error) {
	panic("unreachable: directWrites is false")
}
