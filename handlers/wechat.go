package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

var successBody = []byte("success")

// verifyURL answers WeChat's URL check: echostr when the signature holds.
func (s *Server) verifyURL(c *gin.Context) {
	acct := s.accountOf(c)
	if acct == nil {
		return
	}
	q := c.Request.URL.Query()
	if acct.kind == configs.KindWeCom {
		s.verifyWeComURL(c, acct, q)
		return
	}
	tok := acct.verify(q.Get("signature"), q.Get("timestamp"), q.Get("nonce"))
	if tok < 0 {
		s.metrics.pushes.inc("unauthorized")
		plainError(c, http.StatusUnauthorized, "invalid signature")
		return
	}
	if tok > 0 {
		s.metrics.previousKey.inc(acct.name)
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(q.Get("echostr")))
}

// receive takes one push: verify, read, decode, store, dispatch, answer.
func (s *Server) receive(c *gin.Context) {
	start := time.Now()
	defer func() { s.metrics.latency.observe(time.Since(start)) }()
	acct := s.accountOf(c)
	if acct == nil {
		return
	}
	authorizer, ok := s.authorizerOf(c, acct)
	if !ok {
		return
	}
	q := c.Request.URL.Query()
	tok := -1 // Open Platform and WeCom: found by msg_signature in unseal
	if acct.bySignature() {
		if tok = acct.verify(q.Get("signature"), q.Get("timestamp"), q.Get("nonce")); tok < 0 {
			s.metrics.pushes.inc("unauthorized")
			plainError(c, http.StatusUnauthorized, "invalid signature")
			return
		}
	}
	previous := tok > 0
	if !s.fresh(q.Get("timestamp")) {
		s.metrics.pushes.inc("stale")
		plainError(c, http.StatusUnauthorized, "timestamp outside the allowed window")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.BodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.rejectUnread(c, acct, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", s.cfg.BodyLimit), body)
			return
		}
		s.rejectUnread(c, acct, http.StatusBadRequest, "reading body: "+err.Error(), body)
		return
	}
	var sealer *Crypter // the key that opened a sealed push; nil for plaintext
	if body, sealer, ok = s.unseal(c, acct, tok, q, body, &previous); !ok {
		return
	}
	if previous {
		s.metrics.previousKey.inc(acct.name)
	}
	// Announce the save to come while the body is decoded, so that the
	// store's writer lets it share the commit it is about to make. It is
	// withdrawn before a refusal, whose own save must not wait for it (and
	// by the deferred call if anything panics before SaveEvent).
	s.store.ExpectSave()
	expected := true
	withdraw := func() {
		if expected {
			expected = false
			s.store.CancelSave()
		}
	}
	defer withdraw()
	rctx := c.Request.Context()
	_, span := s.span(rctx, "decode")
	format := events.DetectFormat(c.ContentType(), body)
	e, err := events.Decode(body, format)
	if err != nil {
		failSpan(span, err)
		span.End()
		withdraw()
		s.reject(c, http.StatusBadRequest, err.Error(), body)
		return
	}
	payload, err := events.Marshal(e)
	if err != nil {
		failSpan(span, err)
		span.End()
		withdraw()
		s.reject(c, http.StatusBadRequest, "encoding payload: "+err.Error(), body)
		return
	}
	span.End()
	meta := events.Describe(e)
	if authorizer != "" && !s.authorizerMatches(c, acct, authorizer, meta.ToUser, body) {
		withdraw()
		return
	}
	scope := dedupeScope(acct.name, authorizer)
	key := meta.DedupeKey(scope, payload)
	legacy := ""
	if acct.name == configs.DefaultAccount {
		legacy = meta.LegacyKey()
	}
	stored := time.Now()
	expected = false // SaveEvent ends the announcement
	// The row may commit even if the client goes away meanwhile, so the wait
	// does not depend on the client; it is bounded by StoreWait, after which
	// the push is answered 503 and WeChat retries. A commit that lands after
	// that is dispatched by lateSave; the retry is then a duplicate.
	info := events.Info{Account: acct.name, AuthorizerAppID: authorizer, Attempt: 1, ReceivedAt: start, HTTPRequestID: requestIDOf(c)}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rctx), s.storeWait())
	defer cancel()
	_, span = s.span(rctx, "store")
	saved, err := s.store.SaveEvent(ctx, &models.NewEvent{
		DedupeKey:     key,
		LegacyKey:     legacy,
		LegacyIDKey:   meta.LegacyIDKey(scope),
		LegacyRawKey:  meta.LegacyUnkeptKey(scope, payload),
		Account:       acct.name,
		NonceKey:      s.nonceKey(acct, q),
		Kind:          meta.Kind,
		MsgType:       meta.MsgType,
		Event:         meta.Event,
		EventKey:      meta.EventKey,
		FromUser:      meta.FromUser,
		ToUser:        meta.ToUser,
		CreateTime:    meta.CreateTime,
		MsgID:         meta.MsgID,
		RequestID:     meta.RequestID,
		Format:        format.String(),
		HTTPRequestID: info.HTTPRequestID,
		TraceParent:   s.traceParent(rctx),
		Payload:       payload,
		Raw:           body,
		ReceivedAt:    start,
		Expected:      true,
		LateFunc:      func(saved models.Saved, err error) { s.lateSave(saved, err, e, info) },

		AuthorizerAppID: authorizer, // on an Open Platform's message route
	})
	s.metrics.store.observe(time.Since(stored))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("pushgate.account", acct.name), attribute.String("pushgate.kind", meta.Kind),
			attribute.Int64("pushgate.event_id", saved.ID), attribute.Bool("pushgate.duplicate", saved.Duplicate))
		if err != nil {
			failSpan(span, err)
		}
	}
	span.End()
	if errors.Is(err, models.ErrUnstorable) {
		// It could never be stored: refuse it (and keep it, its body as
		// bytes) rather than answer 503 to every retry.
		s.reject(c, http.StatusBadRequest, "push cannot be stored: "+strings.TrimPrefix(err.Error(), "models: save event: "), body)
		return
	}
	if errors.Is(err, models.ErrNonceUsed) {
		s.metrics.pushes.inc("nonce_used")
		plainError(c, http.StatusUnauthorized, "nonce already used")
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.metrics.pushes.inc("store_timeout")
		s.log.WarnContext(events.WithInfo(rctx, info), "push not committed within the store wait; answered 503", "kind", meta.Kind, "account", acct.name, "wait", s.storeWait())
		plainError(c, http.StatusServiceUnavailable, "storage slow, retry later")
		return
	}
	if err != nil {
		s.metrics.pushes.inc("store_error")
		s.log.ErrorContext(events.WithInfo(rctx, info), "storing push", "kind", meta.Kind, "err", err)
		plainError(c, http.StatusServiceUnavailable, "storage unavailable, retry later")
		return
	}
	if saved.Duplicate {
		s.metrics.pushes.inc("duplicate")
		s.metrics.storedInc(acct.name, meta.Kind, "duplicate")
		if acct.successOnly(authorizer) {
			s.answerSpan(rctx, c, nil)
			return
		}
		s.answerSpan(rctx, c, s.seal(sealer, q, s.originalAnswer(c.Request.Context(), start.Add(s.cfg.ReplyBudget), saved)))
		return
	}
	s.metrics.pushes.inc("accepted")
	s.metrics.storedInc(acct.name, meta.Kind, "accepted")
	info.ID = saved.ID
	// One context carries the push's Info to its observers, its handler and
	// their log lines. It does not end with the request: the push is
	// committed, and its handler may outlive the answer.
	pctx := events.WithInfo(s.detach(rctx), info)
	for _, o := range s.observers {
		o.Accepted(pctx, saved.ID, e)
	}
	dctx, span := s.span(pctx, "dispatch")
	reply := s.dispatchWithinBudget(dctx, start.Add(s.cfg.ReplyBudget), e, info)
	span.End()
	if acct.successOnly(authorizer) {
		reply = nil // the authorization event URL takes "success" only
	}
	s.answerSpan(rctx, c, s.seal(sealer, q, reply))
}

