package events

import (
	"slices"
	"strings"
)

// Event is a decoded push. Every type in this package is one; Kind names
// it, Head returns the shared header. The set is closed: a push no type
// declares decodes to *Generic.
type Event interface {
	// Kind is the stable name of the type: "event.CLICK", "text", ….
	Kind() string
	// Head returns the header every push carries.
	Head() *Header

	setField(name string, v value) (bool, error)
}

// constructors lists every declared type; the registry is built from it.
var constructors = []func() Event{
	func() Event { return new(Click) },
	func() Event { return new(View) },
	func() Event { return new(ScanCodePush) },
	func() Event { return new(ScanCodeWaitMsg) },
	func() Event { return new(PicSysPhoto) },
	func() Event { return new(PicPhotoOrAlbum) },
	func() Event { return new(PicWeixin) },
	func() Event { return new(LocationSelect) },
	func() Event { return new(Subscribe) },
	func() Event { return new(Unsubscribe) },
	func() Event { return new(Scan) },
	func() Event { return new(Location) },
	func() Event { return new(TemplateSendJobFinish) },
	func() Event { return new(AsyncAPIResult) },
	func() Event { return new(TextMessage) },
	func() Event { return new(ImageMessage) },
	func() Event { return new(VoiceMessage) },
	func() Event { return new(VideoMessage) },
	func() Event { return new(ShortVideoMessage) },
	func() Event { return new(LocationMessage) },
	func() Event { return new(LinkMessage) },
	func() Event { return new(MiniprogramPageMessage) },
	func() Event { return new(MassSendJobFinish) },
	func() Event { return new(PublishJobFinish) },
	func() Event { return new(ViewMiniprogram) },
	func() Event { return new(SubscribeMsgPopup) },
	func() Event { return new(SubscribeMsgChange) },
	func() Event { return new(SubscribeMsgSent) },
	func() Event { return new(WxaMediaCheck) },
	func() Event { return new(KfCreateSession) },
	func() Event { return new(KfCloseSession) },
	func() Event { return new(KfSwitchSession) },
	func() Event { return new(UserEnterTempsession) },
	func() Event { return new(WeappAuditSuccess) },
	func() Event { return new(WeappAuditFail) },
	func() Event { return new(WeappAuditDelay) },
	func() Event { return new(QualificationVerifySuccess) },
	func() Event { return new(QualificationVerifyFail) },
	func() Event { return new(NamingVerifySuccess) },
	func() Event { return new(NamingVerifyFail) },
	func() Event { return new(CardPassCheck) },
	func() Event { return new(UserGetCard) },
	func() Event { return new(UserDelCard) },
	func() Event { return new(ComponentVerifyTicket) },
	func() Event { return new(Authorized) },
	func() Event { return new(UpdateAuthorized) },
	func() Event { return new(Unauthorized) },
	func() Event { return new(FastRegister) },
	func() Event { return new(ChangeContact) },
	func() Event { return new(ChangeExternalContact) },
	func() Event { return new(EnterAgent) },
}

// registry maps a kind, and its lower-case form (WeChat is not consistent
// about the case of event names), to its constructor.
var registry = func() map[string]func() Event {
	m := make(map[string]func() Event, 2*len(constructors))
	for _, c := range constructors {
		kind := c().Kind()
		if _, dup := m[kind]; dup {
			panic("events: kind " + kind + " declared twice")
		}
		m[kind] = c
		m[strings.ToLower(kind)] = c
	}
	return m
}()

// Kinds lists every declared kind, sorted. KindUnknown is not among them.
func Kinds() []string {
	kinds := make([]string, 0, len(constructors))
	for _, c := range constructors {
		kinds = append(kinds, c().Kind())
	}
	slices.Sort(kinds)
	return kinds
}

// KindOf returns the kind a push with this MsgType and Event has: "event."
// plus the Event for events, the MsgType for messages. It does not say
// whether the kind is declared; New does.
func KindOf(msgType, event string) string {
	if msgType == "event" {
		return "event." + event
	}
	return msgType
}

// New returns a zero event of the declared type for the kind (matched
// exactly, else ignoring case), or a *Generic and false.
func New(kind string) (Event, bool) {
	if c, ok := registry[kind]; ok {
		return c(), true
	}
	if c, ok := registry[strings.ToLower(kind)]; ok {
		return c(), true
	}
	return new(Generic), false
}
