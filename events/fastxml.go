package events

import (
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// fastXML is parseXML's fast path. For the XML WeChat sends it builds the
// very tree etree's Document.ReadFromBytes builds (with ReadSettings.
// MaxDepth = MaxDepth and otherwise default settings), without going
// through encoding/xml, whose tokenizer is most of the cost of decoding an
// XML push. ok is false for anything else, and parseXML then parses the
// body with etree as before, so every error and every tree outside the
// subset stays exactly what etree gives.
//
// It accepts, and only accepts:
//   - white space (' ', '\t', '\n') before, between and after the top-level
//     tokens;
//   - at most one XML declaration before the root, `<?xml` then pseudo-
//     attributes version="1.0", encoding="utf-8" (in any case) and
//     standalone, each at most once, values of [A-Za-z0-9._-] in matching
//     quotes, separated by white space; etree keeps it as a ProcInst;
//   - one root element; elements nested at most MaxDepth deep, whose names
//     are ASCII ([A-Za-z_][A-Za-z0-9_.-]*, no ':' so no namespace prefix),
//     with no attributes, optionally self-closed (<a/>), white space allowed
//     before the '>' or "/>", end tags matching the open element;
//   - inside elements, text and CDATA sections whose characters are valid
//     UTF-8 that encoding/xml accepts (isInCharacterRange: no control
//     characters but '\t' and '\n'), text with no "]]>", and in text the
//     five predefined entities and numeric character references (&#N;,
//     &#xH;) of such characters.
//
// It refuses (returns ok false), among others: comments, processing
// instructions other than the declaration, DOCTYPE and other directives,
// attributes, names with ':' or non-ASCII bytes, '\r' anywhere
// (encoding/xml normalises line ends), a declaration naming another
// version or encoding, text or CDATA outside the root, a second root,
// mismatched tags, depth over MaxDepth, references to surrogates
// (encoding/xml turns those into U+FFFD) and EOF inside anything. Most of
// these are refused by etree or by parseXML's later checks anyway; the
// rest are rare enough that etree's speed does not matter for them.
//
// The tree it builds shares one string copy of body (tags and text are
// substrings of it, text with references is decoded into strings of its
// own) and allocates the elements, the character data and the child lists
// in one slice each; each element's (and the document's) Child has exactly
// the capacity of its children, so appending to it later reallocates
// rather than writing over a neighbour's.
func fastXML(body []byte) (doc *etree.Document, ok bool) {
	// The tokens of most pushes fit in buf, on the stack; longer ones grow
	// toks on the heap.
	var buf [128]fastTok
	var p fastParser
	toks, ok := p.scan(string(body), buf[:0])
	if !ok {
		return nil, false
	}
	return p.build(toks), true
}

// fastKind is the kind of a fastTok.
type fastKind uint8

const (
	fastStart fastKind = iota // a start tag (or a self-closed element)
	fastEnd                   // an end tag (also after a self-closed element)
	fastText                  // text or a CDATA section: one etree.CharData
	fastDecl                  // the XML declaration: an etree.ProcInst
)

// fastTok is one token fastParser.scan found, in document order.
type fastTok struct {
	kind fastKind
	// kids is, for fastStart, how many child tokens the element has.
	kids int32
	// data is the tag (fastStart), the decoded text (fastText) or the
	// declaration's instruction (fastDecl).
	data string
}

// fastParser scans a body into tokens (scan), then builds etree's tree
// from them (build).
type fastParser struct {
	// Counts for build's allocations: elements, character data, children
	// of elements, children of the document.
	nElems, nTexts, nKids, nDocKids int
}

// scan appends the tokens of s to toks, and reports whether s lies in the
// subset fastXML accepts. (toks is a local slice rather than a field of p
// so that fastXML's buffer can stay on the stack.)
func (p *fastParser) scan(s string, toks []fastTok) ([]fastTok, bool) {
	var (
		open     [MaxDepth]int // toks indexes of the open elements' fastStart
		depth    int
		rootDone bool
		declDone bool
	)
	// child counts a new child token of the innermost open element, or of
	// the document.
	child := func() {
		if depth == 0 {
			p.nDocKids++
			return
		}
		toks[open[depth-1]].kids++
		p.nKids++
	}
	text := func(data string) {
		toks = append(toks, fastTok{kind: fastText, data: data})
		p.nTexts++
	}
	for i := 0; i < len(s); {
		if s[i] != '<' {
			if depth == 0 {
				// Outside the root only white space, as one CharData up to
				// the next '<' or the end.
				j := i
				for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
					j++
				}
				if j < len(s) && s[j] != '<' {
					return nil, false
				}
				text(s[i:j])
				child()
				i = j
				continue
			}
			data, j, ok := scanText(s, i)
			if !ok || j == len(s) { // EOF inside an element
				return nil, false
			}
			text(data)
			child()
			i = j
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		switch s[i+1] {
		case '/': // an end tag
			name, j := scanName(s, i+2)
			if name == "" || depth == 0 || toks[open[depth-1]].data != name {
				return nil, false
			}
			j = scanSpace(s, j)
			if j >= len(s) || s[j] != '>' {
				return nil, false
			}
			toks = append(toks, fastTok{kind: fastEnd})
			depth--
			if depth == 0 {
				rootDone = true
			}
			i = j + 1
		case '?': // only the XML declaration, once, before the root
			if depth != 0 || rootDone || declDone {
				return nil, false
			}
			inst, j, ok := scanDecl(s, i)
			if !ok {
				return nil, false
			}
			toks = append(toks, fastTok{kind: fastDecl, data: inst})
			child()
			declDone = true
			i = j
		case '!': // only CDATA, inside the root
			const cdata, end = "<![CDATA[", "]]>"
			if depth == 0 || !strings.HasPrefix(s[i:], cdata) {
				return nil, false
			}
			k := strings.Index(s[i+len(cdata):], end)
			if k < 0 {
				return nil, false
			}
			data := s[i+len(cdata) : i+len(cdata)+k]
			if !cdataChars(data) {
				return nil, false
			}
			text(data)
			child()
			i += len(cdata) + k + len(end)
		default: // a start tag
			if depth == 0 && rootDone {
				return nil, false // a second root: parseXML refuses it
			}
			name, j := scanName(s, i+1)
			if name == "" {
				return nil, false
			}
			if depth == MaxDepth {
				return nil, false // etree refuses it: ErrMaxDepth
			}
			j = scanSpace(s, j)
			selfClosed := false
			switch {
			case j < len(s) && s[j] == '>':
				j++
			case j+1 < len(s) && s[j] == '/' && s[j+1] == '>':
				selfClosed = true
				j += 2
			default: // an attribute, or the end of the body
				return nil, false
			}
			child()
			toks = append(toks, fastTok{kind: fastStart, data: name})
			p.nElems++
			if selfClosed {
				toks = append(toks, fastTok{kind: fastEnd})
				if depth == 0 {
					rootDone = true
				}
			} else {
				open[depth] = len(toks) - 1
				depth++
			}
			i = j
		}
	}
	return toks, depth == 0 && rootDone
}

// build makes etree's tree of toks: the same tokens, in the same order,
// with the same fields, parents and indexes as etree's readFrom gives
// them (it adds every token to its parent as it reads it, with addChild;
// AddChild does the same here).
func (p *fastParser) build(toks []fastTok) *etree.Document {
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = MaxDepth
	var (
		elems = make([]etree.Element, p.nElems)
		texts = make([]etree.CharData, p.nTexts)
		kids  = make([]etree.Token, p.nDocKids+p.nKids)
		stack [MaxDepth + 1]*etree.Element
		depth int
	)
	doc.Child, kids = kids[:0:p.nDocKids], kids[p.nDocKids:]
	stack[0] = &doc.Element
	for _, t := range toks {
		top := stack[depth]
		switch t.kind {
		case fastStart:
			e := &elems[0]
			elems = elems[1:]
			e.Tag = t.data
			e.Attr = []etree.Attr{} // as etree's newElement: empty, not nil
			n := int(t.kids)
			e.Child, kids = kids[:0:n], kids[n:]
			top.AddChild(e)
			depth++
			stack[depth] = e
		case fastEnd:
			depth--
		case fastText:
			c := &texts[0]
			texts = texts[1:]
			c.SetData(t.data) // sets the white space flag as etree does
			top.AddChild(c)
		case fastDecl:
			top.CreateProcInst("xml", t.data)
		}
	}
	return doc
}

// scanSpace returns the index of the first byte at or after i that is not
// ' ', '\t' or '\n' (encoding/xml's space also skips '\r', which fastXML
// refuses everywhere).
func scanSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	return i
}

