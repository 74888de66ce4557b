package events

import "strings"

// Open Platform (third-party platform, 开放平台) authorization events. They
// arrive at the platform's authorization event URL with their own shape:
// AppId (the platform's component app id), CreateTime and InfoType, and no
// ToUserName, FromUserName or MsgType. Decode tells them apart by that
// shape (InfoType present, MsgType absent) and names their kind
// "component." plus the InfoType; an InfoType no type declares decodes to
// *Generic with every field kept.

// ComponentKind returns the kind of an Open Platform event with this
// InfoType: "component." + infoType.
func ComponentKind(infoType string) string { return "component." + infoType }

// Component is the header of Open Platform events. Its Head is made from
// it, so that code reading any event's header works: Head().ToUserName is
// AppId (the platform the push is for), Head().CreateTime is CreateTime,
// and MsgType, Event and FromUserName are empty.
type Component struct {
	head Header
	// AppId is the third-party platform's component app id.
	AppId string `xml:"AppId" json:"AppId" validate:"required"`
	// CreateTime is the push's creation time in Unix seconds.
	CreateTime int64 `xml:"CreateTime" json:"CreateTime" validate:"required"`
	// InfoType names the event: component_verify_ticket, authorized, ….
	InfoType string `xml:"InfoType" json:"InfoType" validate:"required"`
}

// Head returns the header made from the Component fields; it also holds
// Extra, the fields no type declares.
func (c *Component) Head() *Header { return &c.head }

func (c *Component) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "AppId":
		c.AppId, err = v.str()
		c.head.ToUserName = c.AppId
	case "CreateTime":
		c.CreateTime, err = createTime(v)
		c.head.CreateTime = c.CreateTime
	case "InfoType":
		c.InfoType, err = v.str()
	default:
		return false, nil
	}
	return true, err
}

// describe indexes an Open Platform event: ToUser is the platform's AppId,
// Event the InfoType, MsgType empty.
func (c *Component) describe(m *Meta) {
	m.ToUser = c.AppId
	m.Event = c.InfoType
}

// ComponentVerifyTicket is pushed every 10 minutes: the ticket a platform
// needs to get its component_access_token.
type ComponentVerifyTicket struct {
	Component
	ComponentVerifyTicket string `xml:"ComponentVerifyTicket" json:"ComponentVerifyTicket" validate:"required"`
}

// Kind implements Event.
func (*ComponentVerifyTicket) Kind() string { return ComponentKind("component_verify_ticket") }

func (t *ComponentVerifyTicket) setField(name string, v value) (bool, error) {
	if name == "ComponentVerifyTicket" {
		return setStr(&t.ComponentVerifyTicket, v)
	}
	return t.Component.setField(name, v)
}

// authorization is the body of the authorized and updateauthorized events.
type authorization struct {
	Component
	// AuthorizerAppid is the app id of the official account or mini
	// program that authorized the platform.
	AuthorizerAppid string `xml:"AuthorizerAppid" json:"AuthorizerAppid" validate:"required"`
	// AuthorizationCode is exchanged for the authorizer's tokens.
	AuthorizationCode string `xml:"AuthorizationCode" json:"AuthorizationCode" validate:"required"`
	// AuthorizationCodeExpiredTime is when the code expires, in Unix
	// seconds.
	AuthorizationCodeExpiredTime int64 `xml:"AuthorizationCodeExpiredTime" json:"AuthorizationCodeExpiredTime"`
	// PreAuthCode is the pre-authorization code the authorization used.
	PreAuthCode string `xml:"PreAuthCode" json:"PreAuthCode"`
}

func (a *authorization) setField(name string, v value) (bool, error) {
	switch name {
	case "AuthorizerAppid":
		return setStr(&a.AuthorizerAppid, v)
	case "AuthorizationCode":
		return setStr(&a.AuthorizationCode, v)
	case "AuthorizationCodeExpiredTime":
		return setInt(&a.AuthorizationCodeExpiredTime, v)
	case "PreAuthCode":
		return setStr(&a.PreAuthCode, v)
	}
	return a.Component.setField(name, v)
}

// describe also sets FromUser to the authorizer's app id.
func (a *authorization) describe(m *Meta) {
	a.Component.describe(m)
	m.FromUser = a.AuthorizerAppid
}

// Authorized is pushed when an account authorizes the platform.
type Authorized struct{ authorization }

// Kind implements Event.
func (*Authorized) Kind() string { return ComponentKind("authorized") }

