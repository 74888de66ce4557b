// Package events is pushgate's vocabulary: one Go struct per kind of WeChat
// push, the decoder that turns an XML or JSON body into the right struct, the
// validation rules, the handler Mux that dispatches a decoded event to the
// function a developer registered, and the passive replies a handler may
// return.
//
// It knows nothing of HTTP or databases: handlers/ reads and verifies bodies,
// models/ stores them, and both speak in the types defined here.
//
// A kind names a type of push: "event.CLICK", "event.scancode_push",
// "event.servicemarket_async_api_result", "text", "image" and so on: the
// MsgType for messages, "event." plus the Event for events, "component." plus
// the InfoType for the Open Platform's authorization events (which have an
// InfoType and no MsgType). Kinds lists them all. WeCom pushes decode to the
// same types where WeCom uses the same names, with Header.AgentID set. A
// push whose kind nobody defined decodes to a *Generic that keeps every
// field.
package events
