package handlers

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/events"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds an incoming X-Request-Id that is kept.
const maxRequestID = 128

// requestID gives every request an id: its X-Request-Id when sane (1 to
// 128 characters of letters, digits and "-_.:"), else 16 random bytes in
// hex. The id is echoed in the answer's X-Request-Id and carried in the
// request's context as events.Info.HTTPRequestID, for the logs
// (events.LogHandler) and the stored event.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Header(HeaderRequestID, id)
		c.Request = c.Request.WithContext(events.WithInfo(c.Request.Context(), events.Info{HTTPRequestID: id}))
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestIDOf is the id requestID gave c's request.
func requestIDOf(c *gin.Context) string {
	info, _ := events.InfoFrom(c.Request.Context())
	return info.HTTPRequestID
}
