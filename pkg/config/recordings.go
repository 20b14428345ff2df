package config

import (
	"path/filepath"
	"strings"
	"time"
)

// Recordings configures the signed links recordings are served at
// (<http.public_url>/recordings/<token>).
type Recordings struct {
	// Dirs is a comma-separated list of absolute directories recordings may
	// be served from; nothing outside them ever is.
	Dirs string `yaml:"dirs"`
	// KeyFile holds the key links are signed with (HMAC-SHA256; 32 bytes or
	// more, raw, hex or base64). Empty: recordings are not served.
	KeyFile string `yaml:"key_file"`
	// LinkTTL is how long a link given to Zoho stays valid.
	LinkTTL time.Duration `yaml:"link_ttl"`
}

// DirList returns Dirs split at commas.
func (r Recordings) DirList() []string { return splitList(r.Dirs) }

// ClickToCall configures click-to-call from Zoho (the clicktodialuri
// callback and the two-leg originate).
type ClickToCall struct {
	// AuthParam is the name of the per-user secret Zoho echoes on each
	// click-to-dial and call-control request (authorizationparam).
	AuthParam string `yaml:"auth_param"`
	// DedupWindow: a second click of the same user on the same number
	// within it places no second call.
	DedupWindow time.Duration `yaml:"dedup_window"`
	// RingTimeout is how long the user's default terminal (leg A) rings;
	// DialTimeout how long the customer (leg B) rings.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// DeskEndpoint is the dial string of an extension without a device of
	// its own in the store; {extension} and {tenant} are replaced. Empty:
	// PJSIP/{extension} (Asterisk), user/{extension} (FreeSWITCH).
	DeskEndpoint string `yaml:"desk_endpoint"`
	// OutboundEndpoint is the tenant's outbound route for the customer and
	// for mobile terminals; {number}, {extension} and {tenant} are
	// replaced. Empty: PJSIP/{number}@trunk (Asterisk),
	// sofia/gateway/trunk/{number} (FreeSWITCH).
	OutboundEndpoint string `yaml:"outbound_endpoint"`
	// CallerID is the number the customer sees; {extension} and {tenant}
	// are replaced. Empty: the trunk's default.
	CallerID string `yaml:"caller_id"`
}

func (p *checker) recordings(r Recordings) {
	for _, d := range r.DirList() {
		if !filepath.IsAbs(d) {
			p.addf("recordings.dirs: %q is not an absolute path", d)
		}
	}
	p.positive("recordings.link_ttl", r.LinkTTL)
}

func (p *checker) clickToCall(c ClickToCall) {
	if c.AuthParam == "" || strings.ContainsAny(c.AuthParam, " \t\r\n=&") {
		p.addf("click_to_call.auth_param: must be a non-empty parameter name, got %q", c.AuthParam)
	}
	p.positive("click_to_call.dedup_window", c.DedupWindow)
	p.positive("click_to_call.ring_timeout", c.RingTimeout)
	p.positive("click_to_call.dial_timeout", c.DialTimeout)
	for _, kv := range [][2]string{{"click_to_call.desk_endpoint", c.DeskEndpoint},
		{"click_to_call.outbound_endpoint", c.OutboundEndpoint}} {
		if strings.ContainsAny(kv[1], " \t\r\n") {
			p.addf("%s: must not contain blanks, got %q", kv[0], kv[1])
		}
	}
	if c.OutboundEndpoint != "" && !strings.Contains(c.OutboundEndpoint, "{number}") {
		p.addf("click_to_call.outbound_endpoint: must contain {number}, got %q", c.OutboundEndpoint)
	}
}
