package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
)

// buildRingside builds the binary once per test run, as `make build` does.
var buildRingside = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ringside-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ringside")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "../cmd/ringside")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a running ringside binary with its output captured.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	addr   chan string
	done   chan error
}

// start runs ringside with args and env (on top of a clean environment); it
// returns once the process is started.
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin, err := buildRingside()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, addr: make(chan string, 1), done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	outR, outW := io.Pipe()
	p.cmd.Stdout = outW
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrRe := regexp.MustCompile(`http://([0-9.]+:[0-9]+)/readyz`)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case p.addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		err := p.cmd.Wait()
		outW.Close()
		<-readDone
		p.done <- err
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
		}
	})
	return p
}

func (p *process) out() string    { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *process) errOut() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// waitExit waits for the process to end and returns its exit code.
func (p *process) waitExit(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.t.Fatalf("ringside still running after %v", d)
		return -1
	}
}

// terminate sends SIGTERM and requires a clean drain: exit code 0.
func (p *process) terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if code := p.waitExit(30 * time.Second); code != 0 {
		p.t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 50ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricSum adds up the samples of one metric family in a scrape.
func metricSum(scrape, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(scrape, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// notifySocket listens where systemd would, and reports what the service says.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			select {
			case msgs <- string(buf[:n]):
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return path, msgs
}

func waitNotify(t *testing.T, msgs <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return
			}
		case <-timeout:
			t.Fatalf("systemd was never told %q", want)
		}
	}
}

// TestDemoRunsTheWholePipeline is the README's `make run`: the demo starts on
// the embedded default, turns ready, shows calls flowing through JetStream in
// its log and metrics, and drains cleanly on SIGTERM.
func TestDemoRunsTheWholePipeline(t *testing.T) {
	sock, notes := notifySocket(t)
	p := start(t, []string{"NOTIFY_SOCKET=" + sock, "RINGSIDE_LOG_FORMAT=json"},
		"demo", "-listen", "127.0.0.1:0", "-concurrent", "20", "-speed", "50", "-seed", "7")
	var addr string
	select {
	case addr = <-p.addr:
	case <-time.After(60 * time.Second):
		t.Fatal("demo never printed its address")
	}
	waitNotify(t, notes, "READY=1")
	base := "http://" + addr

	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	// The portal answers, with the logins the demo printed.
	if !regexp.MustCompile(`portal +http://\S+/ +\(operator: operator / [0-9a-f]{16}; company admin of acme: acme-admin / [0-9a-f]{16}\)`).MatchString(p.out()) {
		t.Errorf("the demo does not print the portal and its logins:\n%s", p.out())
	}
	if code, body := get(t, base+"/login"); code != 200 || !strings.Contains(body, `name="password"`) {
		t.Errorf("portal /login = %d", code)
	}

	var scrape string
	eventually(t, 60*time.Second, "ended calls consumed back from the stream", func() bool {
		_, scrape = get(t, base+"/metrics")
		return metricSum(scrape, "ringside_calls_ended_total") >= 5 &&
			metricSum(scrape, "ringside_nats_consumed_total", `result="ack"`) >= 20
	})
	if n := metricSum(scrape, "ringside_pipeline_publish_attempts_total", `result="ok"`); n < 20 {
		t.Errorf("published %v events, want at least 20", n)
	}
	if n := metricSum(scrape, "ringside_build_info"); n != 1 {
		t.Errorf("ringside_build_info = %v", n)
	}
	problems, err := promlint.New(strings.NewReader(scrape)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("metric lint: %s: %s", pr.Metric, pr.Text)
	}
	for _, forbidden := range []string{"call_id=", "number=", "tenant="} {
		if strings.Contains(scrape, forbidden) {
			t.Errorf("scrape has an unbounded label %s", forbidden)
		}
	}
	// The logging consumer reads the stream in order, behind the others.
	eventually(t, 30*time.Second, "call events read back from JetStream in the demo log", func() bool {
		return strings.Contains(p.errOut(), `"msg":"call event"`) && strings.Contains(p.errOut(), `"type":"ended"`)
	})
	// The calls land in the simulated Zoho CRM, one line each.
	eventually(t, 30*time.Second, "calls logged in the simulated Zoho CRM", func() bool {
		return strings.Count(p.out(), "zoho crm ") >= 3
	})
	if !strings.Contains(p.out(), "simulated Zoho CRM") {
		t.Error("the demo does not show where its Zoho CRM is")
	}
	_, scrape = get(t, base+"/metrics")
	if n := metricSum(scrape, "ringside_zoho_sink_events_total", `mode="rest"`, `result="ok"`); n < 3 {
		t.Errorf("zoho sink handled %v events, want at least 3", n)
	}
	if problems, err := promlint.New(strings.NewReader(scrape)).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("metric lint with the zoho metrics: %v %v", problems, err)
	}

	p.terminate()
	waitNotify(t, notes, "STOPPING=1")
	for _, step := range []string{`"msg":"draining"`, `"msg":"stopped"`} {
		if !strings.Contains(p.errOut(), step) {
			t.Errorf("shutdown log lacks %s", step)
		}
	}
}

