package events

import (
	"encoding/json"
	"errors"
)

// AsyncAPIResult is the push servicemarket_async_api_result: the result of a service-market API
// invoked with async:true, sent as JSON when the provider finishes. Every
// field is required.
type AsyncAPIResult struct {
	Header
	// Api is the API's name.
	Api string `xml:"Api" json:"Api" validate:"required"`
	// Data is the API's result, a JSON document sent as a string; see
	// DecodedData.
	Data string `xml:"Data" json:"Data" validate:"required"`
	// RequestID is the id invokeService returned; pushgate dedupes by it
	// and keys the stored result by it.
	RequestID string `xml:"RequestID" json:"RequestID" validate:"required"`
	// Service is the provider's service id.
	Service string `xml:"Service" json:"Service" validate:"required"`
}

// Kind implements Event.
func (*AsyncAPIResult) Kind() string { return "event.servicemarket_async_api_result" }

func (r *AsyncAPIResult) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Api":
		r.Api, err = v.str()
	case "Data":
		r.Data, err = v.str()
	case "RequestID":
		r.RequestID, err = v.str()
	case "Service":
		r.Service, err = v.str()
	default:
		return r.Header.setField(name, v)
	}
	return true, err
}

// ErrDataNotJSON is returned by DecodedData when Data is not a JSON document.
var ErrDataNotJSON = errors.New("data is not json")

// DecodedData returns Data as the JSON document it holds, or ErrDataNotJSON.
func (r *AsyncAPIResult) DecodedData() (json.RawMessage, error) {
	if !json.Valid([]byte(r.Data)) {
		return nil, ErrDataNotJSON
	}
	return json.RawMessage(r.Data), nil
}

// UnmarshalData decodes Data into v with encoding/json.
func (r *AsyncAPIResult) UnmarshalData(v any) error {
	return json.Unmarshal([]byte(r.Data), v)
}
