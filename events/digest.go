package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
)

// Digest is the SHA-256 of a push's canonical form: payload (the push as
// [Marshal] encodes it, every field including the nested ones and those
// kept in Header.Extra) read as JSON, with the members of every object in
// name order, and each name and value prefixed by its type and length, so
// that no two different pushes share an encoding. Strings are compared
// decoded (escapes resolved); numbers as written. The order of a list's
// items is kept: it is part of the push. A payload that is not JSON is
// hashed as it is.
func Digest(payload []byte) [sha256.Size]byte {
	return sha256.Sum256(canonical(payload))
}

// canonical returns what Digest hashes: the canonical form of payload, or
// payload itself when it is not JSON.
func canonical(payload []byte) []byte {
	c := canon{d: payload, out: make([]byte, 0, len(payload)+len(payload)/4+16)}
	c.spans = containers(payload)
	end, err := c.value(0)
	if err != nil || skipSpace(payload, end) != len(payload) {
		return payload
	}
	return c.out
}

var errSyntax = errors.New("events: digest: not JSON")

// canon writes the canonical form of the JSON in d to out.
type canon struct {
	d   []byte
	out []byte
	// spans are d's objects and arrays in the order they open, found in
	// one pass, so that a member or item is skipped, and a list counted,
	// without rescanning what it holds (which made Digest quadratic in the
	// depth). nil when d's brackets do not balance.
	spans []span
}

// span is an object or array of d: where it opens and ends, and how many
// members or items it has.
type span struct {
	start, end, n int
}

// containers returns the objects and arrays of d in the order they open,
// or nil when its brackets do not balance (d is then not JSON).
func containers(d []byte) []span {
	var (
		spans []span
		open  []int // indexes in spans of the containers still open
		empty []bool
	)
	for i := 0; i < len(d); i++ {
		switch b := d[i]; b {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			end, err := skipString(d, i)
			if err != nil {
				return nil
			}
			i = end - 1
		case ',':
			if len(open) > 0 {
				spans[open[len(open)-1]].n++
			}
			continue
		case '}', ']':
			if len(open) == 0 {
				return nil
			}
			top := open[len(open)-1]
			if want := d[spans[top].start] + 2; b != want { // '{'+2 is '}', '['+2 is ']'
				return nil
			}
			spans[top].end = i + 1
			if !empty[len(empty)-1] {
				spans[top].n++ // one more than its commas
			}
			open, empty = open[:len(open)-1], empty[:len(empty)-1]
			continue
		}
		if len(empty) > 0 {
			empty[len(empty)-1] = false
		}
		if b := d[i]; b == '{' || b == '[' {
			open, empty = append(open, len(spans)), append(empty, true)
			spans = append(spans, span{start: i, end: -1})
		}
	}
	if len(open) > 0 {
		return nil
	}
	return spans
}

// span returns the container that opens at i.
func (c *canon) span(i int) (span, bool) {
	k, ok := slices.BinarySearchFunc(c.spans, i, func(s span, i int) int { return s.start - i })
	if !ok {
		return span{}, false
	}
	return c.spans[k], true
}

// skip returns where the value starting at or after i ends.
func (c *canon) skip(i int) (int, error) {
	i = skipSpace(c.d, i)
	if i < len(c.d) && (c.d[i] == '{' || c.d[i] == '[') {
		if sp, ok := c.span(i); ok {
			return sp.end, nil
		}
	}
	return skipValue(c.d, i)
}

// member is an object's member: its decoded name and where its value starts.
type member struct {
	name  []byte
	value int
}

func (c *canon) head(tag byte, n int) {
	c.out = append(c.out, tag)
	c.out = binary.AppendUvarint(c.out, uint64(n))
}

func (c *canon) text(tag byte, s []byte) {
	c.head(tag, len(s))
	c.out = append(c.out, s...)
}

// value writes the value starting at or after i and returns where it ends.
func (c *canon) value(i int) (int, error) {
	i = skipSpace(c.d, i)
	if i >= len(c.d) {
		return 0, errSyntax
	}
	switch c.d[i] {
	case '{':
		return c.object(i)
	case '[':
		return c.array(i)
	case '"':
		s, end, err := readString(c.d, i)
		if err != nil {
			return 0, err
		}
		c.text('s', s)
		return end, nil
	case 't':
		return c.literal(i, "true", 't')
	case 'f':
		return c.literal(i, "false", 'f')
	case 'n':
		return c.literal(i, "null", 'z')
	}
	end := scanNumber(c.d, i)
	if end == i {
		return 0, errSyntax
	}
	c.text('n', c.d[i:end])
	return end, nil
}

