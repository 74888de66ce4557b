package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"
)

// SyncRequest is a request to the sync API, seed 001's body:
//
//	{"timeout": 30, "ops": [{"type": "create", "obj": "task", "conv_id": 42, "data": {"param": 1}}]}
//
// plus pushgate's "notify_url", which switches to async mode.
type SyncRequest struct {
	// Timeout is how long to wait for the answers. Zero means the caller gave
	// none: the configured default applies, and running out answers 504.
	Timeout time.Duration
	// NotifyURL, when set, makes the request asynchronous: it is answered 202
	// at once and the final answer is delivered to NotifyURL.
	NotifyURL string
	// Ops are the tasks to create, answered in order.
	Ops []Op
}

// Op is one operation of a sync request: create a task in process ConvID.
type Op struct {
	Type   string          // must be "create"
	Obj    string          // must be "task"
	ConvID string          // the process id, decimal digits
	Data   json.RawMessage // the task's parameters, a JSON object
}

// SyncResponse is the answer to a sync request. A 200 (or the notification of
// an async request) has RequestProc "ok" and one OpResult per op, in order; a
// 400, 503 or 504 has Error only.
type SyncResponse struct {
	RequestProc string     `json:"request_proc,omitempty"`
	Ops         []OpResult `json:"ops,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// OpResult is the outcome of one op. Proc is "ok" with the process's answer in
// Data, "error" with Description, or (async mode's first answer) "processing".
// RequestID is set in async mode only: the id under which GET /v1/results
// serves the op's answer.
type OpResult struct {
	Proc        string          `json:"proc"`
	Data        json.RawMessage `json:"data,omitempty"`
	Description string          `json:"description,omitempty"`
	RequestID   string          `json:"request_id,omitempty"`
}

// Proc values of an OpResult.
const (
	ProcOK         = "ok"
	ProcError      = "error"
	ProcProcessing = "processing"
)

// timeoutDescription is seed 001's description of an op that got no answer in time.
const timeoutDescription = "Timeout for create task"

// DecodeSyncRequest decodes a sync API body. Every error wraps ErrInvalidRequest
// and says which field is wrong.
func DecodeSyncRequest(body []byte) (SyncRequest, error) {
	var req SyncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return SyncRequest{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return req, nil
}

// UnmarshalJSON decodes seed 001's body: timeout in seconds (a positive
// number), conv_id as a number or a numeric string, data an object. Unknown
// fields are ignored.
func (r *SyncRequest) UnmarshalJSON(b []byte) error {
	var w struct {
		Timeout   json.RawMessage   `json:"timeout"`
		NotifyURL string            `json:"notify_url"`
		Ops       []json.RawMessage `json:"ops"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("body must be a JSON object with an ops array: %w", err)
	}
	*r = SyncRequest{NotifyURL: w.NotifyURL}
	if len(w.Timeout) > 0 && string(w.Timeout) != "null" {
		secs, err := strconv.ParseFloat(string(w.Timeout), 64)
		if err != nil || w.Timeout[0] == '"' || math.IsInf(secs, 0) || secs <= 0 || secs > 1e6 {
			return fmt.Errorf("timeout must be a positive number of seconds, got %s", w.Timeout)
		}
		r.Timeout = time.Duration(secs * float64(time.Second))
	}
	r.Ops = make([]Op, len(w.Ops))
	for i, raw := range w.Ops {
		if err := r.Ops[i].decode(raw); err != nil {
			return fmt.Errorf("ops[%d]: %w", i, err)
		}
	}
	return nil
}

// decode reads one op; only the wire format is checked here (see validate).
func (o *Op) decode(raw json.RawMessage) error {
	var w struct {
		Type   string          `json:"type"`
		Obj    string          `json:"obj"`
		ConvID json.RawMessage `json:"conv_id"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return fmt.Errorf("must be an object with string type and obj: %w", err)
	}
	conv := w.ConvID
	if len(conv) > 0 && conv[0] == '"' {
		var s string
		if err := json.Unmarshal(conv, &s); err != nil {
			return fmt.Errorf("conv_id: %w", err)
		}
		conv = []byte(s)
	}
	id, ok := normaliseConvID(string(conv))
	if !ok {
		return fmt.Errorf("conv_id must be a number or a numeric string, got %s", orMissing(w.ConvID))
	}
	*o = Op{Type: w.Type, Obj: w.Obj, ConvID: id, Data: w.Data}
	return nil
}

// normaliseConvID returns a conv_id's canonical decimal form.
func normaliseConvID(s string) (string, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

func orMissing(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	return string(raw)
}

// validate checks req against the configuration and returns a task per op,
// its process resolved (ids not yet assigned). Every error wraps ErrInvalidRequest.
func (b *Bridge) validate(req *SyncRequest) ([]*task, error) {
	bad := func(format string, args ...any) ([]*task, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case len(req.Ops) == 0:
		return bad("ops must hold at least one operation")
	case len(req.Ops) > b.maxOps:
		return bad("at most %d ops per request, got %d", b.maxOps, len(req.Ops))
	case req.Timeout < 0:
		return bad("timeout must be positive")
	case req.Timeout > b.maxTimeout:
		return bad("timeout must not exceed %g seconds", b.maxTimeout.Seconds())
	}
	if req.NotifyURL != "" {
		if b.notifier == nil {
			return bad("notify_url needs notifications, which are not enabled on this server")
		}
		if u, err := url.Parse(req.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("notify_url must be an http or https URL")
		}
	}
	tasks := make([]*task, len(req.Ops))
	for i, op := range req.Ops {
		switch {
		case op.Type != "create":
			return bad(`ops[%d].type must be "create", got %q`, i, op.Type)
		case op.Obj != "task":
			return bad(`ops[%d].obj must be "task", got %q`, i, op.Obj)
		case !isObject(op.Data):
			return bad("ops[%d].data must be a JSON object", i)
		}
		conv, ok := normaliseConvID(op.ConvID)
		if !ok {
			return bad("ops[%d].conv_id must be a number, got %q", i, op.ConvID)
		}
		target, ok := b.targets[conv]
		if !ok {
			return bad("ops[%d].conv_id %s: no process is configured for it", i, conv)
		}
		tasks[i] = &task{conv: conv, url: target, data: op.Data}
	}
	return tasks, nil
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}
