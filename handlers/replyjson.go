package handlers

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// A push that arrived as JSON (a mini program in JSON mode) is answered in
// JSON (events.RenderFor), and in safe mode sealed in a JSON envelope; an
// XML push as before. The answer's own first byte tells which it is, so a
// duplicate gets its original's answer in the original's form.

// isJSONReply reports whether a rendered reply is JSON.
func isJSONReply(reply []byte) bool {
	trimmed := bytes.TrimLeft(reply, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// replyContentType is the Content-Type of a rendered (or sealed) reply.
func replyContentType(reply []byte) string {
	if isJSONReply(reply) {
		return "application/json; charset=utf-8"
	}
	return "application/xml; charset=utf-8"
}

// SealReplyJSON wraps a JSON passive reply for a safe-mode push as
// {"Encrypt":…,"MsgSignature":…,"TimeStamp":…,"Nonce":…}: the fields of
// SealReply's XML envelope, TimeStamp a number as there.
func (c *Crypter) SealReplyJSON(reply []byte, now int64, nonce string) []byte {
	timestamp := strconv.FormatInt(now, 10)
	enc := c.Seal(reply)
	b, err := json.Marshal(struct {
		Encrypt      string
		MsgSignature string
		TimeStamp    int64
		Nonce        string
	}{enc, MsgSignature(c.token, timestamp, nonce, enc), now, nonce})
	if err != nil { // strings and a number: cannot happen
		panic("handlers: sealing a JSON reply: " + err.Error())
	}
	return b
}
