package events

import (
	"errors"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// validate is the one validator instance; it caches each type's rules on
// first use and is safe for concurrent use.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}()

// Validate checks e against its type's rules (the required fields of the
// seeds, Event on every event) and returns an *InvalidError listing every
// problem, or nil.
func Validate(e Event) error {
	if g, ok := e.(*Generic); ok && g.componentShaped() {
		// An Open Platform event of a type nobody declared: it has no
		// ToUserName, FromUserName or MsgType to require.
		return nil
	}
	err := validate.Struct(e)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return &InvalidError{Kind: e.Kind(), Fields: []FieldError{{Field: "(event)", Reason: err.Error()}}}
	}
	inv := &InvalidError{Kind: e.Kind(), Fields: make([]FieldError, 0, len(verrs))}
	for _, fe := range verrs {
		inv.Fields = append(inv.Fields, FieldError{Field: fe.Field(), Reason: reason(fe)})
	}
	return inv
}

func reason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "required_if":
		f, v, _ := strings.Cut(fe.Param(), " ")
		return "required when " + f + " is " + v
	}
	if fe.Param() != "" {
		return "must satisfy " + fe.Tag() + "=" + fe.Param()
	}
	return "must satisfy " + fe.Tag()
}
