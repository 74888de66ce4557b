package handlers

import (
	"errors"
	"fmt"
	"slices"
)

// ErrReceiveID is wrapped by WeCom's Open and VerifyURL when a message was
// sealed for a receive id that is not the account's.
var ErrReceiveID = errors.New("receive id is not ours")

// WeComCrypter opens and seals the messages of WeCom (企业微信) callbacks.
// WeCom uses the scheme of WeChat's safe mode (see Crypter), always on, and
// names the id sealed after the message the receive id: the corp id for a
// corp's own application, the suite id for a third-party application's
// instruction callbacks, empty for a third-party application of a person.
// Its URL check is a GET whose echostr is sealed too: the answer is the
// plaintext, not echostr.
type WeComCrypter struct {
	c          *Crypter
	receiveIDs []string
}

// NewWeComCrypter checks the 43-character EncodingAESKey and returns a
// WeComCrypter that accepts messages sealed for any of receiveIDs (at
// least one; "" stands for the empty receive id) and seals replies for the
// first.
func NewWeComCrypter(token, encodingAESKey string, receiveIDs ...string) (*WeComCrypter, error) {
	if len(receiveIDs) == 0 {
		return nil, errors.New("a WeCom crypter needs the receive id (corp id or suite id)")
	}
	c, err := NewCrypter(token, encodingAESKey, receiveIDs[0])
	if err != nil {
		return nil, err
	}
	return &WeComCrypter{c: c, receiveIDs: slices.Clone(receiveIDs)}, nil
}

// VerifyURL answers WeCom's URL check (GET with msg_signature, timestamp,
// nonce and echostr, each already URL-decoded): it verifies msgSignature
// over (token, timestamp, nonce, echostr), decrypts echostr, checks its
// receive id, and returns the plaintext to answer with. A wrong signature
// wraps ErrMsgSignature, a foreign receive id ErrReceiveID; every error
// wraps ErrDecrypt.
func (w *WeComCrypter) VerifyURL(msgSignature, timestamp, nonce, echostr string) ([]byte, error) {
	plain, _, err := w.Open(msgSignature, timestamp, nonce, echostr)
	return plain, err
}

// Open verifies msgSignature over encrypt (the Encrypt field of a
// callback's body), decrypts it, checks its receive id, and returns the
// plaintext and the receive id it was sealed for.
func (w *WeComCrypter) Open(msgSignature, timestamp, nonce, encrypt string) (plain []byte, receiveID string, err error) {
	plain, receiveID, err = w.c.decrypt(msgSignature, timestamp, nonce, encrypt)
	if err != nil {
		return nil, "", err
	}
	if !slices.Contains(w.receiveIDs, receiveID) {
		return nil, "", fmt.Errorf("%w: %w: %q", ErrDecrypt, ErrReceiveID, receiveID)
	}
	return plain, receiveID, nil
}

// Seal encrypts msg for the first receive id and returns the Encrypt field.
func (w *WeComCrypter) Seal(msg []byte) string { return w.c.Seal(msg) }

// SealReply wraps a passive reply as WeCom expects it, as Crypter.SealReply.
func (w *WeComCrypter) SealReply(reply []byte, now int64, nonce string) []byte {
	return w.c.SealReply(reply, now, nonce)
}
