package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
)

// keyOf decodes body and returns its dedupe key for account.
func keyOf(t *testing.T, account string, body []byte) (string, events.Meta, error) {
	t.Helper()
	e, err := events.Decode(body, events.DetectFormat("", body))
	if err != nil {
		return "", events.Meta{}, err
	}
	payload, err := events.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal(%T): %v", e, err)
	}
	m := events.Describe(e)
	return m.DedupeKey(account, payload), m, nil
}

// variant is a push changed in one field.
type variant struct {
	field string
	body  []byte
}

// changed returns a different value of the same shape: a number moved by
// one, or text with a character added.
func changed(s string) string {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return strconv.FormatInt(n+1, 10)
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return strconv.FormatFloat(f+0.5, 'f', -1, 64)
	}
	return s + "~"
}

// variants returns body changed in each of its fields in turn, nested ones
// included: every leaf element of an XML push, every leaf value of a JSON
// one.
func variants(t *testing.T, p fixtures.Push) []variant {
	t.Helper()
	var out []variant
	if p.Format == "xml" {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(p.Body); err != nil {
			t.Fatal(err)
		}
		var leaves []*etree.Element
		var walk func(el *etree.Element)
		walk = func(el *etree.Element) {
			if len(el.ChildElements()) == 0 {
				leaves = append(leaves, el)
				return
			}
			for _, c := range el.ChildElements() {
				walk(c)
			}
		}
		walk(doc.Root())
		for _, leaf := range leaves {
			old := leaf.Text()
			cdata := len(leaf.Child) > 0 && isCData(leaf.Child[0])
			if cdata {
				leaf.SetCData(changed(old))
			} else {
				leaf.SetText(changed(old))
			}
			b, err := doc.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, variant{leaf.GetPath(), b})
			if cdata {
				leaf.SetCData(old)
			} else {
				leaf.SetText(old)
			}
		}
		return out
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(p.Body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return jsonVariants(t, v)
}

func isCData(tok etree.Token) bool {
	cd, ok := tok.(*etree.CharData)
	return ok && cd.IsCData()
}

// jsonVariants changes each leaf of root in turn and marshals the tree.
func jsonVariants(t *testing.T, root any) []variant {
	t.Helper()
	var out []variant
	var walk func(path string, v any, set func(any))
	walk = func(path string, v any, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(path+"/"+k, c, func(n any) { x[k] = n })
			}
			return
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), c, func(n any) { x[i] = n })
			}
			return
		case json.Number:
			set(json.Number(changed(string(x))))
		case string:
			set(changed(x))
		case bool:
			set(!x)
		default:
			set("set")
		}
		b, err := json.Marshal(root)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, variant{path, b})
		set(v)
	}
	walk("", root, nil)
	return out
}

// TestDedupeKeyEveryFieldCounts changes each field of each fixture in turn
// (nested ones included): a push without MsgId or RequestID gets a key of
// its own for every variant; one with an id keeps its key unless the id
// changed, as the id names the message.
func TestDedupeKeyEveryFieldCounts(t *testing.T) {
	t.Parallel()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pushes {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			orig, m, err := keyOf(t, events.DefaultAccount, p.Body)
			if err != nil {
				t.Fatal(err)
			}
			byID := m.MsgID != "" || m.RequestID != ""
			decoded := 0
			for _, v := range variants(t, p) {
				key, vm, err := keyOf(t, events.DefaultAccount, v.body)
				if err != nil {
					continue // the change made it invalid (a bad MsgType, say)
				}
				decoded++
				idChanged := vm.MsgID != m.MsgID || vm.RequestID != m.RequestID
				switch {
				case !byID || idChanged:
					if key == orig {
						t.Errorf("changing %s kept the key %q; want a new key", v.field, key)
					}
				default:
					if key != orig {
						t.Errorf("changing %s (not the id) moved the key %q to %q; the id keys the push", v.field, orig, key)
					}
				}
			}
			if decoded == 0 {
				t.Fatalf("no variant of %s decoded", p.Name)
			}
		})
	}
}