// serve runs `ringside serve` on a configuration file and returns the
// process and its HTTP base URL.
func serve(t *testing.T, yaml string, env ...string) (*process, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ringside.yaml")
	yaml = "node_id: pbx-01\ndata_dir: " + dir + "/state\nhttp:\n  listen: 127.0.0.1:0\n" + yaml
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, append([]string{"RINGSIDE_LOG_FORMAT=json"}, env...), "serve", "-config", cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	var addr string
	eventually(t, 60*time.Second, "the http address in the log", func() bool {
		m := re.FindStringSubmatch(p.errOut())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return p, "http://" + addr
}

// awaitEndedCall waits for a call to end and returns the metrics scrape
// that shows it.
func awaitEndedCall(t *testing.T, base string) string {
	t.Helper()
	var scrape string
	eventually(t, 30*time.Second, "the call to end", func() bool {
		_, scrape = get(t, base+"/metrics")
		return metricSum(scrape, "ringside_calls_ended_total") >= 1
	})
	return scrape
}

// TestServeWithAsterisk runs `ringside serve` against the ARI simulator: it
// turns ready once connected, and a ring group call on the PBX comes out as
// one answered inbound call of the tenant the dialplan names.
func TestServeWithAsterisk(t *testing.T) {
	sim := arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
		ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside"})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	p, base := serve(t, "pbx:\n  kind: asterisk\n  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: "+sim.URL()+"\n",
		"RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret")
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	if err := sim.Play("ring_group_one_answers"); err != nil {
		t.Fatal(err)
	}
	scrape := awaitEndedCall(t, base)
	if n := metricSum(scrape, "ringside_calls_ended_total", `direction="inbound"`, `disposition="answered"`); n != 1 {
		t.Errorf("inbound answered calls = %v, want 1", n)
	}
	if n := metricSum(scrape, "ringside_pipeline_events_total", `type="ring_stopped"`); n != 2 {
		t.Errorf("ring_stopped events = %v, want 2 (the two extensions that did not answer)", n)
	}
	if strings.Contains(p.errOut(), "ari-secret") {
		t.Error("the ARI password reached the log")
	}
	p.terminate()
}

// TestServeWithFreeSWITCH runs `ringside serve` against the ESL simulator:
// an inbound call answered by one extension comes out as one answered call of
// the tenant named by the channels' domain_name.
func TestServeWithFreeSWITCH(t *testing.T) {
	sim, err := eslsim.Start(eslsim.Options{Password: "esl-secret", HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	p, base := serve(t, "pbx:\n  kind: freeswitch\n  tenant: {from: variable, variable: domain_name}\n  freeswitch:\n    address: "+sim.Addr()+"\n",
		"RINGSIDE_PBX_FREESWITCH_PASSWORD=esl-secret")
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if err := sim.Play("inbound_answered"); err != nil {
		t.Fatal(err)
	}
	scrape := awaitEndedCall(t, base)
	if n := metricSum(scrape, "ringside_calls_ended_total", `direction="inbound"`, `disposition="answered"`); n != 1 {
		t.Errorf("inbound answered calls = %v, want 1", n)
	}
	if strings.Contains(p.errOut(), "esl-secret") {
		t.Error("the event socket password reached the log")
	}
	p.terminate()
}

// TestServeReportsWhatIsNotReady: with the PBX unreachable, Ringside is
// alive, and /readyz says why it takes no calls.
func TestServeReportsWhatIsNotReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port where no Asterisk answers
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/ari"
	ln.Close()
	p, base := serve(t, "pbx:\n  asterisk:\n    url: "+down+"\n")
	var body string
	eventually(t, 30*time.Second, "readiness to name the pbx", func() bool {
		var code int
		code, body = get(t, base+"/readyz")
		return code == 503 && strings.HasPrefix(body, "pbx: disconnected")
	})
	if strings.Count(body, "\n") != 1 {
		t.Errorf("/readyz = %q, want one line for the pbx only", body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	p.terminate()
}

// TestCommandLine pins the exit codes and messages of the command line.
func TestCommandLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("pbx:\n  kind: sip\n  asterisk:\n    urll: x\nnats:\n  replicas: three\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		want     []string // substrings of stdout+stderr
		wantNone []string
	}{
		{name: "no command", code: 2, want: []string{"Usage: ringside <command>"}},
		{name: "unknown command", args: []string{"launch"}, code: 2, want: []string{`unknown command "launch"`, "Usage:"}},
		{name: "unknown flag", args: []string{"check", "-nope"}, code: 2, want: []string{"flag provided but not defined: -nope", "Usage: ringside check"}},
		{name: "stray argument", args: []string{"version", "extra"}, code: 2, want: []string{`unexpected argument "extra"`}},
		{name: "version", args: []string{"version"}, code: 0, want: []string{"ringside ", "commit ", "go1."}},
		{name: "check example", args: []string{"check", "-config", "../configs/ringside.example.yaml"}, code: 0, want: []string{"ringside.example.yaml: ok"}},
		{name: "check prints every problem", args: []string{"check", "-config", bad}, code: 1, want: []string{
			"unknown key pbx.asterisk.urll", "nats.replicas", `pbx.kind: must be asterisk or freeswitch, got "sip"`, "3 problem(s)"}},
		{name: "check hides secrets", env: []string{"RINGSIDE_PBX_ASTERISK_PASSWORD=hunter2"},
			args: []string{"check", "-config", "../configs/ringside.example.yaml", "-print"}, code: 0,
			want: []string{"password: <secret>"}, wantNone: []string{"hunter2"}},
		{name: "unknown env", env: []string{"RINGSIDE_NATS_URLL=nats://x"}, args: []string{"check", "-config", "../configs/ringside.example.yaml"}, code: 1, want: []string{"RINGSIDE_NATS_URLL"}},
		{name: "missing file", args: []string{"check", "-config", "/nonexistent/ringside.yaml"}, code: 1, want: []string{"/nonexistent/ringside.yaml"}},
		{name: "demo bad concurrency", args: []string{"demo", "-concurrent", "0"}, code: 2, want: []string{"-concurrent must be"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, tc.args...)
			code := p.waitExit(60 * time.Second)
			all := p.out() + p.errOut()
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\n%s", code, tc.code, all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(all, w) {
					t.Errorf("output shows %q:\n%s", w, all)
				}
			}
		})
	}
}
