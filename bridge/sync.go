package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/pushgate/pushgate/models"
)

// task is one op on its way: its pending request and its process.
type task struct {
	id   string // the pending request's id: the capability in the callback URL
	conv string
	url  string
	data json.RawMessage
}

// Sync runs a sync request (seed 001): for each op it records a pending
// request with an unguessable id, POSTs the op's data plus "__callback_url"
// to the op's process, and waits until the process posts its answer there or
// the timeout passes. It returns the response and its HTTP status:
//
//   - 200: one OpResult per op, in order: "ok" with the answer as data, or
//     "error" with a description ("Timeout for create task" when the
//     request's timeout passed, or why the process could not be reached);
//   - 202: async mode (NotifyURL set): "processing" ops with their request
//     ids; the final answer goes to NotifyURL through the Notifier, also if
//     this replica stops meanwhile (see Sweep);
//   - 400: req is invalid (Error says why; the error wraps ErrInvalidRequest);
//   - 504: req gave no timeout and the default one passed;
//   - 500 or 503: the store failed, or the Bridge is closing.
func (b *Bridge) Sync(ctx context.Context, req SyncRequest) (resp SyncResponse, status int) {
	mode := "sync"
	if req.NotifyURL != "" {
		mode = "async"
	}
	defer func() { b.syncs.WithLabelValues(mode, strconv.Itoa(status)).Inc() }()
	tasks, err := b.validate(&req)
	if err != nil {
		return SyncResponse{Error: err.Error()}, http.StatusBadRequest
	}
	if b.ctx.Err() != nil {
		return SyncResponse{Error: "shutting down"}, http.StatusServiceUnavailable
	}
	wait := req.Timeout
	if wait == 0 {
		wait = b.defaultTimeout
	}
	if req.NotifyURL != "" {
		return b.async(ctx, req.NotifyURL, tasks, wait)
	}
	if err := b.register(ctx, tasks, wait); err != nil {
		b.log.Error("bridge: recording a sync request failed", "err", err)
		return SyncResponse{Error: "could not record the request"}, http.StatusInternalServerError
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ops, timedOut := b.runTasks(wctx, tasks)
	switch {
	case b.ctx.Err() != nil:
		return SyncResponse{Error: "shutting down"}, http.StatusServiceUnavailable
	case timedOut && req.Timeout == 0:
		return SyncResponse{Error: fmt.Sprintf("gateway timeout: no answer within %s", wait)}, http.StatusGatewayTimeout
	}
	return SyncResponse{RequestProc: ProcOK, Ops: ops}, http.StatusOK
}

// register gives each task of a sync-mode request an id and stores its
// pending request. The ids are 128-bit random (crypto/rand.Text: 26 base32
// characters). Nothing else is durable in sync mode: the caller waits on its
// connection, and a replica that stops drops it.
func (b *Bridge) register(ctx context.Context, tasks []*task, wait time.Duration) error {
	now := b.now()
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		t.id = rand.Text()
		p := &models.PendingRequest{
			ID: t.id, ConvID: t.conv, TargetURL: t.url,
			CreatedAt: now, Deadline: now.Add(wait), ResultValidity: b.validity,
		}
		// Concurrent creations share one group commit.
		wg.Go(func() { errs[i] = b.store.CreatePendingRequest(ctx, p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runTasks runs every task concurrently until ctx ends and returns their
// outcomes in order, and whether any timed out.
func (b *Bridge) runTasks(ctx context.Context, tasks []*task) ([]OpResult, bool) {
	ops := make([]OpResult, len(tasks))
	timedOut := make([]bool, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Go(func() { ops[i], timedOut[i] = b.runTask(ctx, t) })
	}
	wg.Wait()
	for _, t := range timedOut {
		if t {
			b.timeouts.Inc()
		}
	}
	return ops, slices.Contains(timedOut, true)
}

// runTask hands t to its process and waits for the answer until ctx ends.
func (b *Bridge) runTask(ctx context.Context, t *task) (op OpResult, timedOut bool) {
	ctx, span := b.span(ctx, "sync.task")
	defer func() {
		if timedOut {
			failSpan(span, "timed out")
		} else if op.Proc == ProcError {
			failSpan(span, op.Description)
		}
		span.End()
	}()
	if err := b.post(ctx, t); err != nil && ctx.Err() == nil {
		if res, answered := b.closeRequest(t.id, models.RequestFailed); answered {
			return answerOp(res), false
		}
		return OpResult{Proc: ProcError, Description: "Error for create task: " + err.Error()}, false
	}
	res, err := b.Await(ctx, t.id)
	switch {
	case err == nil:
		return answerOp(res), false
	case ctx.Err() != nil:
		if res, answered := b.closeRequest(t.id, models.RequestTimedOut); answered {
			return answerOp(res), false // the answer won the race with the deadline
		}
		return OpResult{Proc: ProcError, Description: timeoutDescription}, true
	}
	return OpResult{Proc: ProcError, Description: "Error for create task: " + err.Error()}, false
}

func answerOp(r *Result) OpResult { return OpResult{Proc: ProcOK, Data: r.Value()} }

// closeRequest marks request id closed with status, unless it was answered
// meanwhile: then it returns the answer and true.
func (b *Bridge) closeRequest(id, status string) (*Result, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	closed, err := b.store.ClosePendingRequest(ctx, id, status)
	if err != nil {
		b.log.Warn("bridge: closing a sync request failed", "status", status, "err", err)
		return nil, false
	}
	if closed {
		return nil, false
	}
	res, err := b.store.GetResult(ctx, id)
	return res, err == nil
}

// post sends t's data plus its "__callback_url" to its process. Any 2xx
// answer means the process took the task.
func (b *Bridge) post(ctx context.Context, t *task) error {
	body, err := withCallback(t.data, b.callbackBase+t.id)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := b.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the process's URL is configuration, not the caller's business
		}
		return fmt.Errorf("process unreachable: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("process answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// withCallback returns the object data with "__callback_url" set to callback.
func withCallback(data json.RawMessage, callback string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, errors.New("task data is not a JSON object")
	}
	cb, err := marshalVerbatim(callback)
	if err != nil {
		return nil, err
	}
	m["__callback_url"] = cb
	return marshalVerbatim(m)
}

// marshalVerbatim is json.Marshal without escaping <, > and &.
func marshalVerbatim(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
