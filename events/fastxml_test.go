package events

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// diffDocs returns where two documents differ, "" when they do not: every
// token's type, data, flags, tag, space, attributes and children, its
// parent (by identity, within each tree) and its index. It then also asks
// reflect.DeepEqual, which sees the unexported fields and the nil-ness of
// empty slices.
func diffDocs(got, want *etree.Document) string {
	if d := diffChildren("doc", &got.Element, &want.Element); d != "" {
		return d
	}
	if !reflect.DeepEqual(got, want) {
		return "reflect.DeepEqual finds the documents different"
	}
	return ""
}

func diffChildren(path string, got, want *etree.Element) string {
	if (got.Child == nil) != (want.Child == nil) {
		return fmt.Sprintf("%s: Child nil %v, want %v", path, got.Child == nil, want.Child == nil)
	}
	if len(got.Child) != len(want.Child) {
		return fmt.Sprintf("%s: %d children, want %d", path, len(got.Child), len(want.Child))
	}
	for i := range got.Child {
		g, w := got.Child[i], want.Child[i]
		at := fmt.Sprintf("%s/%d", path, i)
		if gt, wt := fmt.Sprintf("%T", g), fmt.Sprintf("%T", w); gt != wt {
			return fmt.Sprintf("%s: token %s, want %s", at, gt, wt)
		}
		if g.Parent() != got || w.Parent() != want {
			return fmt.Sprintf("%s: parent is not the element holding it", at)
		}
		if g.Index() != w.Index() || g.Index() != i {
			return fmt.Sprintf("%s: index %d, want %d", at, g.Index(), w.Index())
		}
		switch g := g.(type) {
		case *etree.CharData:
			w := w.(*etree.CharData)
			if g.Data != w.Data || g.IsCData() != w.IsCData() || g.IsWhitespace() != w.IsWhitespace() {
				return fmt.Sprintf("%s: CharData %q cdata %v space %v, want %q cdata %v space %v",
					at, g.Data, g.IsCData(), g.IsWhitespace(), w.Data, w.IsCData(), w.IsWhitespace())
			}
		case *etree.ProcInst:
			w := w.(*etree.ProcInst)
			if g.Target != w.Target || g.Inst != w.Inst {
				return fmt.Sprintf("%s: ProcInst %q %q, want %q %q", at, g.Target, g.Inst, w.Target, w.Inst)
			}
		case *etree.Comment:
			if w := w.(*etree.Comment); g.Data != w.Data {
				return fmt.Sprintf("%s: Comment %q, want %q", at, g.Data, w.Data)
			}
		case *etree.Directive:
			if w := w.(*etree.Directive); g.Data != w.Data {
				return fmt.Sprintf("%s: Directive %q, want %q", at, g.Data, w.Data)
			}
		case *etree.Element:
			w := w.(*etree.Element)
			if g.Space != w.Space || g.Tag != w.Tag {
				return fmt.Sprintf("%s: element %q:%q, want %q:%q", at, g.Space, g.Tag, w.Space, w.Tag)
			}
			at += "<" + g.Tag + ">"
			if (g.Attr == nil) != (w.Attr == nil) || len(g.Attr) != len(w.Attr) {
				return fmt.Sprintf("%s: attributes %#v, want %#v", at, g.Attr, w.Attr)
			}
			for j := range g.Attr {
				ga, wa := g.Attr[j], w.Attr[j]
				if ga.Space != wa.Space || ga.Key != wa.Key || ga.Value != wa.Value ||
					ga.Element() != g || wa.Element() != w {
					return fmt.Sprintf("%s: attribute %d %#v, want %#v", at, j, ga, wa)
				}
			}
			if d := diffChildren(at, g, w); d != "" {
				return d
			}
		default:
			return fmt.Sprintf("%s: unexpected token %T", at, g)
		}
	}
	return ""
}