// TestDedupeKeyRetries: a retry is the same message re-sent, so a
// byte-identical body and one with its elements in another order get the
// original's key; the key is scoped by account.
func TestDedupeKeyRetries(t *testing.T) {
	t.Parallel()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, p := range pushes {
		orig, _, err := keyOf(t, events.DefaultAccount, p.Body)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[orig]; ok {
			t.Errorf("fixtures %s and %s share the key %q", other, p.Name, orig)
		}
		seen[orig] = p.Name
		again, _, _ := keyOf(t, events.DefaultAccount, slices.Clone(p.Body))
		if again != orig {
			t.Errorf("%s: byte-identical retry got key %q, want %q", p.Name, again, orig)
		}
		reordered := reorder(t, p)
		if bytes.Equal(reordered, p.Body) {
			t.Fatalf("%s: reorder changed nothing", p.Name)
		}
		got, _, err := keyOf(t, events.DefaultAccount, reordered)
		if err != nil {
			t.Fatalf("%s reordered: %v", p.Name, err)
		}
		if got != orig {
			t.Errorf("%s: retry with reordered elements got key %q, want %q", p.Name, got, orig)
		}
		other, _, _ := keyOf(t, "shop", p.Body)
		if other == orig || !strings.HasPrefix(other, "shop/") {
			t.Errorf("%s: key for account shop = %q, want \"shop/\" and a key other than %q", p.Name, other, orig)
		}
	}
}

