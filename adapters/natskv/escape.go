package natskv

import (
	"strconv"
	"strings"
)

// escape makes s one token of a KV key: letters, digits, '_' and '-' stay,
// every other byte becomes '=' and two upper-case hex digits. The result
// never contains a dot, so it cannot split or merge key parts, and it is
// readable in `nats kv ls` for the usual ids ("1001", "acme",
// "+4930…" → "=2B4930…").
func escape(s string) string {
	if s == "" {
		return "="
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// unescape reverses escape.
func unescape(s string) string {
	if s == "=" {
		return ""
	}
	if !strings.Contains(s, "=") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && i+3 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
