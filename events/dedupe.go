package events

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Meta is what pushgate indexes a push by, read off any event.
type Meta struct {
	Kind, MsgType, Event, EventKey string
	FromUser, ToUser               string
	CreateTime                     int64
	// MsgID is the message id (MsgId, or MsgID on TEMPLATESENDJOBFINISH),
	// "" when the push has none.
	MsgID string
	// RequestID is the async request id of a service-market result.
	RequestID string
}

// Describe reads e's Meta.
func Describe(e Event) Meta {
	h := e.Head()
	m := Meta{
		Kind:       e.Kind(),
		MsgType:    h.MsgType,
		Event:      h.Event,
		FromUser:   h.FromUserName,
		ToUser:     h.ToUserName,
		CreateTime: h.CreateTime,
	}
	switch e := e.(type) {
	case interface{ Key() string }:
		m.EventKey = e.Key()
	case *AsyncAPIResult:
		m.RequestID = e.RequestID
	case *TemplateSendJobFinish:
		if e.MsgID != 0 {
			m.MsgID = strconv.FormatInt(e.MsgID, 10)
		}
	case *Generic:
		m.EventKey = extraText(h.Extra["EventKey"])
		m.MsgID = extraText(h.Extra["MsgId"])
		m.RequestID = extraText(h.Extra["RequestID"])
	}
	if msg, ok := e.(interface{ messageID() int64 }); ok {
		m.MsgID = strconv.FormatInt(msg.messageID(), 10)
	}
	if d, ok := e.(describer); ok {
		d.describe(&m)
	}
	return m
}

func (m *Message) messageID() int64 { return m.MsgId }

// extraText reads a kept field as text: an XML text, or a JSON string or
// number ("" for anything else).
func extraText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.RawMessage:
		s, err := value{raw: v}.str()
		if err != nil {
			return ""
		}
		return s
	}
	return ""
}

// DedupeKey is the key under which WeChat's retries of one push collide:
// "m:" and the MsgId when there is one; "r:" and the RequestID for async
// results; else "t:" and CreateTime|ToUserName|FromUserName|MsgType|Event|
// EventKey, as WeChat recommends. The time leads, so keys of pushes that
// arrive together sort together.
func (m Meta) DedupeKey() string {
	switch {
	case m.MsgID != "":
		return "m:" + m.MsgID
	case m.RequestID != "":
		return "r:" + m.RequestID
	}
	var b strings.Builder
	b.Grow(24 + len(m.ToUser) + len(m.FromUser) + len(m.MsgType) + len(m.Event) + len(m.EventKey))
	b.WriteString("t:")
	b.WriteString(strconv.FormatInt(m.CreateTime, 10))
	for _, s := range [...]string{m.ToUser, m.FromUser, m.MsgType, m.Event, m.EventKey} {
		b.WriteByte('|')
		b.WriteString(s)
	}
	return b.String()
}
