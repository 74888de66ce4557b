package events

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Reply is a passive reply: the message WeChat shows the user, sent as the
// answer to the push. A nil Reply answers "success".
type Reply interface {
	// MsgType is the reply's MsgType: text, image, voice, video, music,
	// news, transfer_customer_service; "" for Raw.
	MsgType() string
	writeBody(b *bytes.Buffer)
	// jsonBody adds the reply's own fields to the JSON form.
	jsonBody(m map[string]any)
}

// RenderFor renders r as the answer to e, in the format e arrived in: JSON
// (RenderJSON) for a push decoded from JSON (a mini program in JSON mode),
// else XML (Render).
func RenderFor(r Reply, e Event, now time.Time) []byte {
	if FormatOf(e) == JSON {
		return RenderJSON(r, e.Head(), now)
	}
	return Render(r, e.Head(), now)
}

// FormatOf returns the format e was decoded from, 0 for an event made
// otherwise.
func FormatOf(e Event) Format { return e.Head().format }

// Render writes r as WeChat's passive-reply XML addressed back to the
// sender of the push whose header is h (ToUserName and FromUserName
// swapped), stamped with now. A Raw reply is returned as it is.
func Render(r Reply, h *Header, now time.Time) []byte {
	if raw, ok := r.(rawReply); ok {
		return bytes.Clone(raw)
	}
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString("<xml>")
	WriteCDATA(&b, "ToUserName", h.FromUserName)
	WriteCDATA(&b, "FromUserName", h.ToUserName)
	b.WriteString("<CreateTime>")
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString("</CreateTime>")
	WriteCDATA(&b, "MsgType", r.MsgType())
	r.writeBody(&b)
	b.WriteString("</xml>")
	return b.Bytes()
}

// WriteCDATA writes <name><![CDATA[s]]></name>, splitting any "]]>" in s
// so the section cannot be closed early.
func WriteCDATA(b *bytes.Buffer, name, s string) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteString("><![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]></")
	b.WriteString(name)
	b.WriteByte('>')
}

type textReply string

// Text is a text reply.
func Text(content string) Reply { return textReply(content) }

func (textReply) MsgType() string { return "text" }
func (t textReply) writeBody(b *bytes.Buffer) {
	WriteCDATA(b, "Content", string(t))
}

type mediaReply struct{ msgType, tag, mediaID string }

// Image replies with an uploaded image.
func Image(mediaID string) Reply { return mediaReply{"image", "Image", mediaID} }

// Voice replies with an uploaded voice clip.
func Voice(mediaID string) Reply { return mediaReply{"voice", "Voice", mediaID} }

func (m mediaReply) MsgType() string { return m.msgType }
func (m mediaReply) writeBody(b *bytes.Buffer) {
	b.WriteString("<" + m.tag + ">")
	WriteCDATA(b, "MediaId", m.mediaID)
	b.WriteString("</" + m.tag + ">")
}

type videoReply struct{ mediaID, title, description string }

// Video replies with an uploaded video.
func Video(mediaID, title, description string) Reply {
	return videoReply{mediaID, title, description}
}

func (videoReply) MsgType() string { return "video" }
func (v videoReply) writeBody(b *bytes.Buffer) {
	b.WriteString("<Video>")
	WriteCDATA(b, "MediaId", v.mediaID)
	WriteCDATA(b, "Title", v.title)
	WriteCDATA(b, "Description", v.description)
	b.WriteString("</Video>")
}

// Article is one entry of a news reply.
type Article struct {
	Title, Description, PicURL, URL string
}

type newsReply []Article

// News replies with articles (WeChat shows at most 8; more are dropped).
func News(articles ...Article) Reply {
	if len(articles) > 8 {
		articles = articles[:8]
	}
	return newsReply(articles)
}

func (newsReply) MsgType() string { return "news" }
func (n newsReply) writeBody(b *bytes.Buffer) {
	b.WriteString("<ArticleCount>")
	b.WriteString(strconv.Itoa(len(n)))
	b.WriteString("</ArticleCount><Articles>")
	for _, a := range n {
		b.WriteString("<item>")
		WriteCDATA(b, "Title", a.Title)
		WriteCDATA(b, "Description", a.Description)
		WriteCDATA(b, "PicUrl", a.PicURL)
		WriteCDATA(b, "Url", a.URL)
		b.WriteString("</item>")
	}
	b.WriteString("</Articles>")
}

