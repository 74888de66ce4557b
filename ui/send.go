package ui

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"
)

// send posts one sample push (a fixture, by name) to /wechat in process,
// signed with the WeChat token (and sealed by Options.SealPush), and answers {"name", "status", "answer"}.
// It exists only in development mode (Options.Dev).
func (in *Inspector) send(c *gin.Context) {
	var req struct {
		Name string `json:"name"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "the body must be {\"name\": FIXTURE}: " + err.Error()})
		return
	}
	i := slices.IndexFunc(in.samples, func(p samplePush) bool { return p.Name == req.Name })
	if i < 0 {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no sample push named " + strconv.Quote(req.Name)})
		return
	}
	if in.opts.WeChatToken == "" {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "no WeChat token is configured to sign with"})
		return
	}
	p := in.samples[i]
	stamp := strconv.FormatInt(in.opts.Now().Unix(), 10)
	nonce := randomHex(8)
	q := url.Values{"timestamp": {stamp}, "nonce": {nonce}, "signature": {signature(in.opts.WeChatToken, stamp, nonce)}}
	body := p.Body
	if in.opts.SealPush != nil {
		var extra url.Values
		body, extra = in.opts.SealPush(p.Body, p.Format, stamp, nonce)
		for k, v := range extra {
			q[k] = v
		}
	}
	push, err := http.NewRequestWithContext(c.Request.Context(), http.MethodPost, "/wechat?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	push.RemoteAddr = c.Request.RemoteAddr
	ct := "text/xml"
	if p.Format == "json" {
		ct = "application/json"
	}
	push.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	in.handler.ServeHTTP(rec, push)
	answer := rec.Body.String()
	if len(answer) > 4096 {
		answer = answer[:4096]
	}
	c.JSON(http.StatusOK, gin.H{"name": p.Name, "status": rec.Code, "answer": answer})
}

// signature is WeChat's URL signature: the hex SHA-1 of token, timestamp
// and nonce sorted and joined.
func signature(token, timestamp, nonce string) string {
	parts := []string{token, timestamp, nonce}
	slices.Sort(parts)
	sum := sha1.Sum([]byte(parts[0] + parts[1] + parts[2]))
	return hex.EncodeToString(sum[:])
}
