package config

import (
	"fmt"
	"log/slog"
)

const redacted = "<secret>"

// Secret is a password, token or client secret. However it is printed —
// fmt verbs, YAML, JSON, zap (via fmt.Stringer), slog — it shows as <secret>
// (an empty Secret stays empty, so "not set" remains visible). Value returns
// the real value, for the one place that needs it.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns <secret>, or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString makes %#v print <secret>.
func (s Secret) GoString() string { return s.String() }

// Format makes every fmt verb (%v %+v %#v %s %q %x %d...) print <secret>.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalYAML encodes the secret as <secret>.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON encodes the secret as "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText encodes the secret as <secret>.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue makes slog print <secret>.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
