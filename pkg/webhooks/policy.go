package webhooks

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// CheckURL reports whether raw may receive deliveries: an https URL (the
// store's rules: absolute, no user info, no fragment), or, with
// allowInsecure (webhooks.allow_insecure), an http URL to a loopback or
// private address: an IP literal in 127.0.0.0/8, ::1, 10.0.0.0/8,
// 172.16.0.0/12, 192.168.0.0/16 or fc00::/7, or "localhost". Names are not
// resolved. Errors wrap store.ErrInvalid.
func CheckURL(raw string, allowInsecure bool) error {
	if err := store.CheckWebhookURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw) // parsed by CheckWebhookURL
	if u.Scheme == "https" {
		return nil
	}
	if !allowInsecure {
		return fmt.Errorf("webhook url %.100q: use https (http only with webhooks.allow_insecure, to loopback or private addresses): %w", raw, store.ErrInvalid)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && (ip.IsLoopback() || ip.IsPrivate()) {
		return nil
	}
	return fmt.Errorf("webhook url %.100q: http only to a loopback or private IP address (or localhost); use https: %w", raw, store.ErrInvalid)
}

// EventTypes parses a comma-separated list of call event types ("ended,
// ringing"), dropping blanks and repeats; empty means every type. An
// unknown type is store.ErrInvalid.
func EventTypes(list string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(list, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			continue
		case !slices.Contains(events.Types, events.Type(t)):
			names := make([]string, len(events.Types))
			for i, k := range events.Types {
				names[i] = string(k)
			}
			return nil, fmt.Errorf("event type %.40q: want one of %s: %w", t, strings.Join(names, ", "), store.ErrInvalid)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// NewID returns a fresh subscription id: "wh_", the creation time in Unix
// milliseconds (12 hex digits, so ids sort by creation) and 8 random hex
// digits.
func NewID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	ms := strconv.FormatInt(now.UnixMilli(), 16)
	return "wh_" + strings.Repeat("0", max(0, 12-len(ms))) + ms + hex.EncodeToString(b[:])
}

// NewSecret returns a fresh signing secret: "whsec_" and 32 random bytes in
// hex. The HMAC key is the whole string as shown.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + hex.EncodeToString(b[:])
}

// random returns n random bytes in hex.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
