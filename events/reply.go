package events

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Reply is a passive reply: the message WeChat shows the user, sent as the
// answer to the push. A nil Reply answers "success".
type Reply interface {
	// MsgType is the reply's MsgType: text, image, voice, video, news.
	MsgType() string
	writeBody(b *bytes.Buffer)
}

// Render writes r as WeChat's passive-reply XML addressed back to the
// sender of the push whose header is h (ToUserName and FromUserName
// swapped), stamped with now.
func Render(r Reply, h *Header, now time.Time) []byte {
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
