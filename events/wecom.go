package events

// WeCom (企业微信) events. WeCom pushes share the header of official-account
// pushes (ToUserName is the corp id, FromUserName a member's UserID or
// "sys") and add AgentID, the application, kept on Header. Its messages
// (text, image, voice, video, location, link) and the events it shares
// with official accounts (click, view, LOCATION, …) decode to the same
// types, with AgentID set; the events only WeCom sends have their own
// types below. Which account a push came to tells the two platforms apart.

// ChangeContact is pushed when the corp's contacts change: ChangeType is
// create_user, update_user, delete_user, create_party, update_party,
// delete_party or update_tag, and the fields of that change are set.
// ExtAttr (a member's extra attributes) is kept in Extra as sent.
type ChangeContact struct {
	Header
	ChangeType string `xml:"ChangeType" json:"ChangeType" validate:"required"`

	// The member, for the *_user changes.
	UserID         string `xml:"UserID,omitempty" json:"UserID,omitempty"`
	NewUserID      string `xml:"NewUserID,omitempty" json:"NewUserID,omitempty"`
	Name           string `xml:"Name,omitempty" json:"Name,omitempty"`
	Department     string `xml:"Department,omitempty" json:"Department,omitempty"`
	MainDepartment int64  `xml:"MainDepartment,omitempty" json:"MainDepartment,omitempty"`
	IsLeaderInDept string `xml:"IsLeaderInDept,omitempty" json:"IsLeaderInDept,omitempty"`
	DirectLeader   string `xml:"DirectLeader,omitempty" json:"DirectLeader,omitempty"`
	Position       string `xml:"Position,omitempty" json:"Position,omitempty"`
	Mobile         string `xml:"Mobile,omitempty" json:"Mobile,omitempty"`
	Gender         int64  `xml:"Gender,omitempty" json:"Gender,omitempty"`
	Email          string `xml:"Email,omitempty" json:"Email,omitempty"`
	BizMail        string `xml:"BizMail,omitempty" json:"BizMail,omitempty"`
	Status         int64  `xml:"Status,omitempty" json:"Status,omitempty"`
	Avatar         string `xml:"Avatar,omitempty" json:"Avatar,omitempty"`
	Alias          string `xml:"Alias,omitempty" json:"Alias,omitempty"`
	Telephone      string `xml:"Telephone,omitempty" json:"Telephone,omitempty"`
	Address        string `xml:"Address,omitempty" json:"Address,omitempty"`

	// The department, for the *_party changes (Name above is its name).
	Id       int64 `xml:"Id,omitempty" json:"Id,omitempty"`
	ParentId int64 `xml:"ParentId,omitempty" json:"ParentId,omitempty"`
	Order    int64 `xml:"Order,omitempty" json:"Order,omitempty"`

	// The tag, for update_tag: comma-separated members and departments.
	TagId         int64  `xml:"TagId,omitempty" json:"TagId,omitempty"`
	AddUserItems  string `xml:"AddUserItems,omitempty" json:"AddUserItems,omitempty"`
	DelUserItems  string `xml:"DelUserItems,omitempty" json:"DelUserItems,omitempty"`
	AddPartyItems string `xml:"AddPartyItems,omitempty" json:"AddPartyItems,omitempty"`
	DelPartyItems string `xml:"DelPartyItems,omitempty" json:"DelPartyItems,omitempty"`
}

// Kind implements Event.
func (*ChangeContact) Kind() string { return "event.change_contact" }

func (c *ChangeContact) setField(name string, v value) (bool, error) {
	if p := c.stringField(name); p != nil {
		return setStr(p, v)
	}
	switch name {
	case "MainDepartment":
		return setInt(&c.MainDepartment, v)
	case "Gender":
		return setInt(&c.Gender, v)
	case "Status":
		return setInt(&c.Status, v)
	case "Id":
		return setInt(&c.Id, v)
	case "ParentId":
		return setInt(&c.ParentId, v)
	case "Order":
		return setInt(&c.Order, v)
	case "TagId":
		return setInt(&c.TagId, v)
	}
	return c.Header.setField(name, v)
}

func (c *ChangeContact) stringField(name string) *string {
	switch name {
	case "ChangeType":
		return &c.ChangeType
	case "UserID":
		return &c.UserID
	case "NewUserID":
		return &c.NewUserID
	case "Name":
		return &c.Name
	case "Department":
		return &c.Department
	case "IsLeaderInDept":
		return &c.IsLeaderInDept
	case "DirectLeader":
		return &c.DirectLeader
	case "Position":
		return &c.Position
	case "Mobile":
		return &c.Mobile
	case "Email":
		return &c.Email
	case "BizMail":
		return &c.BizMail
	case "Avatar":
		return &c.Avatar
	case "Alias":
		return &c.Alias
	case "Telephone":
		return &c.Telephone
	case "Address":
		return &c.Address
	case "AddUserItems":
		return &c.AddUserItems
	case "DelUserItems":
		return &c.DelUserItems
	case "AddPartyItems":
		return &c.AddPartyItems
	case "DelPartyItems":
		return &c.DelPartyItems
	}
	return nil
}

// describe indexes the ChangeType as the EventKey, so that changes can be
// told apart (and filtered) without reading the payload.
func (c *ChangeContact) describe(m *Meta) { m.EventKey = c.ChangeType }

// ChangeExternalContact is pushed when a member's external contacts (客户)
// change: ChangeType is add_external_contact, edit_external_contact,
// add_half_external_contact, del_external_contact, del_follow_user,
// transfer_fail, ….
type ChangeExternalContact struct {
	Header
	ChangeType string `xml:"ChangeType" json:"ChangeType" validate:"required"`
	// UserID is the member.
	UserID string `xml:"UserID" json:"UserID"`
	// ExternalUserID is the external contact.
	ExternalUserID string `xml:"ExternalUserID" json:"ExternalUserID"`
	// State is the state parameter of the contact-me channel used.
	State string `xml:"State,omitempty" json:"State,omitempty"`
	// WelcomeCode lets the corp send a welcome message (valid 20 seconds).
	WelcomeCode string `xml:"WelcomeCode,omitempty" json:"WelcomeCode,omitempty"`
	// Source is why a contact was deleted (DELETE_BY_TRANSFER).
	Source string `xml:"Source,omitempty" json:"Source,omitempty"`
	// FailReason is why a transfer failed (transfer_fail).
	FailReason string `xml:"FailReason,omitempty" json:"FailReason,omitempty"`
}

// Kind implements Event.
func (*ChangeExternalContact) Kind() string { return "event.change_external_contact" }

func (c *ChangeExternalContact) setField(name string, v value) (bool, error) {
	switch name {
	case "ChangeType":
		return setStr(&c.ChangeType, v)
	case "UserID":
		return setStr(&c.UserID, v)
	case "ExternalUserID":
		return setStr(&c.ExternalUserID, v)
	case "State":
		return setStr(&c.State, v)
	case "WelcomeCode":
		return setStr(&c.WelcomeCode, v)
	case "Source":
		return setStr(&c.Source, v)
	case "FailReason":
		return setStr(&c.FailReason, v)
	}
	return c.Header.setField(name, v)
}

// describe indexes the ChangeType as the EventKey.
func (c *ChangeExternalContact) describe(m *Meta) { m.EventKey = c.ChangeType }

// EnterAgent is pushed when a member enters an application (AgentID).
type EnterAgent struct{ Keyed }

// Kind implements Event.
func (*EnterAgent) Kind() string { return "event.enter_agent" }