// checkFast compares fastXML with etree on body. It reports whether
// fastXML took the body.
func checkFast(t *testing.T, name string, body []byte) bool {
	t.Helper()
	want, err := etreeXML(body)
	got, ok := fastXML(body)
	switch {
	case !ok:
	case err != nil:
		t.Errorf("%s: fastXML took a body etree refuses (%v):\n%q", name, err, body)
	case diffDocs(got, want) != "":
		t.Errorf("%s: fastXML's tree differs from etree's: %s\n%q", name, diffDocs(got, want), body)
	}
	return ok
}

// xmlFiles returns every file of the repository's fixtures that holds XML
// or that a test feeds Decode as a body: fixtures/**, and every *.xml
// under the repository (events/testdata, handlers' test data if any).
func xmlFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		inFixtures := strings.HasPrefix(filepath.ToSlash(path), "../fixtures/") && !strings.HasSuffix(path, ".go")
		if !inFixtures && !strings.HasSuffix(path, ".xml") {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(strings.TrimPrefix(path, "../"))] = body
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// fastFallsBack lists the fixtures parseXML takes but fastXML leaves to
// etree, and why.
var fastFallsBack = map[string]string{
	"fixtures/distinct/attribute~a.xml":              "an attribute",
	"fixtures/distinct/attribute~b.xml":              "an attribute",
	"fixtures/distinct/instruction~a.xml":            "a processing instruction",
	"fixtures/distinct/instruction~b.xml":            "a processing instruction",
	"fixtures/distinct/namespace~a.xml":              "a namespace prefix",
	"fixtures/distinct/namespace~b.xml":              "a namespace prefix",
	"fixtures/distinct/text_after_instruction~a.xml": "a processing instruction",
	"fixtures/distinct/text_after_instruction~b.xml": "a processing instruction",
	"fixtures/bad/two_roots.xml":                     "a second root",
	"fixtures/bad/entity_bomb.xml":                   "a DOCTYPE",
	"fixtures/bad/external_entity.xml":               "a DOCTYPE",
}

// TestFastXMLFixtures compares fastXML's tree with etree's for every XML
// fixture, and checks that fastXML takes every one WeChat could send.
func TestFastXMLFixtures(t *testing.T) {
	files := xmlFiles(t)
	if len(files) < 50 {
		t.Fatalf("found only %d fixtures", len(files))
	}
	took := 0
	for name, body := range files {
		body = bytes.TrimPrefix(body, []byte("\ufeff")) // as Decode
		ok := checkFast(t, name, body)
		if ok {
			took++
		}
		// A push: etree takes it, and so does parseXML's check of the top.
		doc, err := etreeXML(body)
		if err == nil {
			_, err = xmlRoot(doc)
		}
		why, listed := fastFallsBack[name]
		switch {
		case ok && listed:
			t.Errorf("%s: fastXML took it, though listed as falling back (%s)", name, why)
		case !ok && err == nil && !listed:
			t.Errorf("%s: parseXML takes it, fastXML falls back", name)
		}
	}
	for name := range fastFallsBack {
		if _, ok := files[name]; !ok {
			t.Errorf("%s: listed, but no such fixture", name)
		}
	}
	t.Logf("fastXML took %d of %d files", took, len(files))
}