// scanName reads an element name at i: [A-Za-z_][A-Za-z0-9_.-]*, which
// encoding/xml reads whole and takes as a local name without a prefix,
// followed by a byte that ends a name in a tag: white space, '>' or '/'.
// It returns "" for anything else (':' and bytes over 0x7F are part of a
// name for encoding/xml).
func scanName(s string, i int) (name string, end int) {
	j := i
	for j < len(s) {
		c := s[j]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' ||
			j > i && ('0' <= c && c <= '9' || c == '.' || c == '-') {
			j++
			continue
		}
		break
	}
	if j == i || j == len(s) {
		return "", j
	}
	switch s[j] {
	case ' ', '\t', '\n', '>', '/':
		return s[i:j], j
	}
	return "", j
}

// scanDecl reads the XML declaration at i (s[i:] starts "<?"): it returns
// the instruction (what etree's ProcInst.Inst holds: the text after the
// target and white space, up to "?>") and the index after "?>". ok is false
// unless it is `<?xml` whose pseudo-attributes are, each at most once,
// version="1.0", encoding="utf-8" (any case) and standalone, with values of
// [A-Za-z0-9._-]: then what encoding/xml's procInst finds in it is exactly
// these values, and it neither refuses the version nor switches charsets.
func scanDecl(s string, i int) (inst string, end int, ok bool) {
	const target = "<?xml"
	if !strings.HasPrefix(s[i:], target) {
		return "", 0, false
	}
	j := i + len(target)
	if j >= len(s) {
		return "", 0, false
	}
	switch s[j] {
	case ' ', '\t', '\n', '?': // the target's name ends here
	default:
		return "", 0, false
	}
	j = scanSpace(s, j)
	k := strings.Index(s[j:], "?>")
	if k < 0 {
		return "", 0, false
	}
	inst = s[j : j+k]
	var seen [3]bool
	for a := 0; ; {
		a = scanSpace(inst, a)
		if a == len(inst) {
			break
		}
		if a > 0 && inst[a-1] != ' ' && inst[a-1] != '\t' && inst[a-1] != '\n' {
			return "", 0, false // pseudo-attributes must be separated
		}
		eq := strings.IndexByte(inst[a:], '=')
		if eq < 0 || a+eq+1 >= len(inst) {
			return "", 0, false
		}
		name, q := inst[a:a+eq], inst[a+eq+1]
		if q != '"' && q != '\'' {
			return "", 0, false
		}
		v := a + eq + 2
		w := v
		for w < len(inst) && inst[w] != q {
			c := inst[w]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '.' || c == '_' || c == '-') {
				return "", 0, false
			}
			w++
		}
		if w == len(inst) {
			return "", 0, false
		}
		value := inst[v:w]
		var n int
		switch name {
		case "version":
			n, ok = 0, value == "1.0"
		case "encoding":
			n, ok = 1, strings.EqualFold(value, "utf-8")
		case "standalone":
			n, ok = 2, true
		default:
			ok = false
		}
		if !ok || seen[n] {
			return "", 0, false
		}
		seen[n] = true
		a = w + 1
	}
	return inst, j + k + len("?>"), true
}

