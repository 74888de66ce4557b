package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Format is a wire format of pushes.
type Format uint8

// The formats WeChat pushes in.
const (
	XML Format = iota + 1
	JSON
)

func (f Format) String() string {
	switch f {
	case XML:
		return "xml"
	case JSON:
		return "json"
	}
	return "unknown format"
}

// ParseFormat returns the format named "xml" or "json", or 0.
func ParseFormat(name string) Format {
	switch name {
	case "xml":
		return XML
	case "json":
		return JSON
	}
	return 0
}

// MaxDepth is how deeply elements may nest in an XML push. WeChat's deepest
// (SendPicsInfo > PicList > item > PicMd5Sum under the root) is 5.
const MaxDepth = 32

// DetectFormat tells the format of a body: from the Content-Type when it
// names XML or JSON, else from the first byte that is not white space ('<'
// is XML, '{' or '[' JSON). It returns 0 when neither tells.
func DetectFormat(contentType string, body []byte) Format {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err == nil {
			switch {
			case strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json"):
				return JSON
			case strings.HasSuffix(mt, "/xml") || strings.HasSuffix(mt, "+xml"):
				return XML
			}
		}
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return 0
	}
	switch trimmed[0] {
	case '<':
		return XML
	case '{', '[':
		return JSON
	}
	return 0
}

// Decode parses a push in the given format into the type its MsgType and
// Event name, fills every field (keeping undeclared ones in Extra), and
// validates it. Errors wrap ErrMalformed (*MalformedError) or ErrInvalid
// (*InvalidError) and name what is wrong.
func Decode(body []byte, f Format) (Event, error) {
	body = bytes.TrimPrefix(body, []byte("\ufeff")) // a byte-order mark
	var (
		root value
		err  error
	)
	switch f {
	case XML:
		root, err = parseXML(body)
	case JSON:
		root, err = parseJSON(body)
	default:
		return nil, &MalformedError{Format: f, Reason: "body is neither XML nor JSON"}
	}
	if err != nil {
		return nil, err
	}
	msgType, event, infoType := root.header()
	msgType, infoType = strings.TrimSpace(msgType), strings.TrimSpace(infoType)
	kind := KindOf(msgType, strings.TrimSpace(event))
	if msgType == "" && infoType != "" {
		kind = ComponentKind(infoType) // an Open Platform event
	}
	if bad := repeatedHeader(root); len(bad) > 0 {
		return nil, &InvalidError{Kind: kind, Fields: bad}
	}
	e, _ := New(kind)
	h := e.Head()
	h.format = f
	var (
		bad    []FieldError
		rep    = repeatedTags(root.el)
		listed bool
	)
	// A key repeated in a JSON object (encoding/json keeps the last copy),
	// or XML the decoder does not read (the root's name among it).
	if root.el == nil {
		h.lost = duplicateKey(root.raw)
	} else {
		h.lost = root.el.Tag != "xml" || unreadXML(root.el)
	}
	err = root.fields(func(name string, v value) error {
		repeated := rep != nil && rep[name]
		if repeated {
			listed, v.listed = false, &listed
		}
		ok, err := e.setField(name, v)
		if ok && repeated && !listed {
			h.lost = true // a declared field keeps one copy
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				fe = &FieldError{Field: name, Reason: err.Error()}
			}
			bad = append(bad, *fe)
		} else if !ok {
			h.keep(name, v)
		}
		return nil
	})
	if err != nil {
		return nil, &MalformedError{Format: f, Reason: err.Error()}
	}
	if len(bad) > 0 {
		return nil, &InvalidError{Kind: e.Kind(), Fields: bad}
	}
	if g, ok := e.(*Generic); ok && g.componentShaped() {
		g.ToUserName = extraText(g.Extra["AppId"]) // as Component's Head
	}
	if err := Validate(e); err != nil {
		return nil, err
	}
	if h.lost {
		h.unkept = wholeDigest(root)
	}
	return e, nil
}