// fastCases are bodies at the edges of what fastXML takes; a true want
// means it must take it (and build etree's tree), false that it must
// leave it to etree.
var fastCases = []struct {
	body string
	want bool
}{
	{`<xml></xml>`, true},
	{`<xml/>`, true},
	{`<xml />`, true},
	{"<xml\n>\n<a\t/>\n</xml\t>\n\n", true},
	{" \n\t<xml><A>x</A></xml> \n", true},
	{`<?xml version="1.0" encoding="UTF-8"?><xml><A>x</A></xml>`, true},
	{"<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<xml/>", true},
	{`<?xml?><xml/>`, true},
	{"\n<?xml version=\"1.0\"?>\n<xml/>", true},
	{`<?xml version="1.1"?><xml/>`, false},
	{`<?xml version="1.0" encoding="GBK"?><xml/>`, false},
	{`<?xml version="1.0"encoding="utf-8"?><xml/>`, false},
	{`<?xml version="1.0" version="1.0"?><xml/>`, false},
	{`<?xml-stylesheet href="a"?><xml/>`, false},
	{`<?xml version="1.0"?><?xml version="1.0"?><xml/>`, false},
	{`<xml/><?xml version="1.0"?>`, false},
	{`<xml><a><![CDATA[]]></a><b><![CDATA[ <&]] ]]></b></xml>`, true},
	{`<xml><a>x<![CDATA[y]]>z</a></xml>`, true},
	{`<xml><a>&lt;&gt;&amp;&apos;&quot;</a></xml>`, true},
	{`<xml><a>&#65;&#x42;&#x00043;&#xe9;&#x1F600;&#10;&#13;&#9;</a></xml>`, true},
	{`<xml><a>&#x20;</a></xml>`, true},
	{`<xml><a>&#xD800;</a></xml>`, false},
	{`<xml><a>&#0;</a></xml>`, false},
	{`<xml><a>&#xFFFE;</a></xml>`, false},
	{`<xml><a>&#x110000;</a></xml>`, false},
	{`<xml><a>&#99999999999999999999999;</a></xml>`, false},
	{`<xml><a>&#X41;</a></xml>`, false},
	{`<xml><a>&#;</a></xml>`, false},
	{`<xml><a>&#65</a></xml>`, false},
	{`<xml><a>&lt</a></xml>`, false},
	{`<xml><a>&nbsp;</a></xml>`, false},
	{`<xml><a>&</a></xml>`, false},
	{`<xml><a>]]></a></xml>`, false},
	{`<xml><a>]]&gt;</a></xml>`, true},
	{`<xml><a>]&#93;></a></xml>`, true},
	{`<xml><a>] ]></a></xml>`, true},
	{`<xml><a>></a></xml>`, true},
	{`<xml><a><![CDATA[x]]>]></a></xml>`, true},
	{"<xml><a>x\ry</a></xml>", false},
	{"<xml><a>x\r\ny</a></xml>", false},
	{"<xml>\r\n<a>x</a></xml>", false},
	{"<xml><a><![CDATA[x\ry]]></a></xml>", false},
	{"<xml><a>\x01</a></xml>", false},
	{"<xml><a>\x7f</a></xml>", true},
	{"<xml><a>\xff</a></xml>", false},
	{"<xml><a>\xed\xa0\x80</a></xml>", false},
	{"<xml><a>\xef\xbf\xbe</a></xml>", false},
	{"<xml><a>\xef\xbf\xbd</a></xml>", true},
	{"<xml><a>中文 😀</a></xml>", true},
	{"<xml><a><![CDATA[\xff]]></a></xml>", false},
	{`<xml><a b="c">x</a></xml>`, false},
	{`<xml><a:b>x</a:b></xml>`, false},
	{`<xml><:b>x</:b></xml>`, false},
	{`<xml><a:>x</a:></xml>`, false},
	{"<xml><\u00e9>x</\u00e9></xml>", false},
	{`<xml><a.b-c_1>x</a.b-c_1><_a/></xml>`, true},
	{`<xml><1a>x</1a></xml>`, false},
	{`<xml><-a>x</-a></xml>`, false},
	{`<xml><a>x</b></xml>`, false},
	{`<xml><a>x</a ></xml>`, true},
	{`<xml><a>x</a/></xml>`, false},
	{`<xml><a / ></xml>`, false},
	{`<xml><!-- c --><a>x</a></xml>`, false},
	{`<!-- c --><xml/>`, false},
	{`<!DOCTYPE xml><xml/>`, false},
	{`<xml><!DOCTYPE a></xml>`, false},
	{`<xml><?pi x?></xml>`, false},
	{`<xml/><xml/>`, false},
	{`<xml/>x`, false},
	{`x<xml/>`, false},
	{`<![CDATA[ ]]><xml/>`, false},
	{`<xml/>&#32;`, false},
	{`</xml>`, false},
	{``, false},
	{"  \n", false},
	{`<xml>`, false},
	{`<xml><a>x`, false},
	{`<xml><a>x</a`, false},
	{`<xml><a><![CDATA[x]]`, false},
	{`<xml><a`, false},
	{`<xml><a/`, false},
	{`<`, false},
	{`<?xml`, false},
	{`<?xml version="1.0"`, false},
	{strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth), true},
	{strings.Repeat("<a>", MaxDepth-1) + "<a/>" + strings.Repeat("</a>", MaxDepth-1), true},
	{strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1), false},
	{strings.Repeat("<a>", MaxDepth) + "<a/>" + strings.Repeat("</a>", MaxDepth), false},
}

