package events

import "encoding/json"

// KindUnknown is the kind of a push whose MsgType/Event no type declares.
const KindUnknown = "unknown"

// Generic is a push of a kind pushgate does not declare. Nothing is lost:
// the header fields are parsed and every other field is kept in Extra.
// Register a handler for it with Handle like any other type, or use
// Mux.Fallback.
type Generic struct{ Header }

// Kind implements Event.
func (*Generic) Kind() string { return KindUnknown }

// MarshalJSON writes the header fields; for a Generic of the Open Platform
// shape (see IsComponent), which has no ToUserName, FromUserName or
// MsgType, only CreateTime, so that its payload holds what was sent.
func (g *Generic) MarshalJSON() ([]byte, error) {
	if !g.componentShaped() {
		return json.Marshal(&g.Header)
	}
	return json.Marshal(struct {
		CreateTime int64 `json:"CreateTime,omitempty"`
	}{g.CreateTime})
}
