package events

// The results of broadcasting: a mass send (MASSSENDJOBFINISH) and a
// publication (PUBLISHJOBFINISH).

// MassSendJobFinish reports the outcome of a mass send (群发).
type MassSendJobFinish struct {
	Header
	// MsgID is the mass send's id (WeChat spells it MsgID here).
	MsgID int64 `xml:"MsgID" json:"MsgID" validate:"required"`
	// Status is "send success", "send fail" or "err(<code>)".
	Status string `xml:"Status" json:"Status" validate:"required"`
	// TotalCount is how many followers the send was for; FilterCount how
	// many remained after filtering; SentCount how many got it;
	// ErrorCount how many did not.
	TotalCount  int64 `xml:"TotalCount" json:"TotalCount"`
	FilterCount int64 `xml:"FilterCount" json:"FilterCount"`
	SentCount   int64 `xml:"SentCount" json:"SentCount"`
	ErrorCount  int64 `xml:"ErrorCount" json:"ErrorCount"`
	// CopyrightCheckResult is the originality check of the articles sent.
	CopyrightCheckResult *CopyrightCheckResult `xml:"CopyrightCheckResult,omitempty" json:"CopyrightCheckResult,omitempty"`
	// ArticleUrlResult gives the URL of each article sent.
	ArticleUrlResult *ArticleURLResult `xml:"ArticleUrlResult,omitempty" json:"ArticleUrlResult,omitempty"`
}

// Kind implements Event.
func (*MassSendJobFinish) Kind() string { return "event.MASSSENDJOBFINISH" }

func (m *MassSendJobFinish) setField(name string, v value) (bool, error) {
	switch name {
	case "MsgID":
		return setInt(&m.MsgID, v)
	case "Status":
		return setStr(&m.Status, v)
	case "TotalCount":
		return setInt(&m.TotalCount, v)
	case "FilterCount":
		return setInt(&m.FilterCount, v)
	case "SentCount":
		return setInt(&m.SentCount, v)
	case "ErrorCount":
		return setInt(&m.ErrorCount, v)
	case "CopyrightCheckResult":
		m.CopyrightCheckResult = new(CopyrightCheckResult)
		c := m.CopyrightCheckResult
		return true, nested(&m.Header, name, v, func(n string, f value) (bool, error) {
			switch n {
			case "Count":
				return setInt(&c.Count, f)
			case "CheckState":
				return setInt(&c.CheckState, f)
			case "ResultList":
				return true, readList(&m.Header, name+".ResultList", f, &c.ResultList, (*CopyrightResult).setField)
			}
			return false, nil
		})
	case "ArticleUrlResult":
		m.ArticleUrlResult = new(ArticleURLResult)
		a := m.ArticleUrlResult
		return true, nested(&m.Header, name, v, func(n string, f value) (bool, error) {
			switch n {
			case "Count":
				return setInt(&a.Count, f)
			case "ResultList":
				return true, readList(&m.Header, name+".ResultList", f, &a.ResultList, (*ArticleURL).setField)
			}
			return false, nil
		})
	}
	return m.Header.setField(name, v)
}

// readList reads a list WeChat wraps in <item> elements in XML, and sends as
// an array (or one object) in JSON.
func readList[T any](h *Header, parent string, v value, dst *[]T, set func(*T, string, value) (bool, error)) error {
	if v.el != nil {
		return v.items(func(item value) error {
			return readEntries(h, parent+"."+item.el.Tag, item, dst, set)
		})
	}
	return readEntries(h, parent, v, dst, set)
}

// CopyrightCheckResult is the originality check of a mass send.
type CopyrightCheckResult struct {
	Count int64 `xml:"Count" json:"Count"`
	// ResultList has one entry per article, each an <item> on the wire.
	ResultList []CopyrightResult `xml:"ResultList>item" json:"ResultList"`
	// CheckState is 1 (may send), 2 (sent after the check), 3 (not sent).
	CheckState int64 `xml:"CheckState" json:"CheckState"`
}

// CopyrightResult is the originality check of one article.
type CopyrightResult struct {
	ArticleIdx            int64  `xml:"ArticleIdx" json:"ArticleIdx"`
	UserDeclareState      int64  `xml:"UserDeclareState" json:"UserDeclareState"`
	AuditState            int64  `xml:"AuditState" json:"AuditState"`
	OriginalArticleUrl    string `xml:"OriginalArticleUrl" json:"OriginalArticleUrl"`
	OriginalArticleType   int64  `xml:"OriginalArticleType" json:"OriginalArticleType"`
	CanReprint            int64  `xml:"CanReprint" json:"CanReprint"`
	NeedReplaceContent    int64  `xml:"NeedReplaceContent" json:"NeedReplaceContent"`
	NeedShowReprintSource int64  `xml:"NeedShowReprintSource" json:"NeedShowReprintSource"`
}

