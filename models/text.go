package models

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// ErrUnstorable means a value has text no database column of pushgate's can
// hold alike: a NUL character, which PostgreSQL's text refuses, or bytes
// that are not UTF-8. SaveEvent refuses such an event (it would fail on
// every retry), naming the fields; the caller refuses the push.
var ErrUnstorable = errors.New("text cannot be stored")

// Text is storable (storable reports true) when it is valid UTF-8 without
// NUL: what PostgreSQL's text columns hold. SQLite holds anything, but both
// drivers apply the same rule so that a push is stored on one exactly when
// it is on the other.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// storableText returns s with what a text column cannot hold escaped: NUL
// as \x00 and each byte that is not UTF-8 as \xNN (a backslash is left as
// it is). It is for text that describes (an error, a reason, a header of a
// refused push), whose exact bytes are kept elsewhere or do not matter.
func storableText(s string) string {
	if storable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1, r == 0:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unstorableFields checks every string field of e (every text column of
// its row: a field added later is covered too) and returns an error
// wrapping ErrUnstorable that names those that cannot be stored, or nil.
func unstorableFields(e *NewEvent) error {
	v := reflect.ValueOf(e).Elem()
	var bad []string
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.String || storable(f.String()) {
			continue
		}
		why := "invalid UTF-8"
		if strings.IndexByte(f.String(), 0) >= 0 {
			why = "a NUL character"
		}
		bad = append(bad, v.Type().Field(i).Name+" has "+why)
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnstorable, strings.Join(bad, ", "))
}

// makeStorable escapes the text fields of a refused push (storableText):
// its body is kept as bytes, so nothing is lost, and a refusal is never
// refused by the database for its text.
func (r *Rejected) makeStorable() {
	for _, p := range []*string{&r.Account, &r.Reason, &r.Query, &r.RemoteAddr, &r.ContentType, &r.BodySHA256, &r.HTTPRequestID} {
		*p = storableText(*p)
	}
}
