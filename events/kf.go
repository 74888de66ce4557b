package events

// Customer-service (客服) session events.

// KfCreateSession is pushed when a customer-service agent takes a session.
type KfCreateSession struct {
	Header
	// KfAccount is the agent's account ("name@account").
	KfAccount string `xml:"KfAccount" json:"KfAccount" validate:"required"`
}

// Kind implements Event.
func (*KfCreateSession) Kind() string { return "event.kf_create_session" }

func (k *KfCreateSession) setField(name string, v value) (bool, error) {
	if name == "KfAccount" {
		return setStr(&k.KfAccount, v)
	}
	return k.Header.setField(name, v)
}

// KfCloseSession is pushed when a customer-service agent closes a session.
type KfCloseSession struct {
	Header
	// KfAccount is the agent's account ("name@account").
	KfAccount string `xml:"KfAccount" json:"KfAccount" validate:"required"`
}

// Kind implements Event.
func (*KfCloseSession) Kind() string { return "event.kf_close_session" }

func (k *KfCloseSession) setField(name string, v value) (bool, error) {
	if name == "KfAccount" {
		return setStr(&k.KfAccount, v)
	}
	return k.Header.setField(name, v)
}

// KfSwitchSession is pushed when a session passes from one agent to another.
type KfSwitchSession struct {
	Header
	FromKfAccount string `xml:"FromKfAccount" json:"FromKfAccount" validate:"required"`
	ToKfAccount   string `xml:"ToKfAccount" json:"ToKfAccount" validate:"required"`
}

// Kind implements Event.
func (*KfSwitchSession) Kind() string { return "event.kf_switch_session" }

func (k *KfSwitchSession) setField(name string, v value) (bool, error) {
	switch name {
	case "FromKfAccount":
		return setStr(&k.FromKfAccount, v)
	case "ToKfAccount":
		return setStr(&k.ToKfAccount, v)
	}
	return k.Header.setField(name, v)
}

// UserEnterTempsession is pushed when a user opens the customer-service
// session of a mini program.
type UserEnterTempsession struct {
	Header
	// SessionFrom is the session-from parameter of the contact button.
	SessionFrom string `xml:"SessionFrom" json:"SessionFrom"`
}

// Kind implements Event.
func (*UserEnterTempsession) Kind() string { return "event.user_enter_tempsession" }

func (u *UserEnterTempsession) setField(name string, v value) (bool, error) {
	if name == "SessionFrom" {
		return setStr(&u.SessionFrom, v)
	}
	return u.Header.setField(name, v)
}