// answerSpan answers within a span "answer".
func (s *Server) answerSpan(ctx context.Context, c *gin.Context, reply []byte) {
	_, span := s.span(ctx, "answer")
	s.answer(c, reply)
	span.End()
}

// unseal applies the account's safe-mode policy and returns the push to
// decode: the body itself when plaintext, else what it seals, with the
// crypter that opened it. In safe mode a plaintext push (whatever its
// encrypt_type says) is 401 and not kept; in plain mode a sealed one is
// 400. A wrong msg_signature is 401; anything else wrong with an envelope
// is 400 and the envelope is kept as a rejected push. *previous is set when
// the previous key opened it.
func (s *Server) unseal(c *gin.Context, acct *account, tok int, q url.Values, body []byte, previous *bool) ([]byte, *Crypter, bool) {
	sealed := strings.EqualFold(q.Get("encrypt_type"), "aes")
	switch {
	case acct.mode == configs.ModeSafe:
	case acct.mode == configs.ModeCompat && sealed:
	case !sealed:
		return body, nil, true
	case !acct.hasKey():
		s.reject(c, http.StatusBadRequest, "safe-mode (encrypt_type=aes) push, but no EncodingAESKey is configured (PUSHGATE_WECHAT_AES_KEY)", body)
		return nil, nil, false
	default:
		s.reject(c, http.StatusBadRequest, fmt.Sprintf("safe-mode (encrypt_type=aes) push, but account %s is in plain mode (PUSHGATE_WECHAT_MODE)", acct.name), body)
		return nil, nil, false
	}
	enc, err := envelopeEncrypt(body)
	if err != nil && acct.mode == configs.ModeSafe {
		s.metrics.pushes.inc("unauthorized")
		msg := "plaintext push refused: the account is in safe mode and accepts encrypted pushes only"
		if !acct.bySignature() {
			msg = fmt.Sprintf("plaintext push refused: %s accounts accept encrypted pushes only", acct.kind)
		}
		plainError(c, http.StatusUnauthorized, msg)
		return nil, nil, false
	}
	if err == nil && tok < 0 {
		if tok = acct.msgToken(q, enc); tok < 0 {
			s.metrics.pushes.inc("unauthorized")
			plainError(c, http.StatusUnauthorized, "invalid msg_signature")
			return nil, nil, false
		}
		*previous = *previous || tok > 0
	}
	if err == nil {
		var (
			plain []byte
			cr    *Crypter
			prev  bool
		)
		plain, cr, prev, err = acct.open(tok, q, enc)
		if err == nil {
			*previous = *previous || prev
			return plain, cr, true
		}
		if errors.Is(err, ErrMsgSignature) {
			s.metrics.pushes.inc("unauthorized")
			plainError(c, http.StatusUnauthorized, "invalid msg_signature")
			return nil, nil, false
		}
		if errors.Is(err, ErrReceiveID) { // signed with our token, sealed for someone else
			s.reject(c, http.StatusUnauthorized, err.Error(), body)
			return nil, nil, false
		}
	}
	s.reject(c, http.StatusBadRequest, err.Error(), body)
	return nil, nil, false
}

