//go:build linux && (amd64 || arm64)

package handlers

import (
	"syscall"
	"unsafe"
)

// sendNow is one send(2) of data on the socket fd, without waiting
// (MSG_DONTWAIT) and without SIGPIPE: the socket layer directly, not the
// generic write path of files.
func sendNow(fd int, data []byte) (int, error) {
	n, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(data))), uintptr(len(data)),
		syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
