package events

// Card and coupon (卡券) events.

// CardPassCheck is pushed when a card passes its review.
type CardPassCheck struct {
	Header
	CardId string `xml:"CardId" json:"CardId" validate:"required"`
	// RefuseReason is empty on this event; it is set on its twin
	// card_not_pass_check.
	RefuseReason string `xml:"RefuseReason,omitempty" json:"RefuseReason,omitempty"`
}

// Kind implements Event.
func (*CardPassCheck) Kind() string { return "event.card_pass_check" }

func (c *CardPassCheck) setField(name string, v value) (bool, error) {
	switch name {
	case "CardId":
		return setStr(&c.CardId, v)
	case "RefuseReason":
		return setStr(&c.RefuseReason, v)
	}
	return c.Header.setField(name, v)
}

// UserGetCard is pushed when a user takes a card.
type UserGetCard struct {
	Header
	CardId string `xml:"CardId" json:"CardId" validate:"required"`
	// IsGiveByFriend is 1 when a friend gave the card.
	IsGiveByFriend int64 `xml:"IsGiveByFriend" json:"IsGiveByFriend"`
	// FriendUserName is the giver's OpenID, when a friend gave it.
	FriendUserName string `xml:"FriendUserName" json:"FriendUserName"`
	// UserCardCode is the card's code.
	UserCardCode string `xml:"UserCardCode" json:"UserCardCode"`
	// OldUserCardCode is the giver's code, when a friend gave it.
	OldUserCardCode string `xml:"OldUserCardCode" json:"OldUserCardCode"`
	// OuterId is the scene value of the take.
	OuterId int64 `xml:"OuterId" json:"OuterId"`
	// OuterStr is the custom scene value of the take.
	OuterStr string `xml:"OuterStr,omitempty" json:"OuterStr,omitempty"`
	// IsRestoreMemberCard is 1 when a deleted member card was restored.
	IsRestoreMemberCard int64 `xml:"IsRestoreMemberCard" json:"IsRestoreMemberCard"`
	// IsRecommendByFriend is 1 when a friend recommended the card.
	IsRecommendByFriend int64 `xml:"IsRecommendByFriend,omitempty" json:"IsRecommendByFriend,omitempty"`
	// UnionId is the user's UnionID, when the account has one.
	UnionId string `xml:"UnionId,omitempty" json:"UnionId,omitempty"`
}

// Kind implements Event.
func (*UserGetCard) Kind() string { return "event.user_get_card" }

func (c *UserGetCard) setField(name string, v value) (bool, error) {
	switch name {
	case "CardId":
		return setStr(&c.CardId, v)
	case "IsGiveByFriend":
		return setInt(&c.IsGiveByFriend, v)
	case "FriendUserName":
		return setStr(&c.FriendUserName, v)
	case "UserCardCode":
		return setStr(&c.UserCardCode, v)
	case "OldUserCardCode":
		return setStr(&c.OldUserCardCode, v)
	case "OuterId":
		return setInt(&c.OuterId, v)
	case "OuterStr":
		return setStr(&c.OuterStr, v)
	case "IsRestoreMemberCard":
		return setInt(&c.IsRestoreMemberCard, v)
	case "IsRecommendByFriend":
		return setInt(&c.IsRecommendByFriend, v)
	case "UnionId":
		return setStr(&c.UnionId, v)
	}
	return c.Header.setField(name, v)
}

// UserDelCard is pushed when a user deletes a card.
type UserDelCard struct {
	Header
	CardId       string `xml:"CardId" json:"CardId" validate:"required"`
	UserCardCode string `xml:"UserCardCode" json:"UserCardCode"`
}

// Kind implements Event.
func (*UserDelCard) Kind() string { return "event.user_del_card" }

func (c *UserDelCard) setField(name string, v value) (bool, error) {
	switch name {
	case "CardId":
		return setStr(&c.CardId, v)
	case "UserCardCode":
		return setStr(&c.UserCardCode, v)
	}
	return c.Header.setField(name, v)
}
