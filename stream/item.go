package stream

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/pushgate/pushgate/models"
)

// Item is one stored event as a feed hands it out. Items are shared by every
// subscriber that receives them: treat them as read-only.
type Item struct {
	ID    int64
	Kind  string // the event's kind, e.g. "event.CLICK"
	Event *models.Event

	forms [2]itemForm // without, with the raw body
}

// itemForm is one variant of an item, rendered once: its server-sent event,
// whose data line is its JSON.
type itemForm struct {
	once  sync.Once
	frame []byte // "id: ID\nevent: KIND\ndata: JSON\n\n"
	json  []byte // frame's JSON
}

func newItem(e *models.Event) *Item { return &Item{ID: e.ID, Kind: e.Kind, Event: e} }

// JSON returns the item as the admin API's GET /v1/events/{id} shows the
// event, without its dispatch history; the raw body is included only when
// raw is true (otherwise "raw" is empty). It is rendered once per variant.
func (it *Item) JSON(raw bool) []byte { return it.form(raw).json }

// SSE returns the item as one event of a text/event-stream: "id:" its id,
// "event:" its kind, "data:" its JSON (see JSON), and the blank line that
// ends it. It is rendered once per variant and shared by every stream that
// carries it, so that a fan-out to many streams copies nothing.
func (it *Item) SSE(raw bool) []byte { return it.form(raw).frame }

func (it *Item) form(raw bool) *itemForm {
	f := &it.forms[0]
	if raw {
		f = &it.forms[1]
	}
	f.once.Do(func() {
		js := render(it.Event, raw)
		b := make([]byte, 0, len(js)+len(it.Kind)+48)
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, it.ID, 10)
		b = append(b, "\nevent: "...)
		b = append(b, it.Kind...)
		b = append(b, "\ndata: "...)
		head := len(b)
		b = append(b, js...)
		end := len(b)
		f.frame = append(b, "\n\n"...)
		f.json = f.frame[head:end:end]
	})
	return f
}

// View is the JSON form of a stored event: the admin API's GET
// /v1/events/{id} and listing show it (with the dispatch history), the
// feeds hand it out; one type, so that they cannot differ. Ids are strings:
// they are 64-bit and would lose digits as JSON numbers in JavaScript.
type View struct {
	ID         string          `json:"id"`
	Account    string          `json:"account"`
	DedupeKey  string          `json:"dedupe_key"`
	Kind       string          `json:"kind"`
	MsgType    string          `json:"msg_type"`
	Event      string          `json:"event"`
	EventKey   string          `json:"event_key"`
	FromUser   string          `json:"from_user"`
	ToUser     string          `json:"to_user"`
	CreateTime int64           `json:"create_time"`
	MsgID      string          `json:"msg_id,omitempty"`
	RequestID  string          `json:"request_id"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Duplicates int             `json:"duplicates"`
	ReceivedAt time.Time       `json:"received_at"`
	LastSeen   time.Time       `json:"last_seen"`
	HandledAt  *time.Time      `json:"handled_at"`
	LastError  string          `json:"last_error"`
	Reply      string          `json:"reply,omitempty"`
	Format     string          `json:"format"`
	Payload    json.RawMessage `json:"payload"`
	Raw        string          `json:"raw"`
	// RawSize, PayloadSize and ReplySize are the stored lengths in bytes; a
	// listing carries at most models.ListBodyCap bytes of raw and reply
	// (RawTruncated, ReplyTruncated) and leaves a longer payload out
	// (PayloadTruncated). GET /v1/events/{id} has them whole, and
	// GET /v1/events/{id}/raw the raw body as received.
	RawSize          int64 `json:"raw_size"`
	RawTruncated     bool  `json:"raw_truncated,omitempty"`
	PayloadSize      int64 `json:"payload_size"`
	PayloadTruncated bool  `json:"payload_truncated,omitempty"`
	ReplySize        int64 `json:"reply_size,omitempty"`
	ReplyTruncated   bool  `json:"reply_truncated,omitempty"`

	// AuthorizerAppID: see models.Event.AuthorizerAppID.
	AuthorizerAppID string `json:"authorizer_appid,omitempty"`
	// HTTPRequestID: see models.Event.HTTPRequestID.
	HTTPRequestID string `json:"http_request_id,omitempty"`
}

// SizeOf returns a body's stored length: listed (a listing's length of it,
// when set) or its whole length, and whether the body at hand is cut.
func SizeOf(body []byte, listed int64) (int64, bool) {
	if listed > int64(len(body)) {
		return listed, true
	}
	return int64(len(body)), false
}

// ViewOf returns the view of e, with its raw body when raw is true (the
// sizes are given either way).
func ViewOf(e *models.Event, raw bool) View {
	payload := json.RawMessage(e.Payload)
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	v := View{
		ID: strconv.FormatInt(e.ID, 10), Account: e.Account, AuthorizerAppID: e.AuthorizerAppID,
		DedupeKey: e.DedupeKey, Kind: e.Kind, MsgType: e.MsgType,
		Event: e.Event, EventKey: e.EventKey, FromUser: e.FromUser, ToUser: e.ToUser,
		CreateTime: e.CreateTime, MsgID: e.MsgID, RequestID: e.RequestID, HTTPRequestID: e.HTTPRequestID, Status: e.Status,
		Attempts: e.Attempts, Duplicates: e.Duplicates, ReceivedAt: e.ReceivedAt, LastSeen: e.LastSeen,
		HandledAt: e.HandledAt, LastError: e.LastError, Reply: string(e.Reply), Format: e.Format,
		Payload: payload,
	}
	v.RawSize, v.RawTruncated = SizeOf(e.Raw, e.RawLen)
	v.PayloadSize, v.PayloadTruncated = SizeOf(e.Payload, e.PayloadLen)
	v.ReplySize, v.ReplyTruncated = SizeOf(e.Reply, e.ReplyLen)
	if raw {
		v.Raw = string(e.Raw)
	}
	return v
}

func render(e *models.Event, raw bool) []byte {
	b, err := json.Marshal(ViewOf(e, raw))
	if err != nil { // a payload that is not JSON: keep the item, as a string
		v := ViewOf(e, raw)
		q, _ := json.Marshal(string(e.Payload))
		v.Payload = q
		b, _ = json.Marshal(v)
	}
	return b
}
