package events

// Mini-program code audits and account verification (认证) results.

// WeappAuditSuccess is pushed when a mini program's code passes its audit.
type WeappAuditSuccess struct {
	Header
	// SuccTime is when it passed, in Unix seconds.
	SuccTime int64 `xml:"SuccTime" json:"SuccTime" validate:"required"`
}

// Kind implements Event.
func (*WeappAuditSuccess) Kind() string { return "event.weapp_audit_success" }

func (w *WeappAuditSuccess) setField(name string, v value) (bool, error) {
	if name == "SuccTime" {
		return setInt(&w.SuccTime, v)
	}
	return w.Header.setField(name, v)
}

// WeappAuditFail is pushed when a mini program's code fails its audit.
type WeappAuditFail struct {
	Header
	Reason string `xml:"Reason" json:"Reason" validate:"required"`
	// FailTime is when it failed, in Unix seconds.
	FailTime int64 `xml:"FailTime" json:"FailTime" validate:"required"`
	// ScreenShot lists media ids of screenshots, separated by "|".
	ScreenShot string `xml:"ScreenShot,omitempty" json:"ScreenShot,omitempty"`
}

// Kind implements Event.
func (*WeappAuditFail) Kind() string { return "event.weapp_audit_fail" }

func (w *WeappAuditFail) setField(name string, v value) (bool, error) {
	switch name {
	case "Reason":
		return setStr(&w.Reason, v)
	case "FailTime":
		return setInt(&w.FailTime, v)
	case "ScreenShot":
		return setStr(&w.ScreenShot, v)
	}
	return w.Header.setField(name, v)
}

// WeappAuditDelay is pushed when a mini program's audit is delayed.
type WeappAuditDelay struct {
	Header
	Reason string `xml:"Reason" json:"Reason"`
	// DelayTime is when it was delayed, in Unix seconds.
	DelayTime int64 `xml:"DelayTime" json:"DelayTime" validate:"required"`
}

// Kind implements Event.
func (*WeappAuditDelay) Kind() string { return "event.weapp_audit_delay" }

func (w *WeappAuditDelay) setField(name string, v value) (bool, error) {
	switch name {
	case "Reason":
		return setStr(&w.Reason, v)
	case "DelayTime":
		return setInt(&w.DelayTime, v)
	}
	return w.Header.setField(name, v)
}

// verified is the body of a successful verification.
type verified struct {
	Header
	// ExpiredTime is when the verification expires, in Unix seconds.
	ExpiredTime int64 `xml:"ExpiredTime" json:"ExpiredTime" validate:"required"`
}

func (s *verified) setField(name string, v value) (bool, error) {
	if name == "ExpiredTime" {
		return setInt(&s.ExpiredTime, v)
	}
	return s.Header.setField(name, v)
}

// verifyFailed is the body of a failed verification.
type verifyFailed struct {
	Header
	// FailTime is when it failed, in Unix seconds.
	FailTime   int64  `xml:"FailTime" json:"FailTime" validate:"required"`
	FailReason string `xml:"FailReason" json:"FailReason"`
}

func (f *verifyFailed) setField(name string, v value) (bool, error) {
	switch name {
	case "FailTime":
		return setInt(&f.FailTime, v)
	case "FailReason":
		return setStr(&f.FailReason, v)
	}
	return f.Header.setField(name, v)
}

// QualificationVerifySuccess is pushed when the account's qualification
// verification (资质认证) succeeds.
type QualificationVerifySuccess struct{ verified }

// Kind implements Event.
func (*QualificationVerifySuccess) Kind() string { return "event.qualification_verify_success" }

// QualificationVerifyFail is pushed when the qualification verification
// fails.
type QualificationVerifyFail struct{ verifyFailed }

// Kind implements Event.
func (*QualificationVerifyFail) Kind() string { return "event.qualification_verify_fail" }

// NamingVerifySuccess is pushed when the account's name verification
// (名称认证) succeeds.
type NamingVerifySuccess struct{ verified }

// Kind implements Event.
func (*NamingVerifySuccess) Kind() string { return "event.naming_verify_success" }

// NamingVerifyFail is pushed when the name verification fails.
type NamingVerifyFail struct{ verifyFailed }

// Kind implements Event.
func (*NamingVerifyFail) Kind() string { return "event.naming_verify_fail" }
