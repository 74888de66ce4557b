package handlers

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pushgate/pushgate/events"
)

// ErrDecrypt wraps every reason a safe-mode push cannot be opened.
var ErrDecrypt = errors.New("cannot decrypt push")

// ErrMsgSignature is Open's error for a msg_signature that does not match:
// the push is not genuine (401), rather than undecryptable (400).
var ErrMsgSignature = errors.New("msg_signature does not match")

// Crypter opens and seals WeChat safe-mode (encrypt_type=aes) messages:
// AES-256-CBC with the key Base64(EncodingAESKey+"="), the IV its first 16
// bytes, PKCS#7 padding to 32 bytes, over random(16) | length(4, big
// endian) | message | app id.
type Crypter struct {
	token string
	appID string
	block cipher.Block
	key   []byte
}

// NewCrypter checks the 43-character EncodingAESKey and returns a Crypter.
// With appID empty the app id inside messages is not checked.
func NewCrypter(token, encodingAESKey, appID string) (*Crypter, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("EncodingAESKey must be 43 characters, got %d", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("EncodingAESKey is not base64 of 32 bytes: %v", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Crypter{token: token, appID: appID, block: block, key: key}, nil
}

// MsgSignature is the safe-mode signature: hex SHA-1 of token, timestamp,
// nonce and the Encrypt field, sorted and joined.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	parts := []string{token, timestamp, nonce, encrypt}
	slices.Sort(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

const padBlock = 32

// Open verifies msgSignature over encrypt and returns the plaintext push.
func (c *Crypter) Open(msgSignature, timestamp, nonce, encrypt string) ([]byte, error) {
	msg, appID, err := c.decrypt(msgSignature, timestamp, nonce, encrypt)
	if err != nil {
		return nil, err
	}
	if c.appID != "" && appID != c.appID {
		return nil, fmt.Errorf("%w: app id %q is not ours", ErrDecrypt, appID)
	}
	return msg, nil
}

// decrypt verifies msgSignature over encrypt and returns the message and
// the id it was sealed for (app id, or WeCom's receive id), unchecked.
func (c *Crypter) decrypt(msgSignature, timestamp, nonce, encrypt string) (msg []byte, id string, err error) {
	want := MsgSignature(c.token, timestamp, nonce, encrypt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(msgSignature)) != 1 {
		return nil, "", fmt.Errorf("%w: %w", ErrDecrypt, ErrMsgSignature)
	}
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, "", fmt.Errorf("%w: Encrypt is not base64", ErrDecrypt)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, "", fmt.Errorf("%w: ciphertext is not a whole number of blocks", ErrDecrypt)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > padBlock || pad > len(plain) {
		return nil, "", fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", fmt.Errorf("%w: message too short", ErrDecrypt)
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, "", fmt.Errorf("%w: bad message length", ErrDecrypt)
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}

// Seal encrypts msg and returns the Encrypt field.
func (c *Crypter) Seal(msg []byte) string {
	var b bytes.Buffer
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	b.Write(random)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(msg)))
	b.Write(msg)
	b.WriteString(c.appID)
	pad := padBlock - b.Len()%padBlock
	b.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	ct := b.Bytes()
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(ct, ct)
	return base64.StdEncoding.EncodeToString(ct)
}

// SealReply wraps a passive reply for a safe-mode push, stamped with the
// Unix time now (decimal digits, so it needs no escaping).
func (c *Crypter) SealReply(reply []byte, now int64, nonce string) []byte {
	timestamp := strconv.FormatInt(now, 10)
	enc := c.Seal(reply)
	var b bytes.Buffer
	b.WriteString("<xml>")
	events.WriteCDATA(&b, "Encrypt", enc)
	events.WriteCDATA(&b, "MsgSignature", MsgSignature(c.token, timestamp, nonce, enc))
	b.WriteString("<TimeStamp>" + timestamp + "</TimeStamp>")
	events.WriteCDATA(&b, "Nonce", nonce)
	b.WriteString("</xml>")
	return b.Bytes()
}

// SealPush builds a safe-mode push envelope around a plaintext push, as
// WeChat sends it: for tests and `pushgate send`.
func (c *Crypter) SealPush(push []byte, toUser string) (envelope []byte, encrypt string) {
	encrypt = c.Seal(push)
	var b bytes.Buffer
	b.WriteString("<xml>")
	events.WriteCDATA(&b, "ToUserName", toUser)
	events.WriteCDATA(&b, "Encrypt", encrypt)
	b.WriteString("</xml>")
	return b.Bytes(), encrypt
}

// envelopeEncrypt finds the Encrypt field of a safe-mode body, XML or JSON.
func envelopeEncrypt(body []byte) (string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var env struct{ Encrypt string }
		if err := json.Unmarshal(trimmed, &env); err != nil || env.Encrypt == "" {
			return "", fmt.Errorf("%w: body has no Encrypt field", ErrDecrypt)
		}
		return env.Encrypt, nil
	}
	return xmlEnvelopeEncrypt(trimmed)
}

// maxEnvelopeFields bounds the elements an XML envelope's root may hold
// before its Encrypt field: WeChat's have two or three (ToUserName or
// AppId, Encrypt, AgentID).
const maxEnvelopeFields = 64

// xmlEnvelopeEncrypt reads the text of the Encrypt field of the XML
// envelope body, as a stream: on the Open Platform and WeCom routes nothing
// vouches for the body before its Encrypt is found (the msg_signature is
// over it), so it must not cost memory in proportion to what it holds, as
// a tree of it would. It stops at the Encrypt field, and refuses a root
// with more than maxEnvelopeFields elements before it, or nested deeper
// than 8.
func xmlEnvelopeEncrypt(body []byte) (string, error) {
	notEnvelope := fmt.Errorf("%w: body is not an XML envelope", ErrDecrypt)
	noEncrypt := fmt.Errorf("%w: body has no Encrypt field", ErrDecrypt)
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, fields := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF && depth == 0 && fields > 0 {
				return "", noEncrypt
			}
			return "", notEnvelope
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > 8 {
				return "", notEnvelope
			}
			if depth != 2 {
				continue
			}
			if fields++; fields > maxEnvelopeFields {
				return "", noEncrypt
			}
			if t.Name.Local != "Encrypt" {
				continue
			}
			var text []byte
			for {
				tok, err := d.Token()
				if err != nil {
					return "", notEnvelope
				}
				cd, ok := tok.(xml.CharData)
				if !ok {
					break
				}
				text = append(text, cd...)
			}
			if len(text) == 0 {
				return "", noEncrypt
			}
			return string(text), nil
		case xml.EndElement:
			if depth--; depth == 0 {
				return "", noEncrypt
			}
		}
	}
}
