package events

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Marshal encodes e as JSON with WeChat's field names: the declared fields,
// then every undeclared field kept in Extra. It is the payload pushgate
// stores and notifies.
func Marshal(e Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	extra := e.Head().Extra
	if len(extra) == 0 {
		return b, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(b) + 64*len(extra))
	buf.Write(b[:len(b)-1]) // drop the closing brace
	for _, name := range sortedKeys(extra) {
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(extra[name])
		if err != nil {
			return nil, err
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