// reorder returns the push with the members of its root in reverse order.
func reorder(t *testing.T, p fixtures.Push) []byte {
	t.Helper()
	if p.Format == "xml" {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(p.Body); err != nil {
			t.Fatal(err)
		}
		root := doc.Root()
		kids := root.ChildElements()
		for _, k := range kids {
			root.RemoveChild(k)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			root.AddChild(kids[i])
		}
		b, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(p.Body, &members); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	slices.Reverse(names)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", name, members[name])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// TestDedupeKeyNoSeparatorCollision: the old key joined fields with an
// unescaped "|", so these two pushes shared one.
func TestDedupeKeyNoSeparatorCollision(t *testing.T) {
	t.Parallel()
	push := func(to, from string) []byte {
		return []byte(`<xml><ToUserName>` + to + `</ToUserName><FromUserName>` + from + `</FromUserName>` +
			`<CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey></xml>`)
	}
	a, am, _ := keyOf(t, events.DefaultAccount, push("gh_a|x", "userB"))
	b, bm, _ := keyOf(t, events.DefaultAccount, push("gh_a", "x|userB"))
	if am.LegacyKey() != bm.LegacyKey() {
		t.Fatalf("LegacyKey() = %q and %q; the case no longer shows the old collision", am.LegacyKey(), bm.LegacyKey())
	}
	if a == b {
		t.Errorf("DedupeKey() = %q for both pushes, want two keys", a)
	}
	if !strings.HasPrefix(a, "d:1700000000:") {
		t.Errorf("DedupeKey() = %q, want it led by \"d:1700000000:\" (time-ordered)", a)
	}
}

// TestDigestCanonical: object members in any order hash alike; values of
// other types, names and list orders do not.
func TestDigestCanonical(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{`{"a":1,"b":{"c":"x","d":[1,2]}}`, `{"b":{"d":[1,2],"c":"x"},"a":1}`},
		{`{"a":"1"}`, ` { "a" : "1" } `},
		{`{"a":"\u0041\n"}`, `{"a":"A\n"}`},
		{`{"\u0062":[{"y":1,"x":2}],"a":{}}`, `{"a":{},"b":[{"x":2,"y":1}]}`},
	}
	for _, c := range same {
		if events.Digest([]byte(c[0])) != events.Digest([]byte(c[1])) {
			t.Errorf("Digest(%s) != Digest(%s), want equal", c[0], c[1])
		}
	}
	differ := [][2]string{
		{`{"a":1}`, `{"a":"1"}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
		{`{"ab":"c"}`, `{"a":"bc"}`},
		{`{"a":null}`, `{"a":""}`},
		{`{"a":{"b":"c"}}`, `{"a":{"bc":""}}`},
		{`{"a":true}`, `{"a":false}`},
		{`{"a":["b","c"]}`, `{"a":["bc"]}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"a":{}}`, `{"a":[]}`},
		{`{"a":[[]]}`, `{"a":[]}`},
		{`{"a":1}`, `{"a":1.0}`},
	}
	for _, c := range differ {
		if events.Digest([]byte(c[0])) == events.Digest([]byte(c[1])) {
			t.Errorf("Digest(%s) == Digest(%s), want different", c[0], c[1])
		}
	}
}

// TestDigestLinear: Digest's time grows with the payload's size, not with
// its size times its depth. A JSON push may nest an undeclared field
// thousands deep (encoding/json allows 10,000 levels); each level used to
// rescan all it held, and one such push of 0.9 MB took Digest 24 s.
func TestDigestLinear(t *testing.T) {
	t.Parallel()
	const depth = 9000
	pad := strings.Repeat(`"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",`, 15000)
	deep := []byte(`{"ToUserName":"gh_x","FromUserName":"o","CreateTime":1700000000,"MsgType":"event","Event":"CLICK","EventKey":"k","X":` +
		strings.Repeat("[", depth) + pad + "1" + strings.Repeat("]", depth) + "}")
	e, err := events.Decode(deep, events.JSON)
	if err != nil {
		t.Fatalf("Decode(%d levels) = %v", depth, err)
	}
	payload, err := events.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	// Against the same bytes unnested, best of three each: linear keeps the
	// two close (the quadratic code took over 1,000 times as long); a ratio,
	// not a wall-clock bound, so a loaded machine does not fail it.
	flat, err := events.Decode([]byte(`{"ToUserName":"gh_x","FromUserName":"o","CreateTime":1700000000,"MsgType":"event","Event":"CLICK","EventKey":"k","X":[`+
		strings.Repeat("[],", depth)+pad+"1]}"), events.JSON)
	if err != nil {
		t.Fatal(err)
	}
	flatPayload, err := events.Marshal(flat)
	if err != nil {
		t.Fatal(err)
	}
	best := func(p []byte) time.Duration {
		b := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			events.Digest(p)
			b = min(b, time.Since(start))
		}
		return b
	}
	d := events.Digest(payload)
	deepTook, flatTook := best(payload), best(flatPayload)
	if deepTook > 50*flatTook+50*time.Millisecond {
		t.Errorf("Digest(%d bytes, %d levels) took %v against %v for %d bytes unnested: want about the same (linear)",
			len(payload), depth, deepTook, flatTook, len(flatPayload))
	}
	// Still canonical: the same push with its members reordered.
	reordered := bytes.Replace(payload, []byte(`"CreateTime":1700000000,`), nil, 1)
	reordered = append(reordered[:len(reordered)-1], []byte(`,"CreateTime":1700000000}`)...)
	if got := events.Digest(reordered); got != d {
		t.Errorf("Digest(reordered) = %x, want %x", got, d)
	}
}

// FuzzDigest: Digest never panics, is deterministic, and gives a JSON value
// and its re-encoding by encoding/json (members sorted, escapes resolved)
// one digest when no object repeats a name.
func FuzzDigest(f *testing.F) {
	pushes, err := fixtures.Pushes()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pushes {
		e, err := events.Decode(p.Body, events.DetectFormat("", p.Body))
		if err != nil {
			continue
		}
		payload, _ := events.Marshal(e)
		f.Add(payload)
	}
	f.Add([]byte(`{"a":[1,{"b":"\u00e9"}],"c":null,"d":true}`))
	f.Add([]byte(`{"a":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := events.Digest(b)
		if d != events.Digest(slices.Clone(b)) {
			t.Fatalf("Digest(%q) is not deterministic", b)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		// (encoding/json replaces invalid UTF-8; Digest keeps the bytes.)
		if !json.Valid(b) || !utf8.Valid(b) || dec.Decode(&v) != nil || repeatsName(b) {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			return
		}
		if events.Digest(again) != d {
			t.Errorf("Digest(%s) != Digest(%s), its re-encoding", b, again)
		}
	})
}

// repeatsName reports whether some object of the JSON b repeats a member
// name (a JSON map keeps one of them).
func repeatsName(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1e700 is JSON, though no float64
	var stack []map[string]bool
	expectKey := []bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = append(expectKey, true)
				continue
			case '[':
				stack = append(stack, nil)
				expectKey = append(expectKey, false)
				continue
			default:
				stack, expectKey = stack[:len(stack)-1], expectKey[:len(expectKey)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1] != nil && expectKey[n-1] {
				if stack[n-1][tok] {
					return true
				}
				stack[n-1][tok] = true
				expectKey[n-1] = false
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1] != nil {
			expectKey[n-1] = true
		}
	}
}

// TestDedupeKeyDistinctPairs: the pairs of fixtures/distinct differ only in
// what their decoded forms do not hold; their keys differ, a re-sent copy
// keeps its key, and every ordinary fixture holds all it was sent (Unkept
// is empty, so its key is the one its golden file records).
func TestDedupeKeyDistinctPairs(t *testing.T) {
	t.Parallel()
	pairs, err := fixtures.Distinct()
	if err != nil || len(pairs) == 0 {
		t.Fatalf("fixtures.Distinct() = %d pairs, %v", len(pairs), err)
	}
	// Many children: the repeated tag is found by a set, not a scan.
	var many strings.Builder
	for i := range 20 {
		fmt.Fprintf(&many, "<X%d>v</X%d>", i, i)
	}
	location := func(first string) []byte {
		return []byte(`<xml><ToUserName>gh_a</ToUserName><FromUserName>o_b</FromUserName><CreateTime>1408092300</CreateTime>` +
			`<MsgType>event</MsgType><Event>LOCATION</Event>` + many.String() + `<Latitude>` + first + `</Latitude><Latitude>23.1</Latitude></xml>`)
	}
	pairs = append(pairs, fixtures.Pair{Name: "many children", Format: "xml", A: location("1.5"), B: location("2.5")})
	for _, p := range pairs {
		ka, ma, err := keyOf(t, events.DefaultAccount, p.A)
		if err != nil {
			t.Fatalf("%s: Decode(A): %v", p.Name, err)
		}
		kb, mb, err := keyOf(t, events.DefaultAccount, p.B)
		if err != nil {
			t.Fatalf("%s: Decode(B): %v", p.Name, err)
		}
		if ka == kb {
			t.Errorf("%s: DedupeKey(A) = DedupeKey(B) = %q, want two keys", p.Name, ka)
		}
		if ma.Unkept == "" || mb.Unkept == "" {
			t.Errorf("%s: Describe().Unkept = %q, %q, want a digest of each whole push", p.Name, ma.Unkept, mb.Unkept)
		}
		if ma.LegacyKey() != "" {
			t.Errorf("%s: LegacyKey() = %q, want none", p.Name, ma.LegacyKey())
		}
		if again, _, _ := keyOf(t, events.DefaultAccount, p.A); again != ka {
			t.Errorf("%s: DedupeKey(A) = %q then %q, want one key", p.Name, ka, again)
		}
	}
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pushes {
		if _, m, err := keyOf(t, events.DefaultAccount, p.Body); err == nil && m.Unkept != "" {
			t.Errorf("%s: Describe().Unkept = %q, want \"\" (the decoded push holds it all)", p.Name, m.Unkept)
		}
	}
}

// TestDedupeKeyIDSpaces: a user message's MsgId and an event's MsgID are
// counted apart, so the same number keys them apart; the event's key of
// earlier versions is its LegacyIDKey, under the account's prefix.
func TestDedupeKeyIDSpaces(t *testing.T) {
	t.Parallel()
	const head = `<ToUserName>gh_a</ToUserName><FromUserName>o_b</FromUserName><CreateTime>1395658920</CreateTime>`
	tests := []struct {
		name, body, account, key, legacy string
	}{
		{"text", `<xml>` + head + `<MsgType>text</MsgType><Content>hi</Content><MsgId>42</MsgId></xml>`, "default", "m:42", ""},
		{"template job", `<xml>` + head + `<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>42</MsgID><Status>success</Status></xml>`,
			"default", "e:TEMPLATESENDJOBFINISH:42", "m:42"},
		{"mass job", `<xml>` + head + `<MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>42</MsgID><Status>send success</Status></xml>`,
			"shop", "shop/e:MASSSENDJOBFINISH:42", "shop/m:42"},
		{"unknown event", `<xml>` + head + `<MsgType>event</MsgType><Event>new_thing</Event><MsgId>42</MsgId></xml>`,
			"default", "e:new_thing:42", "m:42"},
		{"unknown message", `<xml>` + head + `<MsgType>new_msg</MsgType><MsgId>42</MsgId></xml>`, "default", "m:42", ""},
	}
	for _, tt := range tests {
		key, m, err := keyOf(t, tt.account, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: Decode: %v", tt.name, err)
		}
		if key != tt.key {
			t.Errorf("%s: DedupeKey(%q) = %q, want %q", tt.name, tt.account, key, tt.key)
		}
		if got := m.LegacyIDKey(tt.account); got != tt.legacy {
			t.Errorf("%s: LegacyIDKey(%q) = %q, want %q", tt.name, tt.account, got, tt.legacy)
		}
	}
}
