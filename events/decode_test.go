package events_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
)

// Golden renders what the decoder made of a push as the golden files hold it.
func Golden(e events.Event) ([]byte, error) {
	payload, err := events.Marshal(e)
	if err != nil {
		return nil, err
	}
	return fixtures.RenderGolden(e.Kind(), events.Describe(e).DedupeKey(events.DefaultAccount, payload), payload)
}

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pushes {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			format := events.DetectFormat("", p.Body)
			if format.String() != p.Format {
				t.Fatalf("DetectFormat(%s) = %v, want %s", p.Name, format, p.Format)
			}
			e, err := events.Decode(p.Body, format)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", p.Name, err)
			}
			if e.Kind() != p.Kind {
				t.Errorf("Decode(%s).Kind() = %q, want %q", p.Name, e.Kind(), p.Kind)
			}
			got, err := Golden(e)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "fixtures", "pushes", p.Name+".golden.json")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden for %s (run with UPDATE_GOLDEN=1): %v", p.Name, err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Decode(%s) mismatch (-golden +got):\n%s", p.Name, diff)
			}
		})
	}
}

func TestEveryKindHasAFixture(t *testing.T) {
	t.Parallel()
	pushes, err := fixtures.Pushes()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range pushes {
		have[p.Kind] = true
	}
	for _, kind := range append(events.Kinds(), events.KindUnknown) {
		if !have[kind] {
			t.Errorf("kind %q has no fixture under fixtures/pushes", kind)
		}
	}
}

func TestEveryKindIsConstructible(t *testing.T) {
	t.Parallel()
	for _, kind := range events.Kinds() {
		e, ok := events.New(kind)
		if !ok || e.Kind() != kind {
			t.Errorf("New(%q) = %T, %v; want its own type", kind, e, ok)
		}
		if e2, ok := events.New(strings.ToLower(kind)); !ok || e2.Kind() != kind {
			t.Errorf("New(%q) ignoring case = %T, %v", strings.ToLower(kind), e2, ok)
		}
	}
	if e, ok := events.New("event.no_such_thing"); ok || e.Kind() != events.KindUnknown {
		t.Errorf("New(unknown) = %T, %v; want *Generic, false", e, ok)
	}
}

type badCase struct {
	Status   int    `json:"status"`
	Contains string `json:"contains"`
}

// BadCases reads fixtures/bad/cases.json.
func BadCases(t testing.TB) map[string]badCase {
	raw, err := fixtures.FS.ReadFile("bad/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]badCase{}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for name, c := range BadCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := fixtures.FS.ReadFile("bad/" + name)
			if err != nil {
				t.Fatal(err)
			}
			e, err := events.Decode(body, events.DetectFormat("", body))
			if err == nil {
				t.Fatalf("Decode(%s) = %T, want an error", name, e)
			}
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrInvalid) {
				t.Errorf("Decode(%s) error %v wraps neither ErrMalformed nor ErrInvalid", name, err)
			}
			if !strings.Contains(err.Error(), c.Contains) {
				t.Errorf("Decode(%s) error = %q, want it to contain %q", name, err, c.Contains)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	body := []byte(`{"MsgType":"event","Event":"servicemarket_async_api_result","CreateTime":1}`)
	_, err := events.Decode(body, events.JSON)
	var inv *events.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Decode = %v, want *InvalidError", err)
	}
	var fields []string
	for _, f := range inv.Fields {
		fields = append(fields, f.Field)
	}
	want := []string{"ToUserName", "FromUserName", "Api", "Data", "RequestID", "Service"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s", diff)
	}
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct   string
		body string
		want events.Format
	}{
		{"text/xml", `{}`, events.XML},
		{"application/xml; charset=utf-8", ``, events.XML},
		{"application/json", `<xml/>`, events.JSON},
		{"", "  \n<xml/>", events.XML},
		{"", "\ufeff{}", events.JSON},
		{"text/plain", `{"a":1}`, events.JSON},
		{"", "hello", 0},
		{"", "", 0},
	}
	for _, tt := range tests {
		if got := events.DetectFormat(tt.ct, []byte(tt.body)); got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tt.ct, tt.body, got, tt.want)
		}
	}
}

func TestAsyncAPIResultData(t *testing.T) {
	t.Parallel()
	body, _ := fixtures.FS.ReadFile("pushes/event.servicemarket_async_api_result.json")
	e, err := events.Decode(body, events.JSON)
	if err != nil {
		t.Fatal(err)
	}
	r := e.(*events.AsyncAPIResult)
	data, err := r.DecodedData()
	if err != nil || string(data) != `{"result":"hello world"}` {
		t.Errorf("DecodedData() = %s, %v", data, err)
	}
	var v struct{ Result string }
	if err := r.UnmarshalData(&v); err != nil || v.Result != "hello world" {
		t.Errorf("UnmarshalData() = %+v, %v", v, err)
	}
	r.Data = "not json"
	if _, err := r.DecodedData(); !errors.Is(err, events.ErrDataNotJSON) {
		t.Errorf("DecodedData(not json) error = %v, want ErrDataNotJSON", err)
	}
}

// FuzzDecode checks that no body makes the decoder panic or hang, and that
// whatever decodes also marshals and validates.
func FuzzDecode(f *testing.F) {
	pushes, err := fixtures.Pushes()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pushes {
		f.Add(p.Body)
	}
	bad, _ := fixtures.FS.ReadDir("bad")
	for _, b := range bad {
		body, _ := fixtures.FS.ReadFile("bad/" + b.Name())
		f.Add(body)
	}
	for _, kind := range events.Kinds() {
		if infoType, ok := strings.CutPrefix(kind, "component."); ok {
			f.Add([]byte(`<xml><AppId>wx1</AppId><CreateTime>1</CreateTime><InfoType>` + infoType + `</InfoType></xml>`))
			f.Add([]byte(`{"AppId":"wx1","CreateTime":1,"InfoType":"` + infoType + `"}`))
			continue
		}
		msgType, event, _ := strings.Cut(kind, ".")
		f.Add([]byte(`<xml><MsgType>` + msgType + `</MsgType><Event>` + event + `</Event></xml>`))
		f.Add([]byte(`{"MsgType":"` + msgType + `","Event":"` + event + `"}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, format := range []events.Format{events.XML, events.JSON, events.DetectFormat("", body)} {
			e, err := events.Decode(body, format)
			if err != nil {
				if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrInvalid) {
					t.Fatalf("Decode error %v wraps no sentinel", err)
				}
				continue
			}
			payload, err := events.Marshal(e)
			if err != nil {
				t.Fatalf("Marshal(%T) after Decode: %v", e, err)
			}
			_ = events.Describe(e).DedupeKey(events.DefaultAccount, payload)
		}
	})
}
