package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks the shipped unit the way systemd reads it: it must
// verify cleanly and keep its hardening (exposure at most 2.0 of 10 in
// `systemd-analyze security`), and keep the contract the README promises.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install Debian's systemd package (.ci/run does)")
	}
	bin, err := buildRingside()
	if err != nil {
		t.Fatal(err)
	}
	unit := read(t, "../deploy/systemd/ringside.service")
	for _, want := range []string{
		"Type=notify", "ExecStartPre=/usr/local/bin/ringside check -config", "Restart=on-failure",
		"User=ringside", "StateDirectory=ringside", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	// Point the unit at the binary just built, as an install would.
	path := filepath.Join(t.TempDir(), "ringside.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/ringside", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput(); err != nil {
		t.Errorf("exposure above 2.0: %v\n%s", err, out)
	}
}
