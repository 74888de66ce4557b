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

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

var successBody = []byte("success")

// verifyURL answers WeChat's URL check: echostr when the signature holds.
func (s *Server) verifyURL(c *gin.Context) {
	q := c.Request.URL.Query()
	if !validSignature(s.cfg.WeChat.Token, q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
		s.metrics.pushes.inc("unauthorized")
		plainError(c, http.StatusUnauthorized, "invalid signature")
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(q.Get("echostr")))
}

// receive takes one push: verify, read, decode, store, dispatch, answer.
func (s *Server) receive(c *gin.Context) {
	start := time.Now()
	defer func() { s.metrics.latency.observe(time.Since(start)) }()
	q := c.Request.URL.Query()
	if !validSignature(s.cfg.WeChat.Token, q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
		s.metrics.pushes.inc("unauthorized")
		plainError(c, http.StatusUnauthorized, "invalid signature")
		return
	}
	var ok bool
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.BodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.reject(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", s.cfg.BodyLimit), body)
			return
		}
		s.reject(c, http.StatusBadRequest, "reading body: "+err.Error(), body)
		return
	}
	safe := q.Get("encrypt_type") == "aes"
	if safe {
		if body, ok = s.open(c, q, body); !ok {
			return
		}
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
	format := events.DetectFormat(c.ContentType(), body)
	e, err := events.Decode(body, format)
	if err != nil {
		withdraw()
		s.reject(c, http.StatusBadRequest, err.Error(), body)
		return
	}
	payload, err := events.Marshal(e)
	if err != nil {
		withdraw()
		s.reject(c, http.StatusBadRequest, "encoding payload: "+err.Error(), body)
		return
	}
	meta := events.Describe(e)
	key := meta.DedupeKey()
	stored := time.Now()
	expected = false // SaveEvent ends the announcement
	// The row may commit even if the client goes away meanwhile, so the wait
	// does not depend on the client; it is bounded by StoreWait, after which
	// the push is answered 503 and WeChat retries. A commit that lands after
	// that is dispatched by lateSave; the retry is then a duplicate.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), s.storeWait())
	defer cancel()
	saved, err := s.store.SaveEvent(ctx, &models.NewEvent{
		DedupeKey:  key,
		Kind:       meta.Kind,
		MsgType:    meta.MsgType,
		Event:      meta.Event,
		EventKey:   meta.EventKey,
		FromUser:   meta.FromUser,
		ToUser:     meta.ToUser,
		CreateTime: meta.CreateTime,
		MsgID:      meta.MsgID,
		RequestID:  meta.RequestID,
		Format:     format.String(),
		Payload:    payload,
		Raw:        body,
		ReceivedAt: start,
		Expected:   true,
		LateFunc:   func(saved models.Saved, err error) { s.lateSave(saved, err, e) },
	})
	s.metrics.store.observe(time.Since(stored))
	if errors.Is(err, models.ErrUnstorable) {
		// It could never be stored: refuse it (and keep it, its body as
		// bytes) rather than answer 503 to every retry.
		s.reject(c, http.StatusBadRequest, "push cannot be stored: "+strings.TrimPrefix(err.Error(), "models: save event: "), body)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.metrics.pushes.inc("store_timeout")
		s.log.Warn("push not committed within the store wait; answered 503", "kind", meta.Kind, "wait", s.storeWait())
		plainError(c, http.StatusServiceUnavailable, "storage slow, retry later")
		return
	}
	if err != nil {
		s.metrics.pushes.inc("store_error")
		s.log.Error("storing push", "kind", meta.Kind, "err", err)
		plainError(c, http.StatusServiceUnavailable, "storage unavailable, retry later")
		return
	}
	if saved.Duplicate {
		s.metrics.pushes.inc("duplicate")
		s.answer(c, s.seal(safe, q, s.originalAnswer(c.Request.Context(), start.Add(s.cfg.ReplyBudget), saved)))
		return
	}
	s.metrics.pushes.inc("accepted")
	for _, o := range s.observers {
		o.Accepted(c.Request.Context(), saved.ID, e)
	}
	s.answer(c, s.seal(safe, q, s.dispatchWithinBudget(start.Add(s.cfg.ReplyBudget), saved.ID, e)))
}