func (r *CopyrightResult) setField(name string, v value) (bool, error) {
	switch name {
	case "ArticleIdx":
		return setInt(&r.ArticleIdx, v)
	case "UserDeclareState":
		return setInt(&r.UserDeclareState, v)
	case "AuditState":
		return setInt(&r.AuditState, v)
	case "OriginalArticleUrl":
		return setStr(&r.OriginalArticleUrl, v)
	case "OriginalArticleType":
		return setInt(&r.OriginalArticleType, v)
	case "CanReprint":
		return setInt(&r.CanReprint, v)
	case "NeedReplaceContent":
		return setInt(&r.NeedReplaceContent, v)
	case "NeedShowReprintSource":
		return setInt(&r.NeedShowReprintSource, v)
	}
	return false, nil
}

// ArticleURLResult lists the URLs of the articles of a mass send.
type ArticleURLResult struct {
	Count      int64        `xml:"Count" json:"Count"`
	ResultList []ArticleURL `xml:"ResultList>item" json:"ResultList"`
}

// ArticleURL is the URL of one article of a mass send.
type ArticleURL struct {
	ArticleIdx int64  `xml:"ArticleIdx" json:"ArticleIdx"`
	ArticleUrl string `xml:"ArticleUrl" json:"ArticleUrl"`
}

func (a *ArticleURL) setField(name string, v value) (bool, error) {
	switch name {
	case "ArticleIdx":
		return setInt(&a.ArticleIdx, v)
	case "ArticleUrl":
		return setStr(&a.ArticleUrl, v)
	}
	return false, nil
}

// PublishJobFinish reports the outcome of a publication (发布).
type PublishJobFinish struct {
	Header
	PublishEventInfo PublishEventInfo `xml:"PublishEventInfo" json:"PublishEventInfo"`
}

// Kind implements Event.
func (*PublishJobFinish) Kind() string { return "event.PUBLISHJOBFINISH" }

func (p *PublishJobFinish) setField(name string, v value) (bool, error) {
	if name != "PublishEventInfo" {
		return p.Header.setField(name, v)
	}
	info := &p.PublishEventInfo
	return true, nested(&p.Header, name, v, func(n string, f value) (bool, error) {
		switch n {
		case "publish_id":
			return setInt(&info.PublishID, f)
		case "publish_status":
			return setInt(&info.PublishStatus, f)
		case "article_id":
			return setStr(&info.ArticleID, f)
		case "fail_idx":
			return true, f.each(func(item value) error {
				idx, err := item.int64()
				info.FailIdx = append(info.FailIdx, idx)
				return err
			})
		case "article_detail":
			info.ArticleDetail = new(ArticleDetail)
			d := info.ArticleDetail
			return true, nested(&p.Header, name+".article_detail", f, func(n string, f value) (bool, error) {
				switch n {
				case "count":
					return setInt(&d.Count, f)
				case "item":
					return true, readEntries(&p.Header, name+".article_detail.item", f, &d.Item, (*PublishedArticle).setField)
				}
				return false, nil
			})
		}
		return false, nil
	})
}

// PublishEventInfo is the outcome of a publication.
type PublishEventInfo struct {
	// PublishID is the id the publish call returned.
	PublishID int64 `xml:"publish_id" json:"publish_id" validate:"required"`
	// PublishStatus is 0 (published), 1 (publishing), 2 (original-content
	// failure), 3 (usual failure), 4 (platform audit failure), 5 (deleted
	// after success), 6 (banned after success).
	PublishStatus int64 `xml:"publish_status" json:"publish_status"`
	// ArticleID identifies the published article; set on success.
	ArticleID string `xml:"article_id,omitempty" json:"article_id,omitempty"`
	// ArticleDetail lists the published articles; set on success.
	ArticleDetail *ArticleDetail `xml:"article_detail,omitempty" json:"article_detail,omitempty"`
	// FailIdx lists the indexes of the articles that failed.
	FailIdx []int64 `xml:"fail_idx,omitempty" json:"fail_idx,omitempty"`
}

// ArticleDetail lists the articles of a publication.
type ArticleDetail struct {
	Count int64              `xml:"count" json:"count"`
	Item  []PublishedArticle `xml:"item" json:"item"`
}

// PublishedArticle is one article of a publication.
type PublishedArticle struct {
	Idx        int64  `xml:"idx" json:"idx"`
	ArticleURL string `xml:"article_url" json:"article_url"`
}

func (a *PublishedArticle) setField(name string, v value) (bool, error) {
	switch name {
	case "idx":
		return setInt(&a.Idx, v)
	case "article_url":
		return setStr(&a.ArticleURL, v)
	}
	return false, nil
}