// seal encrypts a passive reply to a sealed push with the key that opened
// it (cr), in a JSON envelope when the reply is JSON; "success", and any
// reply to a plaintext push, stay plain.
func (s *Server) seal(cr *Crypter, q url.Values, reply []byte) []byte {
	if cr == nil || reply == nil {
		return reply
	}
	if isJSONReply(reply) {
		return cr.SealReplyJSON(reply, s.now().Unix(), q.Get("nonce"))
	}
	return cr.SealReply(reply, s.now().Unix(), q.Get("nonce"))
}

// storeWait is Config.StoreWait, or its default for a Config whose defaults
// were not set.
func (s *Server) storeWait() time.Duration {
	if w := s.cfg.StoreWait; w > 0 {
		return w
	}
	return configs.Default().StoreWait
}

// lateSave dispatches a push whose commit landed after it was answered 503
// (StoreWait): it is stored, so it is dispatched here, once, with info (its
// account, authorizer and receipt time) and the id it was stored under;
// WeChat's retry finds it as a duplicate and gets its answer. A duplicate
// or a failed save needs nothing.
func (s *Server) lateSave(saved models.Saved, err error, e events.Event, info events.Info) {
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			s.log.ErrorContext(events.WithInfo(context.Background(), info), "storing push (after its answer)", "account", info.Account, "err", err)
		}
		return
	}
	if saved.Duplicate {
		return
	}
	s.metrics.pushes.inc("accepted_late")
	s.metrics.storedInc(info.Account, e.Kind(), "accepted_late")
	info.ID = saved.ID
	ctx := events.WithInfo(context.Background(), info)
	for _, o := range s.observers {
		o.Accepted(ctx, saved.ID, e)
	}
	s.dispatchAsync(ctx, e, info)
}

// dispatchAsync runs the handler of a newly stored push on its own goroutine,
// in flight (see inflight) until its attempt is recorded. ctx carries info
// (events.WithInfo) and must not end with the request (see detach).
func (s *Server) dispatchAsync(ctx context.Context, e events.Event, info events.Info) *flight {
	id := info.ID
	fl := s.inflight.start(id)
	go func() {
		var reply []byte
		defer func() { s.inflight.finish(id, fl, reply) }()
		reply = s.dispatchIn(ctx, e, info, false)
	}()
	return fl
}