// open decrypts a safe-mode push; the plaintext is what is decoded and
// stored. A wrong msg_signature is 401; anything else wrong is 400 and the
// envelope is kept as a rejected push.
func (s *Server) open(c *gin.Context, q url.Values, body []byte) ([]byte, bool) {
	if s.crypter == nil {
		s.reject(c, http.StatusBadRequest, "safe-mode (encrypt_type=aes) push, but no EncodingAESKey is configured (PUSHGATE_WECHAT_AES_KEY)", body)
		return nil, false
	}
	enc, err := envelopeEncrypt(body)
	if err == nil {
		var plain []byte
		plain, err = s.crypter.Open(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), enc)
		if err == nil {
			return plain, true
		}
		if errors.Is(err, ErrMsgSignature) {
			s.metrics.pushes.inc("unauthorized")
			plainError(c, http.StatusUnauthorized, "invalid msg_signature")
			return nil, false
		}
	}
	s.reject(c, http.StatusBadRequest, err.Error(), body)
	return nil, false
}

// seal encrypts a passive reply for a safe-mode push; "success" stays plain.
func (s *Server) seal(safe bool, q url.Values, reply []byte) []byte {
	if !safe || reply == nil || s.crypter == nil {
		return reply
	}
	return s.crypter.SealReply(reply, s.now().Unix(), q.Get("nonce"))
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
// (StoreWait): it is stored, so it is dispatched here, once; WeChat's retry
// finds it as a duplicate and gets its answer. A duplicate or a failed save
// needs nothing.
func (s *Server) lateSave(saved models.Saved, err error, e events.Event) {
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			s.log.Error("storing push (after its answer)", "err", err)
		}
		return
	}
	if saved.Duplicate {
		return
	}
	s.metrics.pushes.inc("accepted_late")
	for _, o := range s.observers {
		o.Accepted(context.Background(), saved.ID, e)
	}
	s.dispatchAsync(saved.ID, e)
}

// dispatchAsync runs the handler of a newly stored push on its own goroutine,
// in flight (see inflight) until its attempt is recorded.
func (s *Server) dispatchAsync(id int64, e events.Event) *flight {
	fl := s.inflight.start(id)
	go func() {
		var reply []byte
		defer func() { s.inflight.finish(id, fl, reply) }()
		reply = s.dispatch(context.Background(), id, e, false)
	}()
	return fl
}

// dispatchWithinBudget runs the handler for a newly stored push and returns
// its rendered reply; if the handler outlives the reply budget it answers
// nil ("success") and lets the handler finish and record its outcome.
func (s *Server) dispatchWithinBudget(deadline time.Time, id int64, e events.Event) []byte {
	fl := s.dispatchAsync(id, e)
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

// dispatch runs the handlers and records the attempt; it returns the
// rendered passive reply, nil for "success". A kind nobody handles counts
// as handled: there is nothing to do. A panic is recorded as a failure,
// whatever middleware the Mux has.
func (s *Server) dispatch(ctx context.Context, id int64, e events.Event, replay bool) []byte {
	start := s.now()
	reply, err := s.runHandler(ctx, e)
	if errors.Is(err, events.ErrNoHandler) {
		err = nil
	}
	a := models.Attempt{EventID: id, Started: start, Duration: s.now().Sub(start), Replay: replay}
	var rendered []byte
	if err != nil {
		a.Err = err.Error()
		s.metrics.dispatch.inc("failed")
	} else {
		s.metrics.dispatch.inc("handled")
		if reply != nil {
			rendered = events.Render(reply, e.Head(), s.now())
			a.Reply = rendered
		}
	}
	// A replay waits for its record; neither depends on the caller staying.
	if err := s.store.RecordAttempt(context.WithoutCancel(ctx), a, replay); err != nil {
		s.log.Error("recording attempt", "id", id, "err", err)
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
	c.Data(http.StatusOK, "application/xml; charset=utf-8", reply)
}
