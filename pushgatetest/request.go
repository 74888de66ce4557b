package pushgatetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/handlers"
)

// Request is a push to send, signed as WeChat signs it. Build it with
// Server.Request, adjust it, then Do it (or take its HTTP request).
type Request struct {
	srv       *Server
	body      []byte
	token     string
	timestamp time.Time
	nonce     string
	format    string // "xml", "json" or "" (from the body's first byte)
	safe      bool
	path      string            // "/wechat", "/wechat/NAME" or "/wechat/NAME/APPID"
	kind      string            // the account's kind
	crypter   *handlers.Crypter // seals the push and opens the reply; nil: none
	err       error             // from Account: fails Do
}

// Request starts a push of body, signed with the server's token, stamped
// now, with a fresh nonce, sealed when the server is in safe mode.
func (s *Server) Request(body []byte) *Request {
	return &Request{srv: s, body: body, token: s.Config.WeChat.Token, timestamp: time.Now(), nonce: newNonce(),
		safe: s.crypter != nil, path: "/wechat", kind: configs.KindWeChat, crypter: s.crypter}
}

// Account sends the push to the configured account name (see WithAccount)
// on /wechat/NAME, signed with its token and sealed as its kind needs: an
// Open Platform account's pushes for its component app id, a WeCom
// account's for its first receive id, both with msg_signature only (and
// no URL signature for WeCom); a wechat account's as its mode says. Do
// fails the test when no such account is configured.
func (r *Request) Account(name string) *Request {
	a, ok := r.srv.Config.Account(name)
	if !ok {
		r.err = fmt.Errorf("pushgatetest: no account %q is configured (WithAccount)", name)
		return r
	}
	r.path, r.token, r.kind, r.crypter, r.safe = "/wechat/"+name, a.Token, a.ResolvedKind(), nil, false
	if a.AESKey == "" || a.Mode == configs.ModePlain {
		return r
	}
	sealFor := a.AppID
	if r.kind == configs.KindWeCom && len(a.ReceiveID) > 0 {
		sealFor = a.ReceiveID[0]
	}
	c, err := handlers.NewCrypter(a.Token, a.AESKey, sealFor)
	if err != nil {
		r.err = fmt.Errorf("pushgatetest: account %s: %w", name, err)
		return r
	}
	r.crypter, r.safe = c, true
	return r
}

// Authorizer sends the push to an Open Platform account's message URL for
// the authorized account appID: /wechat/NAME/APPID. Call it after Account.
func (r *Request) Authorizer(appID string) *Request {
	r.path = strings.TrimSuffix(r.path, "/") + "/" + appID
	return r
}

// Token signs with token instead (a wrong one gets 401).
func (r *Request) Token(token string) *Request { r.token = token; return r }

// Timestamp stamps the push with t, for tests of timestamp checks.
func (r *Request) Timestamp(t time.Time) *Request { r.timestamp = t; return r }

// Nonce sets the nonce (the same timestamp and nonce twice gets 401).
func (r *Request) Nonce(nonce string) *Request { r.nonce = nonce; return r }

// Format sets the Content-Type: "xml" or "json".
func (r *Request) Format(format string) *Request { r.format = format; return r }

// Plain sends the push unsealed, even to a server in safe mode.
func (r *Request) Plain() *Request { r.safe = false; return r }

// HTTP returns the request to send, for a client of your own.
func (r *Request) HTTP() *http.Request {
	ts := strconv.FormatInt(r.timestamp.Unix(), 10)
	if r.err != nil {
		panic(r.err.Error())
	}
	q := url.Values{"timestamp": {ts}, "nonce": {r.nonce}}
	if r.kind != configs.KindWeCom { // WeCom signs with msg_signature only
		q.Set("signature", handlers.Signature(r.token, ts, r.nonce))
	}
	body := r.body
	sealed := r.safe && r.crypter != nil
	if sealed {
		envelope, encrypt := r.crypter.SealPush(r.body, "pushgatetest")
		body = envelope
		if r.kind != configs.KindWeCom {
			q.Set("encrypt_type", "aes")
		}
		q.Set("msg_signature", handlers.MsgSignature(r.token, ts, r.nonce, encrypt))
	}
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+r.path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		panic("pushgatetest: " + err.Error()) // the URL is ours
	}
	switch {
	case sealed: // the envelope is XML
		req.Header.Set("Content-Type", "text/xml")
	case r.format == "json" || (r.format == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))):
		req.Header.Set("Content-Type", "application/json")
	default:
		req.Header.Set("Content-Type", "text/xml")
	}
	return req
}

// Do sends the push and returns pushgate's answer, with the passive reply
// decoded (and opened, in safe mode). It fails the test if the push cannot
// be sent or a sealed reply cannot be opened.
func (r *Request) Do(t T) Answer {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%v", r.err)
		return Answer{}
	}
	resp, err := r.srv.client.Do(r.HTTP())
	if err != nil {
		t.Fatalf("pushgatetest: push: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("pushgatetest: reading the answer: %v", err)
	}
	a := Answer{Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw))}
	if a.Status != http.StatusOK || a.Body == "success" || a.Body == "" {
		return a
	}
	plain := raw
	if r.safe && r.crypter != nil {
		var env struct{ Encrypt, MsgSignature, TimeStamp, Nonce string }
		if err := xml.Unmarshal(raw, &env); err != nil {
			t.Fatalf("pushgatetest: the sealed reply is not XML: %v: %q", err, raw)
		}
		if plain, err = r.crypter.Open(env.MsgSignature, env.TimeStamp, env.Nonce, env.Encrypt); err != nil {
			t.Fatalf("pushgatetest: opening the sealed reply: %v", err)
		}
	}
	var rep Reply
	if err := xml.Unmarshal(plain, &rep); err != nil {
		t.Fatalf("pushgatetest: the passive reply is not XML: %v: %q", err, plain)
	}
	a.Reply = &rep
	return a
}

// Push sends body (XML or JSON) as a signed push and returns the answer.
func (s *Server) Push(t T, body []byte) Answer {
	t.Helper()
	return s.Request(body).Do(t)
}

// Answer is pushgate's answer to a push.
type Answer struct {
	// Status is the HTTP status: 200 stored (or a duplicate), 400
	// undecodable, 401 bad signature, 413 too large.
	Status int
	// Body is the answer's body, trimmed: "success", the passive reply's XML
	// (sealed, in safe mode), or the reason of a refusal.
	Body string
	// Reply is the passive reply, opened; nil when the answer is not one.
	Reply *Reply
}

// Success reports whether the push was accepted without a passive reply.
func (a Answer) Success() bool { return a.Status == http.StatusOK && a.Reply == nil }

// Reply is a passive reply as WeChat reads it (see events.Text and the
// other replies).
type Reply struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	// MsgType is text, image, voice, video or news.
	MsgType string
	// Content is a text reply's text.
	Content string
	// Image, Voice and Video hold a media reply's MediaId (and a video's
	// title and description).
	Image struct {
		MediaID string `xml:"MediaId"`
	}
	Voice struct {
		MediaID string `xml:"MediaId"`
	}
	Video struct {
		MediaID     string `xml:"MediaId"`
		Title       string
		Description string
	}
	// Articles are a news reply's entries.
	Articles []Article `xml:"Articles>item"`
}

// Article is one entry of a news reply.
type Article struct {
	Title       string
	Description string
	PicURL      string `xml:"PicUrl"`
	URL         string `xml:"Url"`
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
