package events

// The subscribe-message events (订阅消息) of official accounts (XML, the
// list wrapped in an element named after the event) and mini programs
// (JSON, where "List" is one object or an array). Every form decodes to
// the same List.

// SubscribeMsgPopup is pushed when a user answers a subscribe-message popup.
type SubscribeMsgPopup struct {
	Header
	List []SubscribeMsgPopupItem `xml:"SubscribeMsgPopupEvent>List" json:"List"`
}

// SubscribeMsgPopupItem is the answer for one template.
type SubscribeMsgPopupItem struct {
	TemplateId string `xml:"TemplateId" json:"TemplateId"`
	// SubscribeStatusString is "accept" or "reject".
	SubscribeStatusString string `xml:"SubscribeStatusString" json:"SubscribeStatusString"`
	// PopupScene is where the popup was: 1 a payment, 2 an article, 0 a
	// mini program.
	PopupScene int64 `xml:"PopupScene" json:"PopupScene"`
}

// Kind implements Event.
func (*SubscribeMsgPopup) Kind() string { return "event.subscribe_msg_popup_event" }

func (s *SubscribeMsgPopup) setField(name string, v value) (bool, error) {
	return subscribeList(&s.Header, "SubscribeMsgPopupEvent", name, v, &s.List, func(it *SubscribeMsgPopupItem, n string, f value) (bool, error) {
		switch n {
		case "TemplateId":
			return setStr(&it.TemplateId, f)
		case "SubscribeStatusString":
			return setStr(&it.SubscribeStatusString, f)
		case "PopupScene":
			return setInt(&it.PopupScene, f)
		}
		return false, nil
	})
}

// SubscribeMsgChange is pushed when a user changes a subscription in the
// settings (e.g. rejects a template later).
type SubscribeMsgChange struct {
	Header
	List []SubscribeMsgChangeItem `xml:"SubscribeMsgChangeEvent>List" json:"List"`
}

// SubscribeMsgChangeItem is the change for one template.
type SubscribeMsgChangeItem struct {
	TemplateId string `xml:"TemplateId" json:"TemplateId"`
	// SubscribeStatusString is "reject" (or "accept").
	SubscribeStatusString string `xml:"SubscribeStatusString" json:"SubscribeStatusString"`
}

// Kind implements Event.
func (*SubscribeMsgChange) Kind() string { return "event.subscribe_msg_change_event" }

func (s *SubscribeMsgChange) setField(name string, v value) (bool, error) {
	return subscribeList(&s.Header, "SubscribeMsgChangeEvent", name, v, &s.List, func(it *SubscribeMsgChangeItem, n string, f value) (bool, error) {
		switch n {
		case "TemplateId":
			return setStr(&it.TemplateId, f)
		case "SubscribeStatusString":
			return setStr(&it.SubscribeStatusString, f)
		}
		return false, nil
	})
}

// SubscribeMsgSent reports the delivery of subscribe messages.
type SubscribeMsgSent struct {
	Header
	List []SubscribeMsgSentItem `xml:"SubscribeMsgSentEvent>List" json:"List"`
}

// SubscribeMsgSentItem is the delivery of one message.
type SubscribeMsgSentItem struct {
	TemplateId string `xml:"TemplateId" json:"TemplateId"`
	// MsgID is the message's id.
	MsgID string `xml:"MsgID" json:"MsgID"`
	// ErrorCode is 0 on success.
	ErrorCode int64 `xml:"ErrorCode" json:"ErrorCode"`
	// ErrorStatus is "success" or why the delivery failed.
	ErrorStatus string `xml:"ErrorStatus" json:"ErrorStatus"`
}

// Kind implements Event.
func (*SubscribeMsgSent) Kind() string { return "event.subscribe_msg_sent_event" }

func (s *SubscribeMsgSent) setField(name string, v value) (bool, error) {
	return subscribeList(&s.Header, "SubscribeMsgSentEvent", name, v, &s.List, func(it *SubscribeMsgSentItem, n string, f value) (bool, error) {
		switch n {
		case "TemplateId":
			return setStr(&it.TemplateId, f)
		case "MsgID":
			return setStr(&it.MsgID, f)
		case "ErrorCode":
			return setInt(&it.ErrorCode, f)
		case "ErrorStatus":
			return setStr(&it.ErrorStatus, f)
		}
		return false, nil
	})
}

// subscribeList reads the list of a subscribe-message event from any of its
// forms: "List" at the top (one object or an array), or a wrapper named
// wrapper holding "List" entries (XML repeats them, JSON gives one object
// or an array), or a wrapper that is itself the array of entries.
func subscribeList[T any](h *Header, wrapper, name string, v value, dst *[]T, set func(*T, string, value) (bool, error)) (bool, error) {
	switch name {
	case "List":
		return true, readEntries(h, "List", v, dst, set)
	case wrapper:
		if v.isArray() {
			return true, readEntries(h, wrapper, v, dst, set)
		}
		return true, nested(h, wrapper, v, func(n string, f value) (bool, error) {
			if n != "List" {
				return false, nil
			}
			return true, readEntries(h, wrapper+".List", f, dst, set)
		})
	}
	return h.setField(name, v)
}
