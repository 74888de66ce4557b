package handlers

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// jsonError answers {"error": msg} with status and stops the chain.
func jsonError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// plainError answers msg as text/plain: WeChat reads plain text on /wechat.
func plainError(c *gin.Context, status int, msg string) {
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.String(status, msg)
	c.Abort()
}

// bearer refuses with 401 every request whose Authorization is not
// "Bearer <token>"; with no token configured it refuses every request.
func bearer(token, name string) gin.HandlerFunc {
	want := []byte("Bearer " + token)
	return func(c *gin.Context) {
		if token == "" {
			jsonError(c, http.StatusUnauthorized, name+" routes are disabled: no "+name+" token is configured")
			return
		}
		got := c.GetHeader("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			if !strings.HasPrefix(got, "Bearer ") {
				jsonError(c, http.StatusUnauthorized, "missing bearer token")
				return
			}
			jsonError(c, http.StatusUnauthorized, "wrong bearer token")
			return
		}
		c.Next()
	}
}

// recoverJSON turns a panic in a route into a 500 JSON error.
func (s *Server) recoverJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(requestContext(c), "panic serving request", "path", c.Request.URL.Path, "panic", fmt.Sprint(p))
				s.fail(c, http.StatusInternalServerError, "internal error")
			}
		}()
		c.Next()
	}
}

// fail answers an error in the route's language: plain text on /wechat,
// where WeChat reads it, JSON elsewhere.
func (s *Server) fail(c *gin.Context, status int, msg string) {
	if c.Request.URL.Path == "/wechat" {
		plainError(c, status, msg)
		return
	}
	jsonError(c, status, msg)
}