// dispatchWithinBudget runs the handler for a newly stored push and returns
// its rendered reply; if the handler outlives the reply budget it answers
// nil ("success") and lets the handler finish and record its outcome.
func (s *Server) dispatchWithinBudget(ctx context.Context, deadline time.Time, e events.Event, info events.Info) []byte {
	fl := s.dispatchAsync(ctx, e, info)
	start := time.Now()
	defer func() { s.metrics.handler.observe(time.Since(start)) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-fl.done:
		return fl.reply
	case <-t.C:
		s.metrics.pushes.inc("over_budget")
		return nil
	}
}

// HandlerTimeout bounds one run of a handler: its context ends then, so a
// handler that honours it cannot hold its event in flight for ever.
const HandlerTimeout = time.Minute

// dispatch runs the handlers with info in their context and records the
// attempt; it returns the rendered passive reply, nil for "success". A kind
// nobody handles counts as handled: there is nothing to do. A panic is
// recorded as a failure, whatever middleware the Mux has. An error asking
// for a retry (events.RetryAfter) leaves the event received for the sweep,
// until the attempts reach events.MaxAttempts. With wait it returns once the
// attempt is committed.
func (s *Server) dispatch(ctx context.Context, e events.Event, info events.Info, wait bool) []byte {
	return s.dispatchIn(events.WithInfo(ctx, info), e, info, wait)
}

// dispatchIn is dispatch with a ctx that carries info already.
func (s *Server) dispatchIn(ctx context.Context, e events.Event, info events.Info, wait bool) []byte {
	id, replay := info.ID, info.Replay
	start := s.now()
	hctx, span := s.span(ctx, "handler")
	if span.IsRecording() {
		span.SetAttributes(attribute.String("pushgate.kind", e.Kind()), attribute.Int64("pushgate.event_id", id),
			attribute.Int("pushgate.attempt", info.Attempt), attribute.Bool("pushgate.replay", replay))
	}
	reply, err := s.runHandler(hctx, e)
	if errors.Is(err, events.ErrNoHandler) {
		err = nil
	}
	if err != nil {
		failSpan(span, err)
	}
	span.End()
	a := models.Attempt{EventID: id, Started: start, Duration: s.now().Sub(start), Replay: replay}
	kind := e.Kind()
	s.metrics.runSecondsFor(kind).Observe(a.Duration.Seconds())
	outcome := "handled"
	defer func() {
		s.metrics.dispatch.inc(outcome)
		s.metrics.runsInc(kind, outcome)
	}()
	var rendered []byte
	if err != nil {
		a.Err = err.Error()
		if d, retry := events.RetryDelay(err); retry && info.Attempt < events.MaxAttempts {
			a.RetryAt = s.now().Add(d)
			outcome = "retry"
		} else {
			outcome = "failed"
		}
	} else {
		if reply != nil {
			rendered = events.RenderFor(reply, e, s.now())
			a.Reply = rendered
		}
	}
	// With wait (replay, recovery) the record is committed before dispatch
	// returns; a push's first dispatch queues it. Neither depends on the
	// caller staying.
	if err := s.store.RecordAttempt(context.WithoutCancel(ctx), a, wait); err != nil {
		s.log.ErrorContext(ctx, "recording attempt", "id", id, "err", err)
	}
	return rendered
}

func (s *Server) runHandler(ctx context.Context, e events.Event) (r events.Reply, err error) {
	ctx, cancel := context.WithTimeout(ctx, HandlerTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%w: %v", events.ErrPanic, p)
		}
	}()
	return s.mux.Dispatch(ctx, e)
}

// originalAnswer is what a duplicate gets: the original's passive reply,
// waiting for it while the original is still being handled (here or on
// another replica) for at most the reply budget.
func (s *Server) originalAnswer(ctx context.Context, deadline time.Time, saved models.Saved) []byte {
	if saved.Status != models.StatusReceived {
		return saved.Reply
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if fl := s.inflight.get(saved.ID); fl != nil {
		select {
		case <-fl.done:
			return fl.reply
		case <-ctx.Done():
			return nil
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			ev, err := s.store.GetEvent(ctx, saved.ID)
			if err == nil && ev.Status != models.StatusReceived {
				return ev.Reply
			}
		}
	}
}

func (s *Server) answer(c *gin.Context, reply []byte) {
	if reply == nil {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", successBody)
		return
	}
	c.Data(http.StatusOK, replyContentType(reply), reply)
}
