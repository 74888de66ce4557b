package models

import (
	"context"
	"errors"
	"testing"
)

func TestStorableText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x00b", `a\x00b`},
		{"bad \xff\xfe end", `bad \xff\xfe end`},
		{"中文 ok", "中文 ok"},
	} {
		if got := storableText(tt.in); got != tt.want || !storable(got) {
			t.Errorf("storableText(%q) = %q, want %q (storable)", tt.in, got, tt.want)
		}
	}
}

// TestSaveUnstorable: an event with NUL or invalid UTF-8 in any text field
// is refused with ErrUnstorable on both drivers; a refused push with such
// text is kept, its text escaped and its body as it came.
func TestSaveUnstorable(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		for name, mutate := range map[string]func(e *NewEvent){
			"FromUser NUL":       func(e *NewEvent) { e.FromUser = "o\x00" },
			"EventKey bad UTF-8": func(e *NewEvent) { e.EventKey = "\xff" },
			"DedupeKey NUL":      func(e *NewEvent) { e.DedupeKey += "\x00" },
			"MsgID NUL":          func(e *NewEvent) { e.MsgID = "1\x00" },
		} {
			e := sampleEvent(1)
			mutate(e)
			if _, err := s.SaveEvent(ctx, e); !errors.Is(err, ErrUnstorable) {
				t.Errorf("SaveEvent(%s) = %v, want ErrUnstorable", name, err)
			}
		}
		r := &Rejected{Reason: "bad \x00 \xff", Status: 400, Query: "a=\xff", ContentType: "text/xml; x=\xfe", Raw: []byte("\x00\xff")}
		if err := s.SaveRejected(ctx, r); err != nil {
			t.Fatalf("SaveRejected(unstorable text) = %v", err)
		}
		got, err := s.GetRejected(ctx, r.ID)
		if err != nil || got.Reason != `bad \x00 \xff` || got.Query != `a=\xff` || got.ContentType != `text/xml; x=\xfe` || string(got.Raw) != "\x00\xff" {
			t.Errorf("GetRejected = %+v, %v; want the text escaped and the body as it came", got, err)
		}
	})
}
