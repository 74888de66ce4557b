//go:build unix && !(linux && (amd64 || arm64))

package handlers

import "syscall"

// sendNow is one write(2) of data on the socket fd, which the runtime made
// non-blocking.
func sendNow(fd int, data []byte) (int, error) { return syscall.Write(fd, data) }