// scanText reads the text of an element at i, up to the next '<' (or the
// end of s), and returns it decoded as encoding/xml's text does, with the
// index of the '<'. ok is false for text encoding/xml refuses or rewrites
// and for references fastXML does not decode.
func scanText(s string, i int) (data string, end int, ok bool) {
	start := i
	var (
		buf []byte // the decoded text once there is a reference
		lit = i    // start of the text not yet copied to buf
	)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '<':
			goto done
		case c == '&':
			r, n := scanRef(s[i:])
			if n == 0 {
				return "", 0, false
			}
			if buf == nil {
				buf = make([]byte, 0, len(s[start:])) // at most as long
			}
			buf = append(buf, s[lit:i]...)
			buf = utf8.AppendRune(buf, r)
			i += n
			lit = i
			continue
		case c == '>':
			// encoding/xml refuses "]]>" in text. Both ']' are raw text:
			// a reference ends with ';' and the byte before the text
			// with '>'.
			if i-2 >= start && s[i-1] == ']' && s[i-2] == ']' {
				return "", 0, false
			}
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || !xmlChar(r) {
				return "", 0, false
			}
			i += n
			continue
		case c < ' ' && c != '\t' && c != '\n': // '\r' among them
			return "", 0, false
		}
		i++
	}
done:
	if buf == nil {
		return s[start:i], i, true
	}
	buf = append(buf, s[lit:i]...)
	return string(buf), i, true
}

// scanRef decodes the reference at the start of s ("&..."): one of the
// five predefined entities, or a numeric character reference of a
// character encoding/xml accepts (not a surrogate, which encoding/xml
// turns into U+FFFD). n is its length, 0 when fastXML does not decode it.
func scanRef(s string) (r rune, n int) {
	for _, e := range [...]struct {
		ref string
		r   rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}} {
		if strings.HasPrefix(s, e.ref) {
			return e.r, len(e.ref)
		}
	}
	if len(s) < 2 || s[1] != '#' {
		return 0, 0
	}
	i, base := 2, rune(10)
	if i < len(s) && s[i] == 'x' { // only a lower-case x, as encoding/xml
		i, base = i+1, 16
	}
	digits := i
	for ; i < len(s); i++ {
		c := s[i]
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		if r = r*base + d; r > utf8.MaxRune {
			return 0, 0
		}
	}
	if i == digits || i == len(s) || s[i] != ';' || !xmlChar(r) {
		return 0, 0
	}
	return r, i + 1
}

// cdataChars reports whether a CDATA section's text is what encoding/xml
// takes as is: valid UTF-8 of characters it accepts, without '\r' (which
// it rewrites).
func cdataChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < ' ' && c != '\t' && c != '\n' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

// xmlChar is encoding/xml's isInCharacterRange: the characters XML allows.
func xmlChar(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
