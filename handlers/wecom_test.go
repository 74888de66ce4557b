package handlers_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/beevik/etree"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/handlers"
)

// WeCom's own sample (the WXBizMsgCrypt samples Tencent ships, whose
// values WxJava's WXBizMsgCryptTest also uses): token QDG6eK, corp id
// wx5823bf96d3bd56c7, the EncodingAESKey below; a URL check whose echostr
// opens to "1616140317555161061", and a callback sealed for that corp.
const (
	weComSampleToken  = "QDG6eK"
	weComSampleCorpID = "wx5823bf96d3bd56c7"
	weComSampleKey    = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	weComSampleEcho   = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	weComSampleBody   = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)

func TestWeComKnownVector(t *testing.T) {
	t.Parallel()
	w, err := handlers.NewWeComCrypter(weComSampleToken, weComSampleKey, weComSampleCorpID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.VerifyURL("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", weComSampleEcho)
	if err != nil || string(got) != "1616140317555161061" {
		t.Errorf("VerifyURL(sample) = %q, %v; want %q", got, err, "1616140317555161061")
	}

	doc := etree.NewDocument()
	if err := doc.ReadFromString(weComSampleBody); err != nil {
		t.Fatal(err)
	}
	enc := doc.Root().SelectElement("Encrypt").Text()
	plain, id, err := w.Open("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", enc)
	if err != nil {
		t.Fatalf("Open(sample callback) error: %v", err)
	}
	if id != weComSampleCorpID {
		t.Errorf("Open(sample callback) receive id = %q, want %q", id, weComSampleCorpID)
	}
	e, err := events.Decode(plain, events.XML)
	if err != nil {
		t.Fatalf("Decode(opened sample %q) error: %v", plain, err)
	}
	// The sample opens to a text "hello" from member mycreate to app 218.
	text, ok := e.(*events.TextMessage)
	if !ok || text.ToUserName != weComSampleCorpID || text.FromUserName != "mycreate" || text.Content != "hello" || text.AgentID != 218 || text.MsgId != 4561255354251345929 {
		t.Errorf("opened sample = %#v, want the text \"hello\" from mycreate to agent 218", e)
	}

	// The same echostr under another corp id, or another signature, fails.
	other, _ := handlers.NewWeComCrypter(weComSampleToken, weComSampleKey, "ww_other")
	if _, err := other.VerifyURL("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", weComSampleEcho); !errors.Is(err, handlers.ErrReceiveID) {
		t.Errorf("VerifyURL(sample) for another corp = %v, want ErrReceiveID", err)
	}
	if _, err := w.VerifyURL("0000000000000000000000000000000000000000", "1409659589", "263014780", weComSampleEcho); !errors.Is(err, handlers.ErrMsgSignature) {
		t.Errorf("VerifyURL(sample) with a wrong signature = %v, want ErrMsgSignature", err)
	}
}

func TestWeComRoundTrip(t *testing.T) {
	t.Parallel()
	const token, corp, suite = "tok", "ww_corp", "ww_suite"
	sealer, err := handlers.NewWeComCrypter(token, testAESKey, suite)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		accepted []string
		sig      func(stamp, nonce, enc string) string
		wantErr  error
	}{
		{"suite id accepted", []string{corp, suite}, goodSig(token), nil},
		{"only the corp id", []string{corp}, goodSig(token), handlers.ErrReceiveID},
		{"wrong token", []string{suite}, goodSig("other"), handlers.ErrMsgSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := handlers.NewWeComCrypter(token, testAESKey, tt.accepted...)
			if err != nil {
				t.Fatal(err)
			}
			echo := sealer.Seal([]byte("echo-plain-123"))
			stamp := strconv.Itoa(1700000000)
			got, err := w.VerifyURL(tt.sig(stamp, "n1", echo), stamp, "n1", echo)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, handlers.ErrDecrypt) {
					t.Errorf("VerifyURL(%s) = %q, %v; want %v wrapped in ErrDecrypt", tt.name, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != "echo-plain-123" {
				t.Errorf("VerifyURL(%s) = %q, %v; want %q", tt.name, got, err, "echo-plain-123")
			}
		})
	}
	if _, err := handlers.NewWeComCrypter(token, testAESKey); err == nil {
		t.Error("NewWeComCrypter without a receive id = nil error, want one")
	}
}

func goodSig(token string) func(stamp, nonce, enc string) string {
	return func(stamp, nonce, enc string) string { return handlers.MsgSignature(token, stamp, nonce, enc) }
}