// UpdateAuthorized is pushed when an account changes what it authorized.
type UpdateAuthorized struct{ authorization }

// Kind implements Event.
func (*UpdateAuthorized) Kind() string { return ComponentKind("updateauthorized") }

// Unauthorized is pushed when an account withdraws its authorization.
type Unauthorized struct {
	Component
	// AuthorizerAppid is the app id of the account that withdrew.
	AuthorizerAppid string `xml:"AuthorizerAppid" json:"AuthorizerAppid" validate:"required"`
}

// Kind implements Event.
func (*Unauthorized) Kind() string { return ComponentKind("unauthorized") }

func (u *Unauthorized) setField(name string, v value) (bool, error) {
	if name == "AuthorizerAppid" {
		return setStr(&u.AuthorizerAppid, v)
	}
	return u.Component.setField(name, v)
}

// describe also sets FromUser to the authorizer's app id.
func (u *Unauthorized) describe(m *Meta) {
	u.Component.describe(m)
	m.FromUser = u.AuthorizerAppid
}

// FastRegister is pushed when a mini program the platform registered
// quickly (快速注册) for a company is created, or its creation fails.
type FastRegister struct {
	Component
	// Appid is the new mini program's app id (empty on failure).
	Appid string `xml:"appid" json:"appid"`
	// Status is 0 on success, else an error code.
	Status int64 `xml:"status" json:"status"`
	// AuthCode is exchanged for the new mini program's authorization.
	AuthCode string `xml:"auth_code" json:"auth_code"`
	// Msg describes the outcome.
	Msg string `xml:"msg" json:"msg"`
	// Info repeats what the registration asked for.
	Info FastRegisterInfo `xml:"info" json:"info"`
}

// Kind implements Event.
func (*FastRegister) Kind() string { return ComponentKind("notify_third_fasteregister") }

func (f *FastRegister) setField(name string, v value) (bool, error) {
	switch name {
	case "appid":
		return setStr(&f.Appid, v)
	case "status":
		return setInt(&f.Status, v)
	case "auth_code":
		return setStr(&f.AuthCode, v)
	case "msg":
		return setStr(&f.Msg, v)
	case "info":
		return true, nested(&f.head, name, v, f.Info.setField)
	}
	return f.Component.setField(name, v)
}

// FastRegisterInfo is the company a quick registration was for.
type FastRegisterInfo struct {
	Name               string `xml:"name" json:"name"`
	Code               string `xml:"code" json:"code"`
	CodeType           int64  `xml:"code_type" json:"code_type"`
	LegalPersonaWechat string `xml:"legal_persona_wechat" json:"legal_persona_wechat"`
	LegalPersonaName   string `xml:"legal_persona_name" json:"legal_persona_name"`
	ComponentPhone     string `xml:"component_phone" json:"component_phone"`
}

func (i *FastRegisterInfo) setField(name string, v value) (bool, error) {
	switch name {
	case "name":
		return setStr(&i.Name, v)
	case "code":
		return setStr(&i.Code, v)
	case "code_type":
		return setInt(&i.CodeType, v)
	case "legal_persona_wechat":
		return setStr(&i.LegalPersonaWechat, v)
	case "legal_persona_name":
		return setStr(&i.LegalPersonaName, v)
	case "component_phone":
		return setStr(&i.ComponentPhone, v)
	}
	return false, nil
}

// IsComponent reports whether e is an Open Platform event: one of the
// types above, or a *Generic of that shape (InfoType, no MsgType).
func IsComponent(e Event) bool {
	switch e := e.(type) {
	case interface{ component() *Component }:
		return true
	case *Generic:
		return e.componentShaped()
	}
	return false
}

func (c *Component) component() *Component { return c }

// componentShaped reports whether g has the shape of an Open Platform event.
func (g *Generic) componentShaped() bool {
	return strings.TrimSpace(g.MsgType) == "" && strings.TrimSpace(extraText(g.Extra["InfoType"])) != ""
}

// describe indexes a Generic of the Open Platform shape like the typed
// ones: ToUser is its AppId, Event its InfoType, FromUser its
// AuthorizerAppid when it has one.
func (g *Generic) describe(m *Meta) {
	if !g.componentShaped() {
		return
	}
	m.ToUser = extraText(g.Extra["AppId"])
	m.Event = extraText(g.Extra["InfoType"])
	m.FromUser = extraText(g.Extra["AuthorizerAppid"])
}
