package events

// Mini-program pushes: the card a user sent, a menu opening a mini program,
// the result of an asynchronous media check.

// ViewMiniprogram is pushed when a user taps a menu item that opens a mini
// program; EventKey is the page path.
type ViewMiniprogram struct {
	Keyed
	// MenuId is the id of the menu, for personalised menus.
	MenuId string `xml:"MenuId,omitempty" json:"MenuId,omitempty"`
}

// Kind implements Event.
func (*ViewMiniprogram) Kind() string { return "event.view_miniprogram" }

func (m *ViewMiniprogram) setField(name string, v value) (bool, error) {
	if name == "MenuId" {
		return setStr(&m.MenuId, v)
	}
	return m.Keyed.setField(name, v)
}

// MiniprogramPageMessage is a mini-program card a user sent to customer
// service.
type MiniprogramPageMessage struct {
	Message
	Title string `xml:"Title" json:"Title"`
	// AppId is the mini program's app id.
	AppId string `xml:"AppId" json:"AppId" validate:"required"`
	// PagePath is the page the card opens.
	PagePath     string `xml:"PagePath" json:"PagePath"`
	ThumbUrl     string `xml:"ThumbUrl" json:"ThumbUrl"`
	ThumbMediaId string `xml:"ThumbMediaId" json:"ThumbMediaId"`
}

// Kind implements Event.
func (*MiniprogramPageMessage) Kind() string { return "miniprogrampage" }

func (m *MiniprogramPageMessage) setField(name string, v value) (bool, error) {
	switch name {
	case "Title":
		return setStr(&m.Title, v)
	case "AppId":
		return setStr(&m.AppId, v)
	case "PagePath":
		return setStr(&m.PagePath, v)
	case "ThumbUrl":
		return setStr(&m.ThumbUrl, v)
	case "ThumbMediaId":
		return setStr(&m.ThumbMediaId, v)
	}
	return m.Message.setField(name, v)
}

// WxaMediaCheck is the result of an asynchronous media check
// (media_check_async, version 2), matched to the call by TraceId.
type WxaMediaCheck struct {
	Header
	// Appid is the mini program's app id.
	Appid string `xml:"appid" json:"appid"`
	// TraceId is the id media_check_async returned.
	TraceId string `xml:"trace_id" json:"trace_id" validate:"required"`
	// Version is the check's version (2).
	Version int64 `xml:"version" json:"version"`
	// Result is the overall verdict.
	Result MediaCheckResult `xml:"result" json:"result"`
	// Detail gives the verdict of each strategy.
	Detail []MediaCheckDetail `xml:"detail" json:"detail"`
}

// Kind implements Event.
func (*WxaMediaCheck) Kind() string { return "event.wxa_media_check" }

func (m *WxaMediaCheck) setField(name string, v value) (bool, error) {
	switch name {
	case "appid":
		return setStr(&m.Appid, v)
	case "trace_id":
		return setStr(&m.TraceId, v)
	case "version":
		return setInt(&m.Version, v)
	case "result":
		return true, nested(&m.Header, name, v, m.Result.setField)
	case "detail":
		return true, readEntries(&m.Header, name, v, &m.Detail, (*MediaCheckDetail).setField)
	}
	return m.Header.setField(name, v)
}

// MediaCheckResult is a media check's overall verdict.
type MediaCheckResult struct {
	// Suggest is "risky", "pass" or "review".
	Suggest string `xml:"suggest" json:"suggest"`
	// Label is the category of the content (100 is normal).
	Label int64 `xml:"label" json:"label"`
}

func (r *MediaCheckResult) setField(name string, v value) (bool, error) {
	switch name {
	case "suggest":
		return setStr(&r.Suggest, v)
	case "label":
		return setInt(&r.Label, v)
	}
	return false, nil
}

// MediaCheckDetail is the verdict of one strategy of a media check.
type MediaCheckDetail struct {
	Strategy string `xml:"strategy" json:"strategy"`
	Errcode  int64  `xml:"errcode" json:"errcode"`
	Suggest  string `xml:"suggest" json:"suggest"`
	Label    int64  `xml:"label" json:"label"`
	// Prob is the confidence, 0 to 100.
	Prob int64 `xml:"prob" json:"prob"`
}

func (d *MediaCheckDetail) setField(name string, v value) (bool, error) {
	switch name {
	case "strategy":
		return setStr(&d.Strategy, v)
	case "errcode":
		return setInt(&d.Errcode, v)
	case "suggest":
		return setStr(&d.Suggest, v)
	case "label":
		return setInt(&d.Label, v)
	case "prob":
		return setInt(&d.Prob, v)
	}
	return false, nil
}