func (c *canon) literal(i int, word string, tag byte) (int, error) {
	if !bytes.HasPrefix(c.d[i:], []byte(word)) {
		return 0, errSyntax
	}
	c.head(tag, 0)
	return i + len(word), nil
}

func (c *canon) object(i int) (int, error) {
	var buf [16]member
	ms := buf[:0]
	i = skipSpace(c.d, i+1)
	if i < len(c.d) && c.d[i] == '}' {
		c.head('o', 0)
		return i + 1, nil
	}
	for {
		i = skipSpace(c.d, i)
		if i >= len(c.d) || c.d[i] != '"' {
			return 0, errSyntax
		}
		name, end, err := readString(c.d, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(c.d, end)
		if i >= len(c.d) || c.d[i] != ':' {
			return 0, errSyntax
		}
		start := i + 1
		if i, err = c.skip(start); err != nil {
			return 0, err
		}
		ms = append(ms, member{name, start})
		i = skipSpace(c.d, i)
		if i >= len(c.d) {
			return 0, errSyntax
		}
		if c.d[i] == '}' {
			break
		}
		if c.d[i] != ',' {
			return 0, errSyntax
		}
		i++
	}
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.name, b.name) })
	c.head('o', len(ms))
	for _, m := range ms {
		c.text('k', m.name)
		if _, err := c.value(m.value); err != nil {
			return 0, err
		}
	}
	return i + 1, nil
}

func (c *canon) array(i int) (end int, err error) {
	// Count the items first: the count leads them.
	n, end := 0, skipSpace(c.d, i+1)
	if end < len(c.d) && c.d[end] == ']' {
		c.head('a', 0)
		return end + 1, nil
	}
	if sp, ok := c.span(i); ok {
		n, end = sp.n, sp.end
	} else {
		if n, end, err = c.count(end); err != nil {
			return 0, err
		}
	}
	c.head('a', n)
	j := i + 1
	for range n {
		if j, err = c.value(j); err != nil {
			return 0, err
		}
		j = skipSpace(c.d, j) + 1 // past "," or "]"
	}
	return end, nil
}

// count counts the items of the array whose first item starts at j, and
// returns it with where the array ends.
func (c *canon) count(j int) (n, end int, err error) {
	for {
		if j, err = skipValue(c.d, j); err != nil {
			return 0, 0, err
		}
		n++
		j = skipSpace(c.d, j)
		if j >= len(c.d) {
			return 0, 0, errSyntax
		}
		if c.d[j] == ']' {
			return n, j + 1, nil
		}
		if c.d[j] != ',' {
			return 0, 0, errSyntax
		}
		j++
	}
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns where the value starting at or after i ends.
func skipValue(d []byte, i int) (int, error) {
	i = skipSpace(d, i)
	if i >= len(d) {
		return 0, errSyntax
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			case '"':
				end, err := skipString(d, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			}
		}
		return 0, errSyntax
	case 't':
		return skipWord(d, i, "true")
	case 'f':
		return skipWord(d, i, "false")
	case 'n':
		return skipWord(d, i, "null")
	}
	end := scanNumber(d, i)
	if end == i {
		return 0, errSyntax
	}
	return end, nil
}

func skipWord(d []byte, i int, word string) (int, error) {
	if !bytes.HasPrefix(d[i:], []byte(word)) {
		return 0, errSyntax
	}
	return i + len(word), nil
}

// skipString returns where the string whose quote is at i ends.
func skipString(d []byte, i int) (int, error) {
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errSyntax
}

// readString returns the decoded string whose quote is at i, and where it
// ends. Without escapes it is a slice of d.
func readString(d []byte, i int) ([]byte, int, error) {
	end, err := skipString(d, i)
	if err != nil {
		return nil, 0, err
	}
	raw := d[i+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, end, nil
	}
	var s string
	if err := json.Unmarshal(d[i:end], &s); err != nil {
		return nil, 0, errSyntax
	}
	return []byte(s), end, nil
}

// scanNumber returns where the number starting at i ends (i if none does).
func scanNumber(d []byte, i int) int {
	j := i
	for j < len(d) {
		switch b := d[j]; {
		case b >= '0' && b <= '9', b == '-', b == '+', b == '.', b == 'e', b == 'E':
			j++
		default:
			return j
		}
	}
	return j
}
