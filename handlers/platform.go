package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// Open Platform (开放平台) and WeCom (企业微信) accounts on the /wechat
// routes. An open_platform account takes its authorization events
// (component_verify_ticket, authorized, …) on /wechat/{account}, answered
// "success" whatever its handlers reply, and the pushes of the official
// accounts and mini programs that authorized it on
// /wechat/{account}/{authorizer_appid}, stored with that app id; both are
// sealed with the platform's key for its component app id and verified by
// msg_signature. A wecom account verifies its URL check (GET) and pushes by
// msg_signature, for one of its receive ids.

// maxAuthorizerAppID bounds the {authorizer_appid} of a route (WeChat's app
// ids are 18 characters).
const maxAuthorizerAppID = 64

// validAuthorizerAppID reports whether id is 1 to 64 characters of A-Z,
// a-z, 0-9 and "_".
func validAuthorizerAppID(id string) bool {
	if id == "" || len(id) > maxAuthorizerAppID {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// authorizerOf returns the {authorizer_appid} of the route, "" on
// /wechat/{account}. Only open_platform accounts have such routes (404
// otherwise, plain text, nothing stored); an app id that is not 1 to 64
// characters of A-Z a-z 0-9 _ is 400. ok is false when it answered.
func (s *Server) authorizerOf(c *gin.Context, acct *account) (authorizer string, ok bool) {
	authorizer = c.Param("authorizer")
	switch {
	case authorizer == "":
		return "", true
	case acct.kind != configs.KindOpenPlatform:
		s.metrics.pushes.inc("unknown_account")
		plainError(c, http.StatusNotFound, fmt.Sprintf("account %q is not an open_platform account: it has no /wechat/%s/{authorizer_appid} route", acct.name, acct.name))
		return "", false
	case !validAuthorizerAppID(authorizer):
		s.metrics.pushes.inc("bad_authorizer")
		plainError(c, http.StatusBadRequest, fmt.Sprintf("invalid authorizer app id %q: want 1 to %d characters of A-Z, a-z, 0-9 and _", authorizer, maxAuthorizerAppID))
		return "", false
	}
	return authorizer, true
}

// authorizerMatches checks that a push on an authorizer's route is that
// authorizer's: the msg_signature covers the body, not the route, so a
// push sealed for one authorizer could be posted on another's (with no
// freshness window, nothing else stops the replay). The ToUserName of an
// authorizer's pushes is its original id; a push whose ToUserName the
// account stored for another authorizer is refused, 401, and kept as a
// refused push. ok is false when it answered.
func (s *Server) authorizerMatches(c *gin.Context, acct *account, authorizer, toUser string, body []byte) (ok bool) {
	other, err := s.store.OtherAuthorizer(c.Request.Context(), acct.name, toUser, authorizer)
	if err != nil {
		s.metrics.pushes.inc("store_error")
		s.log.ErrorContext(c.Request.Context(), "looking up the authorizer of a push", "account", acct.name, "err", err)
		plainError(c, http.StatusServiceUnavailable, "storage unavailable, retry later")
		return false
	}
	if other != "" {
		s.reject(c, http.StatusUnauthorized, fmt.Sprintf("push to %q belongs to authorizer %s, not %s", toUser, other, authorizer), body)
		return false
	}
	return true
}

// dedupeScope is the scope of a push's dedupe key: the account, and for a
// push received for an authorizer, the account and the authorizer's app id.
func dedupeScope(account, authorizer string) string {
	if authorizer == "" {
		return account
	}
	return account + "/" + authorizer
}

// successOnly reports whether pushes to this route are answered "success"
// whatever their handlers reply: an Open Platform's authorization event
// URL (WeChat reads nothing else there).
func (a *account) successOnly(authorizer string) bool {
	return a.kind == configs.KindOpenPlatform && authorizer == ""
}

// rejectUnread refuses a push whose body could not be read. A wechat
// account's URL signature was verified before: the push is kept, as any
// refused push. Open Platform and WeCom pushes are verified by the
// msg_signature inside the body, so nothing vouches for this one yet, and
// it is not stored (a stranger could fill the table otherwise).
func (s *Server) rejectUnread(c *gin.Context, acct *account, status int, reason string, body []byte) {
	if acct.bySignature() {
		s.reject(c, status, reason, body)
		return
	}
	s.metrics.pushes.inc("unverified")
	plainError(c, status, reason)
}

// verifyWeComURL answers WeCom's URL check: msg_signature over (token,
// timestamp, nonce, echostr), echostr decrypted, its receive id checked; the
// answer is the plaintext. A wrong signature or receive id is 401, anything
// else wrong with echostr 400.
func (s *Server) verifyWeComURL(c *gin.Context, acct *account, q url.Values) {
	// base64 has no spaces: a "+" sent unescaped reads as one.
	echo := strings.ReplaceAll(q.Get("echostr"), " ", "+")
	tok := acct.msgToken(q, echo)
	if tok < 0 {
		s.metrics.pushes.inc("unauthorized")
		plainError(c, http.StatusUnauthorized, "invalid msg_signature")
		return
	}
	plain, _, previous, err := acct.open(tok, q, echo)
	switch {
	case errors.Is(err, ErrReceiveID):
		s.metrics.pushes.inc("unauthorized")
		plainError(c, http.StatusUnauthorized, err.Error())
		return
	case err != nil:
		plainError(c, http.StatusBadRequest, "echostr: "+err.Error())
		return
	}
	if previous || tok > 0 {
		s.metrics.previousKey.inc(acct.name)
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", plain)
}

// componentTicket is the answer of GET
// /v1/accounts/{account}/component_verify_ticket.
type componentTicket struct {
	Account string `json:"account"`
	// Ticket is the ComponentVerifyTicket.
	Ticket string `json:"ticket"`
	// CreateTime is the push's CreateTime, Unix seconds.
	CreateTime int64 `json:"create_time"`
	// ReceivedAt is when pushgate received it.
	ReceivedAt time.Time `json:"received_at"`
}

// platformRoutes adds the API routes of Open Platform accounts.
func (s *Server) platformRoutes(api gin.IRouter) {
	api.GET("/v1/accounts/:account/component_verify_ticket", s.getComponentTicket)
}

// getComponentTicket answers the latest component_verify_ticket of an Open
// Platform account: 404 for an account that is not one, or has none yet.
func (s *Server) getComponentTicket(c *gin.Context) {
	name := c.Param("account")
	acct := s.accounts[name]
	if acct == nil || acct.kind != configs.KindOpenPlatform {
		jsonError(c, http.StatusNotFound, fmt.Sprintf("no open_platform account %q", name))
		return
	}
	ev, err := s.store.LatestComponentTicket(c.Request.Context(), name)
	if errors.Is(err, models.ErrNotFound) {
		jsonError(c, http.StatusNotFound, fmt.Sprintf("account %q has received no component_verify_ticket yet", name))
		return
	}
	if err != nil {
		s.log.Error("reading component_verify_ticket", "account", name, "err", err)
		jsonError(c, http.StatusServiceUnavailable, "storage unavailable, retry later")
		return
	}
	var p struct{ ComponentVerifyTicket string }
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		jsonError(c, http.StatusInternalServerError, "stored event "+strconv.FormatInt(ev.ID, 10)+": "+err.Error())
		return
	}
	c.JSON(http.StatusOK, componentTicket{Account: name, Ticket: p.ComponentVerifyTicket, CreateTime: ev.CreateTime, ReceivedAt: ev.ReceivedAt})
}
