package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// cookieName is the session cookie: HttpOnly, SameSite=Strict, Path /ui.
const cookieName = "pushgate_ui"

// csrfHeader carries a session's CSRF token on every call that changes
// something.
const csrfHeader = "X-CSRF-Token"

// sessionKey is where the gin context keeps the request's *session.
const sessionKey = "ui.session"

// session is one login: the admin token it was given, kept on the server,
// and the token its pages send back on actions.
type session struct {
	token   string
	csrf    string
	expires time.Time
}

// sessions are the logins, in memory: a restart logs everybody out.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, now: now}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// create starts a session for token and returns its id.
func (ss *sessions) create(token string) (string, *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for id, s := range ss.m { // the logins are few: sweep at each new one
		if now.After(s.expires) {
			delete(ss.m, id)
		}
	}
	id := randomHex(32)
	s := &session{token: token, csrf: randomHex(32), expires: now.Add(ss.ttl)}
	ss.m[id] = s
	return id, s
}

// get returns the live session id names, or nil.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s != nil && ss.now().After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// lookup returns the request's session, or nil.
func (in *Inspector) lookup(c *gin.Context) *session {
	id, err := c.Cookie(cookieName)
	if err != nil {
		return nil
	}
	return in.sessions.get(id)
}

// setCookie sets the session cookie; Secure when the browser came over
// TLS, to pushgate or to a proxy in front of it that says so with
// X-Forwarded-Proto (the header can only add the restriction).
func (in *Inspector) setCookie(c *gin.Context, value string, maxAge int) {
	secure := c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieName, Value: value, Path: "/ui", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
}

// sameOrigin refuses a request that a browser says came from another site:
// by Sec-Fetch-Site (which pages cannot set), else by Origin against Host.
// Requests without either (curl, old browsers) pass; the SameSite=Strict
// cookie and the CSRF token still hold.
func sameOrigin(c *gin.Context) bool {
	switch c.GetHeader("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true // trusted over Origin: a proxy may have rewritten Host
	case "":
	default:
		return false
	}
	if o := c.GetHeader("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != c.Request.Host {
			return false
		}
	}
	return true
}

// pageSession sends a visitor without a session to the login form.
func (in *Inspector) pageSession(c *gin.Context) {
	s := in.lookup(c)
	if s == nil {
		c.Redirect(http.StatusSeeOther, "/ui/login")
		c.Abort()
		return
	}
	c.Set(sessionKey, s)
	c.Next()
}

// apiSession admits a call with a session; one that changes something
// (not GET or HEAD) also needs the session's CSRF token and a same-origin
// request.
func (in *Inspector) apiSession(c *gin.Context) {
	s := in.lookup(c)
	if s == nil {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "not logged in: open /ui/login"})
		return
	}
	if m := c.Request.Method; m != http.MethodGet && m != http.MethodHead {
		if !sameOrigin(c) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "cross-site request refused"})
			return
		}
		if subtle.ConstantTimeCompare([]byte(c.GetHeader(csrfHeader)), []byte(s.csrf)) != 1 {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or wrong " + csrfHeader + " header"})
			return
		}
	}
	c.Set(sessionKey, s)
	c.Next()
}

func (in *Inspector) loginForm(c *gin.Context) {
	if in.lookup(c) != nil {
		c.Redirect(http.StatusSeeOther, "/ui/")
		return
	}
	in.render(c, http.StatusOK, "login", pageData{Page: "login", Title: "Log in"})
}

// login checks the admin token of the form and starts a session. Failures
// are limited per remote address (see loginLimiter): past the limit it
// answers 429 with Retry-After without looking at the token.
func (in *Inspector) login(c *gin.Context) {
	fail := func(status int, msg string) {
		in.render(c, status, "login", pageData{Page: "login", Title: "Log in", Error: msg})
	}
	if !sameOrigin(c) {
		fail(http.StatusForbidden, "Cross-site login refused.")
		return
	}
	if in.opts.AdminToken == "" {
		fail(http.StatusServiceUnavailable, "No admin token is configured: set PUSHGATE_ADMIN_TOKEN (or run serve --dev).")
		return
	}
	addr := remoteHost(c.Request.RemoteAddr)
	if wait := in.logins.take(addr, in.opts.Now()); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.Itoa(secs))
		fail(http.StatusTooManyRequests, "Too many failed logins from your address: try again in "+strconv.Itoa(secs)+" s.")
		return
	}
	token := c.PostForm("token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(in.opts.AdminToken)) != 1 {
		fail(http.StatusUnauthorized, "Wrong admin token.")
		return
	}
	in.logins.refund(addr, in.opts.Now())
	id, _ := in.sessions.create(token)
	in.setCookie(c, id, int(in.opts.SessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, "/ui/")
}

// logout ends the session; the form carries the CSRF token.
func (in *Inspector) logout(c *gin.Context) {
	id, _ := c.Cookie(cookieName)
	s := in.sessions.get(id)
	if s == nil || !sameOrigin(c) || subtle.ConstantTimeCompare([]byte(c.PostForm("csrf")), []byte(s.csrf)) != 1 {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "logout needs the session's CSRF token"})
		return
	}
	in.sessions.drop(id)
	in.setCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/ui/login")
}
