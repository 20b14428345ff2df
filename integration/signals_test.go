package integration

import (
	"strings"
	"syscall"
	"testing"
	"time"

	arisim "github.com/ringside/ringside/integration/sim/ari"
)

// A second SIGTERM during the drain ends the process at once, with exit
// code 1 and a line saying it did not drain: the operator's way out of a
// drain that waits on something stuck.
func TestSecondSignalExitsWithoutDraining(t *testing.T) {
	sim := arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
		ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside"})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	p, base := serve(t, "pbx:\n  kind: asterisk\n  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: "+sim.URL()+"\n",
		"RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret")
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The second signal as soon as the drain has begun.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.errOut(), `"msg":"draining"`) {
		if time.Now().After(deadline) {
			t.Fatal("no drain after SIGTERM")
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit code after a second SIGTERM = %d, want 1", code)
	}
	if !strings.Contains(p.errOut(), "ringside: second terminated, exiting without draining") {
		t.Errorf("no line saying the drain was cut short:\n%s", p.errOut())
	}
	if strings.Contains(p.errOut(), `"msg":"stopped"`) {
		t.Error("the log says the daemon stopped cleanly, though the drain was cut short")
	}
}
