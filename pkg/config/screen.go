package config

import "time"

// Screen configures the screening of inbound calls before they ring: the
// CRM name on the phones, the blacklist and owner routing (README, "Caller
// name, blacklist and owner routing"). Which of them a tenant uses are its
// settings, not configuration.
type Screen struct {
	// Deadline is the most ringing delay screening may add to a call: the
	// decision is taken from the lookup cache alone within it, and when it
	// passes the call rings as it is. The Zoho API is never asked while a
	// call waits.
	Deadline time.Duration `yaml:"deadline"`
	// RefreshConcurrency bounds the background lookups of callers the cache
	// missed, so that their next call finds their record; misses beyond it
	// are not looked up (their next call asks again).
	RefreshConcurrency int `yaml:"refresh_concurrency"`
	// SettingsTTL is how long a tenant's settings (blacklist, features) and
	// links are kept for screening: a change takes effect within it.
	SettingsTTL time.Duration `yaml:"settings_ttl"`
}

// defaultScreen are the screen defaults.
func defaultScreen() Screen {
	return Screen{Deadline: 150 * time.Millisecond, RefreshConcurrency: 4, SettingsTTL: 5 * time.Second}
}

func (p *checker) screen(s Screen) {
	if s.Deadline < 10*time.Millisecond || s.Deadline > 2*time.Second {
		p.addf("screen.deadline: must be between 10ms and 2s (it delays ringing), got %s", s.Deadline)
	}
	p.between("screen.refresh_concurrency", s.RefreshConcurrency, 1, 64)
	p.positive("screen.settings_ttl", s.SettingsTTL)
	if s.SettingsTTL > 10*time.Minute {
		p.addf("screen.settings_ttl: must be at most 10m, got %s", s.SettingsTTL)
	}
}
