package pushgatetest

import "github.com/pushgate/pushgate/fixtures"

// Fixture is one bundled sample push.
type Fixture struct {
	// Name is the kind, then "~variant" for more samples of one kind
	// ("event.CLICK", "event.CLICK~json").
	Name string
	// Kind is the kind the push decodes to, as events.Kinds lists them.
	Kind string
	// Format is "xml" or "json".
	Format string
	// Body is the push as WeChat sends it, before signing.
	Body []byte
}

// Fixtures returns every bundled sample push, sorted by name: one or more
// of every kind WeChat sends. Run your handlers over all of them:
//
//	for _, f := range pushgatetest.Fixtures() {
//		t.Run(f.Name, func(t *testing.T) { srv.Push(t, f.Body) ... })
//	}
func Fixtures() []Fixture {
	pushes, err := fixtures.Pushes()
	if err != nil {
		panic("pushgatetest: the embedded fixtures: " + err.Error())
	}
	out := make([]Fixture, len(pushes))
	for i, p := range pushes {
		out[i] = Fixture{Name: p.Name, Kind: p.Kind, Format: p.Format, Body: p.Body}
	}
	return out
}

// PushFixture sends the bundled sample called name (see Fixtures) and
// returns the answer. It fails the test if there is no such sample.
func (s *Server) PushFixture(t T, name string) Answer {
	t.Helper()
	for _, f := range Fixtures() {
		if f.Name == name {
			return s.Request(f.Body).Format(f.Format).Do(t)
		}
	}
	t.Fatalf("pushgatetest: no fixture called %q (see pushgatetest.Fixtures)", name)
	return Answer{}
}
