package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderSignature = "Ringside-Signature"
	HeaderEventID   = "Ringside-Event-Id"
	HeaderEventType = "Ringside-Event-Type"
	HeaderTimestamp = "Ringside-Timestamp"
)

// ReplayWindow is how far from its own clock a receiver should accept a
// delivery's signed timestamp. Every attempt is signed afresh, so a retry
// is never stale; a captured request replayed later is.
const ReplayWindow = 5 * time.Minute

// Sign returns the Ringside-Signature value of body sent at t with secret:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>">". The
// key is the secret as shown at creation, byte for byte.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// mac is HMAC-SHA256(secret, ts + "." + body).
func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	// ErrBadSignature: the header is malformed, or no v1 signature in it
	// matches the body with the secret.
	ErrBadSignature = errors.New("webhooks: signature does not match")
	// ErrStale: the signed timestamp is outside the replay window.
	ErrStale = errors.New("webhooks: timestamp outside the replay window")
)

// Verify checks a Ringside-Signature header value against the raw body as
// received, in constant time, and that its timestamp is within window of
// now. Several v1 entries are allowed (any one may match), so that a
// secret can be rotated. It is what a Go receiver runs; the README has the
// same code without this package.
func Verify(secret, header string, body []byte, now time.Time, window time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok // compare each: no early exit
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(unix, 0)); d > window || d < -window {
		return fmt.Errorf("%w: signed %s from now", ErrStale, d.Round(time.Second))
	}
	return nil
}
