package integration

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/store"
)

// runIn runs the built binary with stdin and returns its exit code and
// output (stdout then stderr).
func runIn(t *testing.T, env []string, stdin string, args ...string) (int, string) {
	t.Helper()
	bin, err := buildRingside()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String() + errOut.String()
}

// TestZohoCommands drives `ringside zoho` against a running daemon on
// Redis and the Zoho simulator: users, disconnect, a Self Client token on
// stdin, the device flow (with a slow_down and the user's other data
// centre) and the browser flow completed by the daemon's callback.
func TestZohoCommands(t *testing.T) {
	listen := freeAddr(t)
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST, redis: true, listen: listen,
		sim: zohosim.Options{DeviceInterval: 100 * time.Millisecond, DeviceSlowDown: 1}})
	cfg := []string{"-config", w.cfg}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"zoho"}, "Usage: ringside zoho <command>"},
		{[]string{"zoho", "frob"}, `unknown command "frob"`},
		{[]string{"zoho", "status", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"zoho", "connect", "-device", "-import-token", "-", "-config", w.cfg}, "exclude each other"},
		{[]string{"zoho", "connect", "-mode", "sip", "-config", w.cfg}, "-mode must be rest or phonebridge"},
		{[]string{"zoho", "status", "extra"}, `unexpected argument "extra"`},
	} {
		if code, out := runIn(t, w.env, "", tc.args...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, out)
		}
	}

	code, out := runIn(t, w.env, "", append([]string{"zoho", "users"}, cfg...)...)
	if code != 0 || !regexp.MustCompile(`9001\s+pb-1001\s+ana@acme.example\s+Ana\s+1001`).MatchString(out) ||
		!regexp.MustCompile(`9009\s+pb-9\s+boss@acme.example\s+Boss\s+-`).MatchString(out) {
		t.Errorf("zoho users: exit %d\n%s", code, out)
	}

	code, out = runIn(t, w.env, "", append([]string{"zoho", "disconnect"}, cfg...)...)
	if code != 0 || !strings.Contains(out, "disconnected") {
		t.Errorf("zoho disconnect: exit %d\n%s", code, out)
	}
	if code, out = runIn(t, w.env, "", append([]string{"zoho", "status"}, cfg...)...); !regexp.MustCompile(`status\s+disconnected`).MatchString(out) {
		t.Errorf("status after disconnect: exit %d\n%s", code, out)
	}

	// A Self Client token on stdin: never echoed.
	rt := w.sim.SelfClientToken(e2eOrg, "ZohoCRM.modules.ALL,ZohoCRM.users.READ")
	code, out = runIn(t, w.env, rt+"\n", append([]string{"zoho", "connect", "-import-token", "-", "-accounts-url", w.sim.AccountsURL("eu")}, cfg...)...)
	if code != 0 || !regexp.MustCompile(`status\s+connected`).MatchString(out) || strings.Contains(out, rt) {
		t.Errorf("import from stdin: exit %d\n%s", code, out)
	}

	// The device flow for a second tenant, whose org lives in the EU while
	// the configured accounts server is the US one (other_dc).
	w.sim.AddOrg("org-globex", "eu", zohosim.User{ID: "7001", ZohoUser: "pb-7001", Email: "gina@globex.example", Name: "Gina"})
	dev := start(t, w.env, append([]string{"zoho", "connect", "-device", "-tenant", "globex", "-mode", "phonebridge"}, cfg...)...)
	var userCode string
	eventually(t, 30*time.Second, "the user code", func() bool {
		m := regexp.MustCompile(`enter the code\s+(\S+)`).FindStringSubmatch(dev.out())
		if m != nil {
			userCode = m[1]
		}
		return m != nil
	})
	if !strings.Contains(dev.out(), "/oauth/v3/device") {
		t.Errorf("no verification URL:\n%s", dev.out())
	}
	if err := w.sim.ApproveDevice(userCode, "org-globex"); err != nil {
		t.Fatal(err)
	}
	if code := dev.waitExit(30 * time.Second); code != 0 || !regexp.MustCompile(`mode\s+phonebridge`).MatchString(dev.out()) ||
		!regexp.MustCompile(`location\s+eu`).MatchString(dev.out()) {
		t.Errorf("device flow: exit %d\n%s%s", code, dev.out(), dev.errOut())
	}

	// The browser flow: the command prints the consent URL; Zoho (the
	// simulator) sends the browser to the daemon's callback, which
	// completes the connection.
	w.sim.AddOrg("org-initech", "in", zohosim.User{ID: "8001", ZohoUser: "pb-8001", Email: "ian@initech.example", Name: "Ian"})
	code, out = runIn(t, w.env, "", append([]string{"zoho", "connect", "-tenant", "initech"}, cfg...)...)
	m := regexp.MustCompile(`(?m)^\s+(\S+/oauth/v2/auth\?\S+)$`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "http://"+listen+"/zoho/oauth/callback") {
		t.Fatalf("zoho connect (browser): exit %d\n%s", code, out)
	}
	consent, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	q := consent.Query()
	if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("redirect_uri") != "http://"+listen+"/zoho/oauth/callback" {
		t.Errorf("consent URL %s", consent)
	}
	back := w.sim.Authorize("org-initech", q.Get("scope"), q.Get("redirect_uri"), q.Get("state"))
	if code, body := get(t, back); code != 200 || !strings.Contains(body, "Zoho is connected for initech") {
		t.Fatalf("callback: %d %s", code, body)
	}
	if code, body := get(t, back); code != 400 {
		t.Errorf("a state used twice: %d %s", code, body)
	}
	code, out = runIn(t, w.env, "", append([]string{"zoho", "status", "-tenant", "initech"}, cfg...)...)
	if code != 0 || !regexp.MustCompile(`status\s+connected`).MatchString(out) || !regexp.MustCompile(`location\s+in`).MatchString(out) {
		t.Errorf("status after the browser flow: exit %d\n%s", code, out)
	}
	w.stop()
}

// TestZohoCommandsEmbeddedStoreLocked: on the embedded store without
// nats.listen, the commands refuse to touch the store the daemon holds.
func TestZohoCommandsEmbeddedStoreLocked(t *testing.T) {
	dir := t.TempDir()
	key := dir + "/key"
	if err := os.WriteFile(key, []byte(strings.Repeat("cd", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := serve(t, "zoho:\n  client_id: 1000.X\n  client_secret: s\n  token_key_file: "+key+"\n")
	eventually(t, 30*time.Second, "the daemon to be up", func() bool { return strings.Contains(p.errOut(), `"msg":"ready"`) })
	cfgPath := regexp.MustCompile(`"data_dir":"([^"]+)/state"`).FindStringSubmatch(p.errOut())
	if cfgPath == nil {
		t.Fatalf("no data_dir in the log:\n%s", p.errOut())
	}
	code, out := runIn(t, nil, "", "zoho", "status", "-config", cfgPath[1]+"/ringside.yaml", "-tenant", "default")
	if code != 1 || !strings.Contains(out, "the ringside daemon is running on the embedded store") || !strings.Contains(out, "nats.listen") {
		t.Errorf("exit %d\n%s", code, out)
	}
}
