package events

// The official-account events that are not menu events.

// Subscribe is pushed when a user follows the account; after scanning a
// parameterised QR code EventKey is "qrscene_<scene>" and Ticket is set.
type Subscribe struct {
	Keyed
	// Ticket can be exchanged for the QR code's image.
	Ticket string `xml:"Ticket,omitempty" json:"Ticket,omitempty"`
}

// Kind implements Event.
func (*Subscribe) Kind() string { return "event.subscribe" }

func (s *Subscribe) setField(name string, v value) (bool, error) {
	if name == "Ticket" {
		var err error
		s.Ticket, err = v.str()
		return true, err
	}
	return s.Keyed.setField(name, v)
}

// Unsubscribe is pushed when a user unfollows the account.
type Unsubscribe struct{ Keyed }

// Kind implements Event.
func (*Unsubscribe) Kind() string { return "event.unsubscribe" }

// Scan is pushed when a user who already follows the account scans one of
// its parameterised QR codes; EventKey is the scene.
type Scan struct {
	Keyed
	// Ticket can be exchanged for the QR code's image.
	Ticket string `xml:"Ticket,omitempty" json:"Ticket,omitempty"`
}

// Kind implements Event.
func (*Scan) Kind() string { return "event.SCAN" }

func (s *Scan) setField(name string, v value) (bool, error) {
	if name == "Ticket" {
		var err error
		s.Ticket, err = v.str()
		return true, err
	}
	return s.Keyed.setField(name, v)
}

// Location is the position a user's client reports when the account asks
// for it (on entering a session, or every 5 seconds).
type Location struct {
	Header
	Latitude  float64 `xml:"Latitude" json:"Latitude"`
	Longitude float64 `xml:"Longitude" json:"Longitude"`
	Precision float64 `xml:"Precision" json:"Precision"`
}

// Kind implements Event.
func (*Location) Kind() string { return "event.LOCATION" }

func (l *Location) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Latitude":
		l.Latitude, err = v.float64()
	case "Longitude":
		l.Longitude, err = v.float64()
	case "Precision":
		l.Precision, err = v.float64()
	default:
		return l.Header.setField(name, v)
	}
	return true, err
}

// TemplateSendJobFinish reports the fate of a template message.
type TemplateSendJobFinish struct {
	Header
	// MsgID is the template message's id (WeChat spells it MsgID here).
	MsgID int64 `xml:"MsgID" json:"MsgID"`
	// Status is "success", "failed:user block" or "failed: system failed".
	Status string `xml:"Status" json:"Status" validate:"required"`
}

// Kind implements Event.
func (*TemplateSendJobFinish) Kind() string { return "event.TEMPLATESENDJOBFINISH" }

func (t *TemplateSendJobFinish) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "MsgID":
		t.MsgID, err = v.int64()
	case "Status":
		t.Status, err = v.str()
	default:
		return t.Header.setField(name, v)
	}
	return true, err
}
