package events

import "testing"

// TestLossyText: JSON text that Go's decoder would turn into U+FFFD is
// found; everything else, valid pairs and escaped backslashes included,
// is not.
func TestLossyText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body  string
		lossy bool
	}{
		{`{"a":"plain"}`, false},
		{`{"a":"\ud83d\ude00 a pair"}`, false},
		{`{"a":"\\ud800 an escaped backslash"}`, false},
		{`{"a":"\\\ud83d\ude00"}`, false},
		{`{"a":"\ufffd itself"}`, false},
		{"{\"a\":\"\xef\xbf\xbd as bytes\"}", false},
		{`{"a":"\ud800"}`, true},
		{`{"a":"\udfff"}`, true},
		{`{"a":"\ud800\u0041"}`, true},
		{`{"a":"x\ud83d"}`, true},
		{`{"a":"\\\ud800"}`, true},
		{"{\"a\":\"\xff\"}", true},
	} {
		if got := lossyText([]byte(tt.body)) != ""; got != tt.lossy {
			t.Errorf("lossyText(%q) = %q, want lossy %v", tt.body, lossyText([]byte(tt.body)), tt.lossy)
		}
	}
}