// TestFastXMLCases checks fastXML at the edges of its subset: where it
// takes a body its tree is etree's, and it takes exactly what it should.
func TestFastXMLCases(t *testing.T) {
	for _, c := range fastCases {
		if ok := checkFast(t, c.body, []byte(c.body)); ok != c.want {
			_, err := etreeXML([]byte(c.body))
			t.Errorf("fastXML(%q) took it %v, want %v (etree: %v)", c.body, ok, c.want, err)
		}
	}
}

// TestFastXMLParseXML checks that parseXML, fast path or not, gives what
// etree's parse and parseXML's checks give: the same error, or a root with
// the same tree.
func TestFastXMLParseXML(t *testing.T) {
	bodies := make(map[string][]byte)
	for name, body := range xmlFiles(t) {
		bodies[name] = bytes.TrimPrefix(body, []byte("\ufeff"))
	}
	for _, c := range fastCases {
		bodies[c.body] = []byte(c.body)
	}
	for name, body := range bodies {
		got, gotErr := parseXML(body)
		var (
			want    value
			wantErr error
		)
		doc, err := etreeXML(body)
		if err != nil {
			wantErr = err
		} else {
			want, wantErr = xmlRoot(doc)
		}
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: parseXML error %v, want %v", name, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			g, w := got.el.Parent(), want.el.Parent()
			if g == nil || w == nil || got.el.Index() != want.el.Index() {
				t.Errorf("%s: root has parent %v index %d, want %v %d", name, g, got.el.Index(), w, want.el.Index())
				continue
			}
			if d := diffChildren("doc", g, w); d != "" {
				t.Errorf("%s: %s", name, d)
			}
		}
	}
}

// FuzzFastXML checks that whatever fastXML takes, etree takes too, into
// the same tree (and so that it takes nothing etree refuses). Besides the
// body itself it tries the body as an element's text, as a CDATA section,
// as a declaration's pseudo-attributes and as a tag, where random bytes
// are far likelier to land in what fastXML takes than as a whole body.
func FuzzFastXML(f *testing.F) {
	for _, c := range fastCases {
		f.Add([]byte(c.body))
	}
	for _, body := range xmlFiles(f) {
		f.Add(body)
	}
	for _, part := range []string{"x&amp;y", "]]&gt;", "&#x1F600;", "中文", "a\n\tb", `version="1.0"`, "a.b-c"} {
		f.Add([]byte(part))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFast(t, "fuzz", body)
		for _, wrap := range [][2]string{
			{"<xml><a>", "</a></xml>"},
			{"<xml>\n<a><![CDATA[", "]]></a>\n</xml>"},
			{"<?xml ", "?><xml/>"},
			{"<xml><", "/></xml>"},
			{"<xml><", ">x</a></xml>"},
		} {
			checkFast(t, "fuzz "+wrap[0], []byte(wrap[0]+string(body)+wrap[1]))
		}
	})
}

// BenchmarkParseXML compares parseXML with etree's parse (and parseXML's
// check of the top) on a CLICK and a pic_weixin push, which take the fast
// path, and on a push with an attribute, where parseXML scans the whole
// body before it falls back to etree.
func BenchmarkParseXML(b *testing.B) {
	for _, name := range []string{"pushes/event.CLICK.xml", "pushes/event.pic_weixin.xml", "distinct/attribute~a.xml"} {
		body, err := os.ReadFile("../fixtures/" + name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/parseXML", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parseXML(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/etree", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				doc, err := etreeXML(body)
				if err == nil {
					_, err = xmlRoot(doc)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
