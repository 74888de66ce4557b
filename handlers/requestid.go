package handlers

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"unsafe"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/events"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds an incoming X-Request-Id that is kept.
const maxRequestID = 128

// requestID gives every request an id: its X-Request-Id when sane (1 to
// 128 characters of letters, digits and "-_.:"), else 32 random hex
// digits. The id is echoed in the answer's X-Request-Id, and that header
// is where the routes read it back (requestIDOf): a request costs no
// context of its own. A push carries it on in its events.Info
// (HTTPRequestID): in the context of its observers, its handler and their
// log lines (events.LogHandler), and in its stored event; requestContext
// makes a context with it for a route's own log lines.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Request.Header[HeaderRequestID]
		if len(id) == 0 || !saneRequestID(id[0]) {
			id = newRequestID()
		}
		// The incoming value's slice, capped so that an append to the
		// answer's header cannot write into the request's.
		c.Writer.Header()[HeaderRequestID] = id[:1:1]
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch r := id[i]; {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex, as the one-value header
// that carries them: one allocation holds both the header's slice and the
// id's bytes. They come from the runtime's generator (ChaCha8, seeded by
// the operating system): an id must be unique, not secret, and needs no
// system call.
func newRequestID() []string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	v := new(struct {
		header [1]string
		hex    [32]byte
	})
	hex.Encode(v.hex[:], b[:])
	v.header[0] = unsafe.String(&v.hex[0], len(v.hex)) // v.hex is never written again
	return v.header[:]
}

// requestIDOf is the id requestID gave c's request: the answer's
// X-Request-Id.
func requestIDOf(c *gin.Context) string {
	if id := c.Writer.Header()[HeaderRequestID]; len(id) > 0 {
		return id[0]
	}
	return ""
}

// requestContext is c's request context carrying an events.Info with the
// request's id, for log lines about the request (events.LogHandler adds
// the id to them). It is made when asked, on the paths that log.
func requestContext(c *gin.Context) context.Context {
	return events.WithInfo(c.Request.Context(), events.Info{HTTPRequestID: requestIDOf(c)})
}
