package events

import "bytes"

// Small setters the field switches of the types below share: each reads
// one field and reports it as declared.

func setStr(dst *string, v value) (bool, error) {
	s, err := v.str()
	*dst = s
	return true, err
}

func setInt(dst *int64, v value) (bool, error) {
	n, err := v.int64()
	*dst = n
	return true, err
}

// isArray reports whether v is a JSON array.
func (v value) isArray() bool {
	if v.el != nil {
		return false
	}
	trimmed := bytes.TrimSpace(v.raw)
	return len(trimmed) > 0 && trimmed[0] == '['
}

// each calls fn for one entry or for every entry of a list: WeChat sends a
// one-entry list as the object itself (in JSON) or repeats the element (in
// XML, where each repetition arrives as a field of its own).
func (v value) each(fn func(v value) error) error {
	if v.listed != nil {
		*v.listed = true
	}
	if v.isArray() {
		return v.items(fn)
	}
	return fn(v)
}

// readEntries reads a list field as the parent's repeated entries: each
// entry (one object, an array of them, or an XML element) is read field by
// field with set; fields set does not declare are kept on h as
// "parent.name".
func readEntries[T any](h *Header, parent string, v value, dst *[]T, set func(*T, string, value) (bool, error)) error {
	return v.each(func(item value) error {
		var t T
		err := nested(h, parent, item, func(name string, f value) (bool, error) {
			return set(&t, name, f)
		})
		*dst = append(*dst, t)
		return err
	})
}
