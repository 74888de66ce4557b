package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (https://www.standardwebhooks.com). Every delivery
// carries the first two; the signature only when a secret is configured.
const (
	// HeaderID is the delivery's id, the same on every retry: receivers
	// dedupe by it.
	HeaderID = "webhook-id"
	// HeaderTimestamp is the attempt's time in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature is "v1,<base64 HMAC-SHA256>" of id.timestamp.body.
	HeaderSignature = "webhook-signature"
	// HeaderAttempt is pushgate's own: the attempt's number, 1 for the first.
	HeaderAttempt = "pushgate-attempt"
)

// SecretPrefix starts every secret; base64 of the key follows.
const SecretPrefix = "whsec_"

// VerifyTolerance is how far a webhook-timestamp may lie from the receiver's
// clock for Verify to accept it (Standard Webhooks' recommendation).
const VerifyTolerance = 5 * time.Minute

// Signature errors. Verify and Sign wrap them with %w.
var (
	// ErrSecret means a secret is not "whsec_" followed by base64 of at
	// least one byte.
	ErrSecret = errors.New("invalid webhook secret")
	// ErrSignature means the headers carry no signature that matches.
	ErrSignature = errors.New("webhook signature mismatch")
	// ErrTimestamp means the webhook-timestamp is missing, malformed or
	// outside VerifyTolerance.
	ErrTimestamp = errors.New("webhook timestamp out of tolerance")
)

// ParseSecret returns the key of a "whsec_<base64>" secret.
func ParseSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("notify: secret without %q prefix: %w", SecretPrefix, ErrSecret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("notify: secret is not base64 of at least one byte: %w", ErrSecret)
	}
	return key, nil
}

// Sign returns the webhook-signature value, "v1,<base64 HMAC-SHA256(key,
// id.timestamp.body)>", for a delivery with id sent at ts.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return sign(key, id, strconv.FormatInt(ts.Unix(), 10), body), nil
}

// sign is Sign with the key parsed and the timestamp formatted.
func sign(key []byte, id, ts string, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts, body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received delivery as a subscriber would: the
// webhook-timestamp lies within VerifyTolerance of now, and one of the
// space-separated "v1,<signature>" entries of webhook-signature is the
// HMAC-SHA256 of webhook-id.webhook-timestamp.body under secret (compared in
// constant time).
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts := h.Get(HeaderID), h.Get(HeaderTimestamp)
	if id == "" {
		return fmt.Errorf("notify: no %s header: %w", HeaderID, ErrSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("notify: %s %q: %w", HeaderTimestamp, ts, ErrTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > VerifyTolerance || d < -VerifyTolerance {
		return fmt.Errorf("notify: %s is %s away: %w", HeaderTimestamp, d.Round(time.Second), ErrTimestamp)
	}
	want := mac(key, id, ts, body)
	for _, entry := range strings.Fields(h.Get(HeaderSignature)) {
		sig, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("notify: delivery %s: %w", id, ErrSignature)
}
