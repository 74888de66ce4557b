package handlers

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"slices"
)

// Signature is WeChat's URL signature: the hex SHA-1 of token, timestamp
// and nonce sorted and joined.
func Signature(token, timestamp, nonce string) string {
	parts := [3]string{token, timestamp, nonce}
	slices.Sort(parts[:])
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	var sum [sha1.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// validSignature compares in constant time.
func validSignature(token, signature, timestamp, nonce string) bool {
	if token == "" || signature == "" {
		return false
	}
	want := Signature(token, timestamp, nonce)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}
