package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"slices"
)

// Digest is the SHA-256 of a push's canonical form: payload (the push as
// [Marshal] encodes it, every field including the nested ones and those
// kept in Header.Extra) read as JSON, with the members of every object in
// name order, and each name and value prefixed by its type and length, so
// that no two different pushes share an encoding. The order of a list's
// items is kept: it is part of the push. Numbers are hashed as written. A
// payload that is not JSON is hashed as it is.
func Digest(payload []byte) [sha256.Size]byte {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return sha256.Sum256(payload)
	}
	h := sha256.New()
	c := canon{h: h}
	c.value(v)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// canon writes the canonical form of a decoded JSON value.
type canon struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64 + 1]byte
}

func (c *canon) head(tag byte, n int) {
	c.buf[0] = tag
	k := binary.PutUvarint(c.buf[1:], uint64(n))
	c.h.Write(c.buf[:1+k])
}

func (c *canon) text(tag byte, s string) {
	c.head(tag, len(s))
	c.h.Write([]byte(s))
}

func (c *canon) value(v any) {
	switch v := v.(type) {
	case map[string]any:
		c.head('o', len(v))
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			c.text('k', name)
			c.value(v[name])
		}
	case []any:
		c.head('a', len(v))
		for _, item := range v {
			c.value(item)
		}
	case string:
		c.text('s', v)
	case json.Number:
		c.text('n', string(v))
	case bool:
		if v {
			c.head('t', 0)
		} else {
			c.head('f', 0)
		}
	default: // nil
		c.head('z', 0)
	}
}
