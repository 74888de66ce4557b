package ui

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// adminPrefixes are the admin routes a session may call through
// /ui/api/v1/...; anything else is 404 there. (/v1/accounts/... is an API
// route: the session's admin token would only get 401, which the pages
// take for an ended session.)
var adminPrefixes = []string{"/v1/events", "/v1/replay", "/v1/rejected", "/v1/deliveries"}

// streamPath is the live feed, an API route: forwarded with the API token.
const streamPath = "/v1/stream"

// forward serves /ui/api/v1/PATH with the route /v1/PATH in process: a new
// request with the session's admin token (the API token for the feed) in
// Authorization, the query, the body, and of the browser's headers only
// the few the routes read. The answer goes to the browser as it is.
func (in *Inspector) forward(c *gin.Context) {
	s := c.MustGet(sessionKey).(*session)
	path := "/v1" + c.Param("path")
	token := ""
	switch {
	case path == streamPath && c.Request.Method == http.MethodGet:
		if in.opts.APIToken == "" {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the live feed needs an API token (PUSHGATE_API_TOKEN)"})
			return
		}
		token = in.opts.APIToken
	case allowed(path):
		token = s.token
	default:
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such inspector route"})
		return
	}
	r := c.Request
	out := r.Clone(r.Context())
	out.URL.Path, out.URL.RawPath = path, ""
	out.RequestURI = out.URL.RequestURI()
	out.Header = http.Header{}
	for _, k := range []string{"Accept", "Content-Type", "Content-Length", "Last-Event-ID"} {
		if v := r.Header.Get(k); v != "" {
			out.Header.Set(k, v)
		}
	}
	out.Header.Set("Authorization", "Bearer "+token)
	c.Header("Cache-Control", "no-store")
	in.handler.ServeHTTP(c.Writer, out)
	c.Abort()
}

func allowed(path string) bool {
	if strings.Contains(path, "..") {
		return false
	}
	for _, p := range adminPrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
