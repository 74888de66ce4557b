package notify

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecification(t *testing.T) {
	got, err := Sign(specSecret, specID, time.Unix(specTS, 0), []byte(specBody))
	if err != nil || got != specSig {
		t.Errorf("Sign(spec example) = %q, %v; want %q", got, err, specSig)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(specTS, 0)
	headers := func(sig string, ts int64) http.Header {
		h := http.Header{}
		h.Set(HeaderID, specID)
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, sig)
		return h
	}
	other, _ := Sign(testSecret("other key"), specID, now, []byte(specBody))
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"valid", specSecret, headers(specSig, specTS), specBody, now, nil},
		{"one of several", specSecret, headers(other+" v2,xyz "+specSig, specTS), specBody, now, nil},
		{"tampered body", specSecret, headers(specSig, specTS), `{"test": 1}`, now, ErrSignature},
		{"other secret", testSecret("other key"), headers(specSig, specTS), specBody, now, ErrSignature},
		{"no signature", specSecret, headers("", specTS), specBody, now, ErrSignature},
		{"signature of another timestamp", specSecret, headers(specSig, specTS+1), specBody, now, ErrSignature},
		{"too old", specSecret, headers(specSig, specTS), specBody, now.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", specSecret, headers(specSig, specTS), specBody, now.Add(-6 * time.Minute), ErrTimestamp},
		{"within tolerance", specSecret, headers(specSig, specTS), specBody, now.Add(4 * time.Minute), nil},
		{"bad secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(specSig, specTS), specBody, now, ErrSecret},
		{"empty key", "whsec_", headers(specSig, specTS), specBody, now, ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.h, []byte(tt.body), tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	h := headers(specSig, specTS)
	h.Del(HeaderID)
	if err := Verify(specSecret, h, []byte(specBody), now); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify(no webhook-id) = %v, want ErrSignature", err)
	}
}
