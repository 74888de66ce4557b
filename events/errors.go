package events

import (
	"errors"
	"strings"
)

// The sentinels a caller checks with errors.Is.
var (
	// ErrMalformed: the body is not well-formed XML or JSON, or is not a
	// push at all (no root element, not a JSON object, a DOCTYPE, nesting
	// too deep).
	ErrMalformed = errors.New("malformed push")
	// ErrInvalid: the body parsed but a field is missing or of the wrong
	// type. The error is an *InvalidError naming the fields.
	ErrInvalid = errors.New("invalid push")
	// ErrNoHandler: Dispatch found no handler for the event's kind and the
	// Mux has no fallback.
	ErrNoHandler = errors.New("no handler for kind")
)

var (
	errNotText   = errors.New("must be text, not a nested element or object")
	errNotNumber = errors.New("must be a number")
	errNotObject = errors.New("must be an element with fields or a JSON object")
	errNotList   = errors.New("must be a list")
)

// FieldError says what is wrong with one field.
type FieldError struct {
	// Field is the wire name, "Parent.Child" when nested.
	Field string
	// Reason is why, e.g. "required" or `must be a number, got "abc"`.
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// InvalidError lists every problem found in a push that parsed. It wraps
// ErrInvalid.
type InvalidError struct {
	// Kind is the push's kind as far as it could be told.
	Kind string
	// Fields holds one entry per problem, in field order.
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("invalid ")
	b.WriteString(e.Kind)
	b.WriteString(": ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// MalformedError says why a body could not be parsed. It wraps ErrMalformed.
type MalformedError struct {
	// Format is the format the body was read as.
	Format Format
	// Reason is the parser's complaint.
	Reason string
}

func (e *MalformedError) Error() string {
	return "malformed " + e.Format.String() + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Unwrap() error { return ErrMalformed }
