package events

// KindUnknown is the kind of a push whose MsgType/Event no type declares.
const KindUnknown = "unknown"

// Generic is a push of a kind pushgate does not declare. Nothing is lost:
// the header fields are parsed and every other field is kept in Extra.
// Register a handler for it with Handle like any other type, or use
// Mux.Fallback.
type Generic struct{ Header }

// Kind implements Event.
func (*Generic) Kind() string { return KindUnknown }