// parseXML parses an XML push into etree's tree and checks its top level
// (xmlRoot). The XML WeChat sends takes fastXML's path, anything else
// etree's; fastXML builds the tree etree would.
func parseXML(body []byte) (value, error) {
	doc, ok := fastXML(body)
	if !ok {
		var err error
		if doc, err = etreeXML(body); err != nil {
			return value{}, err
		}
	}
	return xmlRoot(doc)
}

// etreeXML parses body with etree, elements nested at most MaxDepth deep.
func etreeXML(body []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = MaxDepth
	if err := doc.ReadFromBytes(body); err != nil {
		reason := err.Error()
		if errors.Is(err, etree.ErrMaxDepth) {
			reason = "elements nest deeper than the limit of 32"
		}
		return nil, &MalformedError{Format: XML, Reason: reason}
	}
	return doc, nil
}

// xmlRoot returns the root element of a parsed push, refusing directives,
// more than one root element and text outside it.
func xmlRoot(doc *etree.Document) (value, error) {
	var root *etree.Element
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Directive:
			return value{}, &MalformedError{Format: XML, Reason: "DOCTYPE and other directives are not allowed"}
		case *etree.Element:
			if root != nil {
				return value{}, &MalformedError{Format: XML, Reason: "more than one root element"}
			}
			root = t
		case *etree.CharData:
			if !t.IsWhitespace() {
				return value{}, &MalformedError{Format: XML, Reason: "text outside the root element"}
			}
		}
	}
	if root == nil {
		return value{}, &MalformedError{Format: XML, Reason: "no root element"}
	}
	return value{el: root}, nil
}

func parseJSON(body []byte) (value, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return value{}, &MalformedError{Format: JSON, Reason: "body must be a JSON object"}
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		reason := "invalid JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			reason = se.Error() + " at offset " + strconv.FormatInt(se.Offset, 10)
		}
		return value{}, &MalformedError{Format: JSON, Reason: reason}
	}
	if reason := lossyText(trimmed); reason != "" {
		return value{}, &MalformedError{Format: JSON, Reason: reason}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return value{}, &MalformedError{Format: JSON, Reason: err.Error()}
	}
	return value{raw: trimmed, obj: obj}, nil
}

// header finds MsgType, Event and InfoType (Open Platform events) among
// the root's fields.
func (v value) header() (msgType, event, infoType string) {
	_ = v.fields(func(name string, f value) error {
		switch name {
		case "MsgType":
			msgType, _ = f.str()
		case "Event":
			event, _ = f.str()
		case "InfoType":
			infoType, _ = f.str()
		}
		return nil
	})
	return msgType, event, infoType
}

// repeatedHeader returns an error per header field (headerFields) the root
// carries more than once: an XML element repeated, or a JSON key repeated
// (encoding/json would silently keep the last).
func repeatedHeader(root value) []FieldError {
	counts := make(map[string]int, len(headerFields))
	if root.el != nil {
		for _, c := range root.el.ChildElements() {
			counts[c.Tag]++
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(root.raw))
		if _, err := dec.Token(); err != nil { // '{': parseJSON checked it
			return nil
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil
			}
			name, _ := t.(string)
			counts[name]++
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
		}
	}
	var bad []FieldError
	for _, name := range headerFields {
		if n := counts[name]; n > 1 {
			bad = append(bad, FieldError{Field: name, Reason: fmt.Sprintf("appears %d times; a header field must appear once", n)})
		}
	}
	return bad
}

// lossyText says why body (valid JSON) holds text that Go's decoder would
// replace by U+FFFD: bytes that are not UTF-8, or a \u escape of half a
// surrogate pair. Two pushes that differ only there would decode alike and
// be taken for one another, so such a body is refused. "" when none.
func lossyText(body []byte) string {
	if !utf8.Valid(body) {
		return "text is not valid UTF-8"
	}
	// In valid JSON a backslash only ever starts an escape inside a string.
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++
		if body[i] != 'u' {
			continue
		}
		r := hexRune(body[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return "a \\u escape holds half a surrogate pair"
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
				return "a \\u escape holds half a surrogate pair"
			}
			if lo := hexRune(body[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return "a \\u escape holds half a surrogate pair"
			}
			i += 6
		}
	}
	return ""
}

// hexRune reads four hex digits (json.Valid has checked them).
func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
