package config

import "time"

// Admin configures the admin surfaces (JSON API, portal, CLI) and the
// discovery of PBX extensions they link.
type Admin struct {
	// SessionTTL is how long a portal login lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// TokenTTL is the lifetime of an API token when none is asked for.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// LoginAttempts failed logins from one address within LoginWindow
	// lock that address out of logging in until the window has passed.
	LoginAttempts int           `yaml:"login_attempts"`
	LoginWindow   time.Duration `yaml:"login_window"`
	// DiscoveryInterval is how often the PBX's extensions are read into the
	// store (also at every PBX connect).
	DiscoveryInterval time.Duration `yaml:"discovery_interval"`
}

func (p *checker) admin(a Admin) {
	p.positive("admin.session_ttl", a.SessionTTL)
	p.positive("admin.token_ttl", a.TokenTTL)
	p.positive("admin.login_window", a.LoginWindow)
	p.positive("admin.discovery_interval", a.DiscoveryInterval)
	if a.LoginAttempts < 1 {
		p.addf("admin.login_attempts: must be at least 1, got %d", a.LoginAttempts)
	}
}
