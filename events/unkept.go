package events

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/beevik/etree"
)

// A decoded push does not always hold all of what was sent: a declared
// field whose element (or JSON key) repeats keeps one copy; an element's
// text is what comes before any processing instruction or child element
// (text around child elements is dropped), and attributes, namespace
// prefixes and processing instructions are not read at all. Two pushes that
// differ only in the copies it drops would decode alike, and a dedupe key
// of the decoded push alone would merge them. Decode notices such pushes
// and digests the whole raw push (Meta.Unkept); DedupeKey then covers it
// too. Every other push keeps the key it always had.

// repeatedTags returns the tags that occur more than once among el's child
// elements: nil when none does, or el is nil (JSON).
func repeatedTags(el *etree.Element) map[string]bool {
	if el == nil {
		return nil
	}
	var kids [16]*etree.Element
	n, rep := 0, map[string]bool(nil)
	var seen map[string]bool
	for _, t := range el.Child {
		c, ok := t.(*etree.Element)
		if !ok {
			continue
		}
		if n < len(kids) {
			for _, k := range kids[:n] {
				if k.Tag == c.Tag {
					if rep == nil {
						rep = make(map[string]bool, 1)
					}
					rep[c.Tag] = true
					break
				}
			}
			kids[n] = c
			n++
			continue
		}
		if seen == nil { // many children: a set rather than a scan
			seen = make(map[string]bool, 2*len(kids))
			for _, k := range kids {
				seen[k.Tag] = true
			}
		}
		if seen[c.Tag] {
			if rep == nil {
				rep = make(map[string]bool, 1)
			}
			rep[c.Tag] = true
		}
		seen[c.Tag] = true
	}
	return rep
}

// duplicateKey reports whether an object of d (valid JSON) has a key twice
// (compared decoded).
func duplicateKey(d []byte) bool {
	type frame struct {
		obj   bool
		first int             // index in keys of the object's first key
		set   map[string]bool // its keys, once there are many
	}
	var (
		stack     []frame
		keys      [][]byte
		expectKey bool
	)
	for i := 0; i < len(d); i++ {
		switch d[i] {
		case '{':
			stack = append(stack, frame{obj: true, first: len(keys)})
			expectKey = true
		case '[':
			stack = append(stack, frame{first: len(keys)})
		case '}', ']':
			if len(stack) == 0 {
				return false
			}
			keys = keys[:stack[len(stack)-1].first]
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].obj
		case ':':
			expectKey = false
		case '"':
			s, end, err := readString(d, i)
			if err != nil {
				return false
			}
			i = end - 1
			if !expectKey || len(stack) == 0 {
				continue
			}
			expectKey = false
			f := &stack[len(stack)-1]
			if f.set != nil {
				if f.set[string(s)] {
					return true
				}
				f.set[string(s)] = true
				continue
			}
			for _, k := range keys[f.first:] {
				if string(k) == string(s) {
					return true
				}
			}
			keys = append(keys, s)
			if len(keys)-f.first > 16 {
				f.set = make(map[string]bool, 2*(len(keys)-f.first))
				for _, k := range keys[f.first:] {
					f.set[string(k)] = true
				}
				keys = keys[:f.first]
			}
		}
	}
	return false
}

// wholeDigest returns the hex SHA-256 of the canonical form of the whole
// raw push: for JSON, its canonical JSON (see Digest; the copies of a
// repeated key kept in order); for XML, every element in document order
// with its tag and text.
func wholeDigest(root value) string {
	var sum [sha256.Size]byte
	if root.el == nil {
		sum = Digest(root.raw)
	} else {
		c := canon{out: make([]byte, 0, 256)}
		c.element(root.el)
		sum = sha256.Sum256(c.out)
	}
	return hex.EncodeToString(sum[:])
}

// unreadXML reports whether el (the root) or an element under it has what
// the decoder does not read: attributes, a namespace prefix, a processing
// instruction (nor the text after it), or text that is not white space
// beside child elements.
func unreadXML(el *etree.Element) bool {
	if len(el.Attr) > 0 || el.Space != "" {
		return true
	}
	text, kids := false, false
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if unreadXML(t) {
				return true
			}
			kids = true
		case *etree.CharData:
			text = text || !t.IsWhitespace()
		case *etree.Comment:
		default: // a processing instruction or directive
			return true
		}
	}
	return text && kids
}

// element writes el: its prefix and tag, its attributes, then its text,
// processing instructions and child elements in document order (text as
// etree's CharData gives it, CDATA or not; comments are left out).
func (c *canon) element(el *etree.Element) {
	c.text('e', []byte(el.Space))
	c.text('k', []byte(el.Tag))
	c.head('a', len(el.Attr))
	for _, a := range el.Attr {
		c.text('k', []byte(a.Space))
		c.text('k', []byte(a.Key))
		c.text('s', []byte(a.Value))
	}
	n := 0
	for _, t := range el.Child {
		switch t.(type) {
		case *etree.Element, *etree.CharData, *etree.ProcInst:
			n++
		}
	}
	c.head('c', n)
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			c.element(t)
		case *etree.CharData:
			c.text('s', []byte(t.Data))
		case *etree.ProcInst:
			c.text('p', []byte(t.Target))
			c.text('s', []byte(t.Inst))
		}
	}
}