// RenderJSON writes r as a JSON passive reply, the form a push that
// arrived as JSON is answered in: the XML form's fields under the same
// names, nested elements as objects, the articles of news as an array,
// CreateTime a number. A Raw reply is returned as it is.
func RenderJSON(r Reply, h *Header, now time.Time) []byte {
	if raw, ok := r.(rawReply); ok {
		return bytes.Clone(raw)
	}
	m := map[string]any{
		"ToUserName":   h.FromUserName,
		"FromUserName": h.ToUserName,
		"CreateTime":   now.Unix(),
		"MsgType":      r.MsgType(),
	}
	r.jsonBody(m)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)              // WeChat shows the text as is
	if err := enc.Encode(m); err != nil { // only strings and numbers: cannot happen
		panic("events: rendering a JSON reply: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (t textReply) jsonBody(m map[string]any) { m["Content"] = string(t) }

func (r mediaReply) jsonBody(m map[string]any) {
	m[r.tag] = map[string]string{"MediaId": r.mediaID}
}

func (v videoReply) jsonBody(m map[string]any) {
	m["Video"] = map[string]string{"MediaId": v.mediaID, "Title": v.title, "Description": v.description}
}

func (n newsReply) jsonBody(m map[string]any) {
	articles := make([]map[string]string, 0, len(n))
	for _, a := range n {
		articles = append(articles, map[string]string{"Title": a.Title, "Description": a.Description, "PicUrl": a.PicURL, "Url": a.URL})
	}
	m["ArticleCount"] = len(n)
	m["Articles"] = articles
}

// Music is a music reply.
type Music struct {
	Title, Description string
	// MusicURL plays on any network; HQMusicURL, on Wi-Fi, in better
	// quality.
	MusicURL, HQMusicURL string
	// ThumbMediaId is the uploaded thumbnail's media id.
	ThumbMediaId string
}

// MsgType implements Reply.
func (Music) MsgType() string { return "music" }

func (mu Music) writeBody(b *bytes.Buffer) {
	b.WriteString("<Music>")
	WriteCDATA(b, "Title", mu.Title)
	WriteCDATA(b, "Description", mu.Description)
	WriteCDATA(b, "MusicUrl", mu.MusicURL)
	WriteCDATA(b, "HQMusicUrl", mu.HQMusicURL)
	WriteCDATA(b, "ThumbMediaId", mu.ThumbMediaId)
	b.WriteString("</Music>")
}

func (mu Music) jsonBody(m map[string]any) {
	m["Music"] = map[string]string{
		"Title": mu.Title, "Description": mu.Description, "MusicUrl": mu.MusicURL,
		"HQMusicUrl": mu.HQMusicURL, "ThumbMediaId": mu.ThumbMediaId,
	}
}

type transferReply string

// TransferCustomerService hands the user's message to customer service:
// to the agent kfAccount ("name@account") if given and online, else to
// any agent.
func TransferCustomerService(kfAccount ...string) Reply {
	if len(kfAccount) > 0 {
		return transferReply(kfAccount[0])
	}
	return transferReply("")
}

func (transferReply) MsgType() string { return "transfer_customer_service" }
func (t transferReply) writeBody(b *bytes.Buffer) {
	if t != "" {
		b.WriteString("<TransInfo>")
		WriteCDATA(b, "KfAccount", string(t))
		b.WriteString("</TransInfo>")
	}
}

func (t transferReply) jsonBody(m map[string]any) {
	if t != "" {
		m["TransInfo"] = map[string]string{"KfAccount": string(t)}
	}
}

type rawReply []byte

// Raw replies with body exactly as given, for the replies the helpers do
// not cover: it must be a whole passive reply (XML for a push that arrived
// as XML, JSON for one that arrived as JSON), addressed and stamped by the
// caller. pushgate seals it in safe mode like any reply.
func Raw(body []byte) Reply { return rawReply(bytes.Clone(body)) }

func (rawReply) MsgType() string         { return "" }
func (rawReply) writeBody(*bytes.Buffer) {}
func (rawReply) jsonBody(map[string]any) {}
