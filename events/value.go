package events

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// value is one field of a push as it arrived: an XML element or a raw JSON
// value. The typed structs read their fields through it, so one set of
// per-type field switches serves both wire formats without reflection.
type value struct {
	el  *etree.Element
	raw json.RawMessage
	obj map[string]json.RawMessage // raw, already parsed as an object
	// listed, when set, is set to true when the field is read as a list
	// (each, items): Decode and nested set it on an XML element whose tag
	// repeats, to learn whether the type kept every copy.
	listed *bool
}

// str returns the field as a string: an element's character data (CDATA or
// plain, exactly as sent), or a JSON string. A JSON number is taken as its
// literal text.
func (v value) str() (string, error) {
	if v.el != nil {
		for _, c := range v.el.Child {
			if _, ok := c.(*etree.Element); ok {
				return "", errNotText
			}
		}
		return v.el.Text(), nil
	}
	raw := v.raw
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	if len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return string(raw), nil
	}
	if string(raw) == "null" {
		return "", nil
	}
	return "", errNotText
}

// number returns the field's text with surrounding white space removed, for
// numeric fields: XML allows a bare number or one wrapped in CDATA, JSON a
// number or a numeric string.
func (v value) number() (string, error) {
	s, err := v.str()
	if err != nil {
		return "", errNotNumber
	}
	return strings.TrimSpace(s), nil
}

func (v value) int64() (int64, error) {
	s, err := v.number()
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w, got %q", errNotNumber, s)
	}
	return n, nil
}

func (v value) float64() (float64, error) {
	s, err := v.number()
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w, got %q", errNotNumber, s)
	}
	return f, nil
}

// fields calls fn for every member of an XML element or a JSON object, in
// the order they arrived (JSON: in key order of the decoded map).
func (v value) fields(fn func(name string, v value) error) error {
	if v.el != nil {
		for _, c := range v.el.Child {
			el, ok := c.(*etree.Element)
			if !ok {
				continue
			}
			if err := fn(el.Tag, value{el: el}); err != nil {
				return err
			}
		}
		return nil
	}
	m := v.obj
	if m == nil {
		if err := json.Unmarshal(v.raw, &m); err != nil || m == nil {
			return errNotObject
		}
	}
	for _, name := range sortedKeys(m) {
		if err := fn(name, value{raw: m[name]}); err != nil {
			return err
		}
	}
	return nil
}

// items calls fn for every entry of a list: the child elements of an XML
// element (WeChat wraps each in <item>), or the members of a JSON array.
func (v value) items(fn func(v value) error) error {
	if v.listed != nil {
		*v.listed = true
	}
	if v.el != nil {
		for _, c := range v.el.Child {
			if el, ok := c.(*etree.Element); ok {
				if err := fn(value{el: el}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v.raw, &list); err != nil {
		return errNotList
	}
	for _, raw := range list {
		if err := fn(value{raw: raw}); err != nil {
			return err
		}
	}
	return nil
}

// keep returns the field in a form that marshals back to JSON faithfully:
// a string for a text element, a map (with a list for repeated names) for an
// element with children, the raw JSON for JSON. It is how fields nobody
// declared are kept.
func (v value) keep() any {
	if v.el == nil {
		return v.raw
	}
	children := v.el.ChildElements()
	if len(children) == 0 {
		return v.el.Text()
	}
	m := make(map[string]any, len(children))
	for _, c := range children {
		kept := value{el: c}.keep()
		switch prev := m[c.Tag].(type) {
		case nil:
			m[c.Tag] = kept
		case []any:
			m[c.Tag] = append(prev, kept)
		default:
			m[c.Tag] = []any{prev, kept}
		}
	}
	return m
}
