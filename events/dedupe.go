package events

import (
	"crypto/sha256"
	"encoding/hex"
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
	// Unkept is "" when the decoded push holds all of what was sent. When
	// it does not (a declared field whose element or JSON key repeats
	// keeps one copy; XML text around processing instructions or child
	// elements, attributes, namespace prefixes), it is the hex SHA-256 of the whole raw push in
	// canonical form, and DedupeKey covers it: two pushes that differ only
	// in what decoding dropped are two events.
	Unkept string
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
		Unkept:     h.unkept,
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

// DefaultAccount is the name of the account the /wechat route serves, and
// of the account the PUSHGATE_WECHAT_* settings configure.
const DefaultAccount = "default"

// DedupeKey is the key under which the platform's retries of one push,
// arrived for account, collide, and under which two pushes that differ in
// any field never do:
//
//   - "m:" and the MsgId when the push is a message that has one;
//   - "e:", the Event, ":" and the MsgID (MsgId) when an event has one
//     (TEMPLATESENDJOBFINISH, MASSSENDJOBFINISH): each is counted apart
//     from users' messages and from the other kinds' ids;
//   - "r:" and the RequestID of an async result;
//   - else "d:", the CreateTime as 10 digits, ":" and the hex SHA-256 of
//     the whole decoded push (see [Digest]), and, for a push that decoding
//     did not hold whole (see Meta.Unkept), of the whole raw push too.
//
// payload is the push as [Marshal] encodes it. A retry re-sends the same
// message, so it gets the same key however its elements are ordered and
// however it is encrypted. The CreateTime leads digest keys so that keys of
// pushes that arrive together sort together: the unique index then inserts
// at its end. Keys of an account other than [DefaultAccount] are the
// account's name, "/" and the key.
func (m Meta) DedupeKey(account string, payload []byte) string {
	var b []byte
	if account != DefaultAccount && account != "" {
		b = make([]byte, 0, len(account)+1+77)
		b = append(b, account...)
		b = append(b, '/')
	}
	switch {
	case m.MsgID != "" && m.message():
		return string(append(append(b, "m:"...), m.MsgID...))
	case m.MsgID != "" && !strings.Contains(m.Event, ":"):
		b = append(append(b, "e:"...), m.Event...)
		return string(append(append(b, ':'), m.MsgID...))
	case m.RequestID != "":
		return string(append(append(b, "r:"...), m.RequestID...))
	}
	if b == nil {
		b = make([]byte, 0, 77)
	}
	b = append(b, "d:"...)
	b = appendPadded(b, m.CreateTime, 10)
	b = append(b, ':')
	var sum [sha256.Size]byte
	if m.Unkept == "" {
		sum = Digest(payload)
	} else {
		h := sha256.New()
		h.Write(canonical(payload))
		h.Write([]byte("\x00unkept:"))
		h.Write([]byte(m.Unkept))
		h.Sum(sum[:0])
	}
	b = hex.AppendEncode(b, sum[:])
	return string(b)
}

// message reports whether the push is a user's message (MsgType other than
// "event"; Open Platform events have none), whose MsgId is WeChat's
// message id.
func (m Meta) message() bool { return m.MsgType != "" && m.MsgType != "event" }

// LegacyIDKey is the key versions before events' ids had key spaces of
// their own stored an event that has a MsgID under ("m:" and the MsgID,
// after account's prefix, as DedupeKey writes it); "" for any other push,
// whose key did not change. The store looks rows up by it, and takes one
// with the same payload or raw body for the push's original, so that a
// retry of an event stored before the upgrade is recognised and a message
// that shares the number is not taken for it.
func (m Meta) LegacyIDKey(account string) string {
	if m.MsgID == "" || m.message() || strings.Contains(m.Event, ":") {
		return ""
	}
	var b []byte
	if account != DefaultAccount && account != "" {
		b = append(append(b, account...), '/')
	}
	return string(append(append(b, "m:"...), m.MsgID...))
}

// LegacyUnkeptKey is the key versions before Meta.Unkept stored a push
// that decoding did not hold whole under: its DedupeKey without the raw
// push's part; "" for any other push, or one whose key has no such part.
// The store looks rows up by it and takes one with the same raw body for
// the push's original (distinct such pushes share their payload), so that
// a retry of such a push stored before the upgrade is recognised.
func (m Meta) LegacyUnkeptKey(account string, payload []byte) string {
	if m.Unkept == "" {
		return ""
	}
	key := m.DedupeKey(account, payload)
	m.Unkept = ""
	if old := m.DedupeKey(account, payload); old != key {
		return old
	}
	return ""
}

// appendPadded appends n in decimal, zero-padded to width digits when it is
// not negative.
func appendPadded(b []byte, n int64, width int) []byte {
	if n >= 0 {
		for d, p := 1, int64(10); d < width; d, p = d+1, p*10 {
			if n < p {
				for range width - d {
					b = append(b, '0')
				}
				break
			}
		}
	}
	return strconv.AppendInt(b, n, 10)
}

// LegacyKey is the dedupe key of pushgate versions before the whole-push
// digest, for a push without MsgId or RequestID: "t:" and CreateTime,
// ToUserName, FromUserName, MsgType, Event and EventKey joined with "|". It
// merged distinct pushes; the store still looks rows up by it so that a
// retry of a push stored before an upgrade is recognised. "" when the push
// has a MsgId or RequestID (their keys did not change), except a
// MASSSENDJOBFINISH: its MsgID was not read before it had a type, so it
// was keyed by the six fields. "" too for a push decoding did not hold
// whole (Meta.Unkept): the row found under the legacy key is taken for its
// original when it has the same payload, and distinct such pushes share
// their payload.
func (m Meta) LegacyKey() string {
	if (m.MsgID != "" && m.Event != "MASSSENDJOBFINISH") || m.RequestID != "" || m.Unkept != "" {
		return ""
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
