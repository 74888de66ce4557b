package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header is what every push carries. Each event struct embeds it, so its
// fields read as e.FromUserName on any event.
type Header struct {
	// ToUserName is the receiving account: the official account's original id.
	ToUserName string `xml:"ToUserName" json:"ToUserName" validate:"required"`
	// FromUserName is the sender: a user's OpenID.
	FromUserName string `xml:"FromUserName" json:"FromUserName" validate:"required"`
	// CreateTime is the push's creation time in Unix seconds.
	CreateTime int64 `xml:"CreateTime" json:"CreateTime" validate:"required"`
	// MsgType is "event" for events, else the message type ("text", …).
	MsgType string `xml:"MsgType" json:"MsgType" validate:"required"`
	// Event names the event when MsgType is "event".
	Event string `xml:"Event,omitempty" json:"Event,omitempty" validate:"required_if=MsgType event"`
	// AgentID is the WeCom (企业微信) application a push is for; 0 on
	// official-account and mini-program pushes, which have none.
	AgentID int64 `xml:"AgentID,omitempty" json:"AgentID,omitempty"`

	// Extra holds every field the sender gave that the type does not
	// declare, by its wire name (a nested one as "Parent.Child"): a string
	// for XML text, a map for an XML element with children, the raw JSON for
	// JSON. Marshal writes them back beside the declared fields.
	Extra map[string]any `xml:"-" json:"-"`

	// format is the wire format the push was decoded from; a passive
	// reply is rendered in it (see RenderFor).
	format Format
	// lost is set while decoding when the fields do not hold all of the
	// push (see Meta.Unkept); unkept is then the hex SHA-256 of the whole
	// raw push in canonical form.
	lost   bool
	unkept string
}

// Head returns the shared header; every event has one.
func (h *Header) Head() *Header { return h }

func (h *Header) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "ToUserName":
		h.ToUserName, err = v.str()
	case "FromUserName":
		h.FromUserName, err = v.str()
	case "CreateTime":
		h.CreateTime, err = createTime(v)
	case "MsgType":
		h.MsgType, err = v.str()
	case "Event":
		h.Event, err = v.str()
	case "AgentID":
		h.AgentID, err = v.int64()
	default:
		return false, nil
	}
	return true, err
}

// headerFields are the fields that say what a push is, when, between whom,
// and (MsgId, MsgID, RequestID: its dedupe key) which message it is, and
// (InfoType) which Open Platform event it is: each may appear once, else
// the push is refused, since which copy counts would be a guess (two
// <Event> elements could be CLICK and unsubscribe; two MsgID elements
// would key the push by the last, merging it with another push).
var headerFields = []string{"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "MsgId", "MsgID", "RequestID", "InfoType"}

// MaxCreateTime is the latest CreateTime accepted: WeChat's are Unix
// seconds in 32 bits.
const MaxCreateTime = 1<<32 - 1

// createTime reads CreateTime: Unix seconds written as digits only (no
// sign), from 1 to MaxCreateTime; empty is zero, which validation refuses.
func createTime(v value) (int64, error) {
	s, err := v.number()
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%w, got %q", errNotNumber, s)
	}
	if err != nil || s[0] == '+' || s[0] == '-' || n < 1 || n > MaxCreateTime {
		return 0, fmt.Errorf("must be Unix seconds from 1 to %d, written without a sign, got %q", MaxCreateTime, s)
	}
	return n, nil
}

// keep records a field the type does not declare.
func (h *Header) keep(name string, v value) {
	if h.Extra == nil {
		h.Extra = make(map[string]any, 2)
	}
	kept := v.keep()
	switch prev := h.Extra[name].(type) {
	case nil:
		h.Extra[name] = kept
	case []any:
		h.Extra[name] = append(prev, kept)
	default:
		h.Extra[name] = []any{prev, kept}
	}
}

// Keyed is the header of events that carry an EventKey: menu events,
// subscribe, SCAN.
type Keyed struct {
	Header
	// EventKey is the menu key, the jump URL (VIEW), or the QR scene
	// ("qrscene_…" on subscribe).
	EventKey string `xml:"EventKey" json:"EventKey"`
}

func (k *Keyed) setField(name string, v value) (bool, error) {
	if name == "EventKey" {
		var err error
		k.EventKey, err = v.str()
		return true, err
	}
	return k.Header.setField(name, v)
}

// Key returns the EventKey.
func (k *Keyed) Key() string { return k.EventKey }

// Message is the header of a user message (MsgType text, image, …).
type Message struct {
	Header
	// MsgId is WeChat's 64-bit message id; pushgate dedupes by it.
	MsgId int64 `xml:"MsgId" json:"MsgId" validate:"required"`
}

func (m *Message) setField(name string, v value) (bool, error) {
	if name == "MsgId" {
		var err error
		m.MsgId, err = v.int64()
		return true, err
	}
	return m.Header.setField(name, v)
}

// nested reads the members of a nested element (ScanCodeInfo, …): set
// handles the ones the type declares; the rest are kept on h as
// "parent.name".
//
// A declared member whose element repeats and that set does not read as a
// list keeps one copy only: h is then marked as not holding all of the push.
func nested(h *Header, parent string, v value, set func(name string, v value) (bool, error)) error {
	rep := repeatedTags(v.el)
	var listed bool
	return v.fields(func(name string, f value) error {
		repeated := rep != nil && rep[name]
		if repeated {
			listed, f.listed = false, &listed
		}
		ok, err := set(name, f)
		if err != nil {
			return fieldError(parent+"."+name, err)
		}
		if !ok {
			h.keep(parent+"."+name, f)
		} else if repeated && !listed {
			h.lost = true
		}
		return nil
	})
}

func fieldError(name string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		return fe
	}
	return &FieldError{Field: name, Reason: strings.TrimPrefix(err.Error(), "json: ")}
}
