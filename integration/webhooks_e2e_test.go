package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/webhooks"
)

// buildReceiver builds the README's webhook receiver once per test run.
var buildReceiver = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "webhookreceiver-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "webhookreceiver")
	if out, err := exec.Command("go", "build", "-o", bin, "./webhookreceiver").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// exampleReceiver is the README's receiver running as a process; handled
// lists the "event <id> <type>" lines it logged.
type exampleReceiver struct {
	url     string
	mu      sync.Mutex
	handled []string
}

func startExampleReceiver(t *testing.T, addr, secret string) *exampleReceiver {
	t.Helper()
	bin, err := buildReceiver()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-listen", addr)
	cmd.Env = []string{"RINGSIDE_WEBHOOK_SECRET=" + secret}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &exampleReceiver{url: "http://" + addr + "/ringside"}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "listening on") {
				close(listening)
			}
			if i := strings.Index(line, "event "); i >= 0 {
				r.mu.Lock()
				r.handled = append(r.handled, strings.Join(strings.Fields(line[i:])[:3], " "))
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the example receiver did not start")
	}
	eventually(t, 10*time.Second, "the example receiver to accept connections", func() bool {
		resp, err := http.Post(r.url, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return r
}

// count returns how often the receiver handled event id.
func (r *exampleReceiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, h := range r.handled {
		if strings.HasPrefix(h, "event "+id+" ") {
			n++
		}
	}
	return n
}

func (r *exampleReceiver) total() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.handled) }

// crmReceiver is another CRM's endpoint in the test: it checks every
// request like a careful receiver (signature, headers, envelope) and counts
// what it accepted; status makes it fail.
type crmReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	status int            // answer to events: 204, or an error status
	first  []string       // types of the first requests
	tries  map[string]int // event id → requests
	ok     map[string]int // event id → accepted
	calls  map[string]events.Call
	bad    int // requests with a bad signature or envelope
}

func newCRMReceiver(t *testing.T) *crmReceiver {
	c := &crmReceiver{t: t, status: http.StatusNoContent, tries: map[string]int{}, ok: map[string]int{}, calls: map[string]events.Call{}}
	c.srv = httptest.NewServer(c)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crmReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secret == "" { // not configured yet
		http.Error(w, "no secret configured", http.StatusUnauthorized)
		return
	}
	sig := r.Header.Get(webhooks.HeaderSignature)
	if err := webhooks.Verify(c.secret, sig, body, time.Now(), webhooks.ReplayWindow); err != nil {
		c.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var env struct {
		ID, Type, Tenant, Challenge string
		CreatedAt                   time.Time `json:"created_at"`
		Data                        events.Call
	}
	if err := json.Unmarshal(body, &env); err != nil || r.Header.Get(webhooks.HeaderEventID) != env.ID ||
		r.Header.Get(webhooks.HeaderEventType) != env.Type || r.Header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(r.Header.Get("User-Agent"), "Ringside/") || !strings.HasPrefix(sig, "t="+r.Header.Get(webhooks.HeaderTimestamp)+",") ||
		env.Tenant != "acme" {
		c.bad++
		c.t.Errorf("malformed delivery: %v %s (%v)", r.Header, body, err)
		http.Error(w, "malformed", http.StatusBadRequest)
		return
	}
	if len(c.first) < 3 {
		c.first = append(c.first, env.Type)
	}
	if env.Type == webhooks.TypeVerify {
		fmt.Fprintf(w, `{"challenge":%q}`, env.Challenge)
		return
	}
	c.tries[env.ID]++
	if c.status != http.StatusNoContent {
		w.WriteHeader(c.status)
		return
	}
	if env.Data.Tenant != "acme" || env.Type != "call."+string(env.Data.Type) || !env.CreatedAt.Equal(env.Data.At.UTC()) {
		c.t.Errorf("envelope does not match its event: %s", body)
	}
	c.ok[env.ID]++
	c.calls[env.ID] = env.Data
	w.WriteHeader(http.StatusNoContent)
}

func (c *crmReceiver) set(f func(c *crmReceiver)) { c.mu.Lock(); f(c); c.mu.Unlock() }

func (c *crmReceiver) stats() (tries, ok map[string]int, bad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tries, ok = map[string]int{}, map[string]int{}
	for k, v := range c.tries {
		tries[k] = v
	}
	for k, v := range c.ok {
		ok[k] = v
	}
	return tries, ok, c.bad
}

// webhooksE2E is the daemon on the ARI simulator and the embedded store,
// with the CLI reaching its store through nats.listen.
type webhooksE2E struct {
	t    *testing.T
	ari  *arisim.Server
	cfg  string
	env  []string
	p    *process
	base string

	mu        sync.Mutex
	published []published // call events as published, in order
}

type published struct {
	id  string // envelope id: webhooks.EventID of the message id
	typ events.Type
	at  time.Time // when it was seen published
}

func newWebhooksE2E(t *testing.T) *webhooksE2E {
	w := &webhooksE2E{t: t}
	w.ari = arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
		ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside"})
	if err := w.ari.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.ari.Close)
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	yaml := "node_id: pbx-01\ndata_dir: " + dir + "/state\nhttp:\n  listen: 127.0.0.1:0\n" +
		"pbx:\n  kind: asterisk\n  default_tenant: acme\n  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: " + w.ari.URL() + "\n" +
		"nats:\n  listen: " + natsAddr + "\n" +
		"webhooks:\n  timeout: 1s\n  max_failures: 6\n  backoff: {initial: 300ms, max: 1s}\n  allow_insecure: true\n"
	w.cfg = filepath.Join(dir, "ringside.yaml")
	if err := os.WriteFile(w.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"RINGSIDE_LOG_FORMAT=json", "RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret", "RINGSIDE_NATS_TOKEN=nats-secret"}
	w.p = start(t, w.env, "serve", "-config", w.cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	eventually(t, 60*time.Second, "the http address in the log", func() bool {
		m := re.FindStringSubmatch(w.p.errOut())
		if m != nil {
			w.base = "http://" + m[1]
		}
		return m != nil
	})
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, w.base+"/readyz"); return code == 200 })
	nc, err := nats.Connect("nats://"+natsAddr, nats.Token("nats-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe(events.Prefix+".acme.call.*", func(m *nats.Msg) {
		var e events.Call
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		w.mu.Lock()
		w.published = append(w.published, published{id: webhooks.EventID(m.Header.Get(nats.MsgIdHdr)), typ: e.Type, at: time.Now()})
		w.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

// ringside runs a CLI command and checks its exit code.
func (w *webhooksE2E) ringside(want int, args ...string) string {
	w.t.Helper()
	args = append([]string{args[0], "-config", w.cfg}, args[1:]...)
	code, out := runIn(w.t, w.env, "", append([]string{"webhooks"}, args...)...)
	if code != want {
		w.t.Fatalf("ringside webhooks %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

// add subscribes url and returns the id and secret it printed.
func (w *webhooksE2E) add(url string, more ...string) (id, secret string) {
	w.t.Helper()
	out := w.ringside(0, append([]string{"add", "-url", url}, more...)...)
	m := regexp.MustCompile(`(?m)^id\s+(wh_[0-9a-f]{20})$`).FindStringSubmatch(out)
	s := regexp.MustCompile(`(?m)^secret\s+(whsec_[0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil || s == nil || !strings.Contains(out, "state   pending") {
		w.t.Fatalf("webhooks add printed no id, secret or pending state:\n%s", out)
	}
	return m[1], s[1]
}

// events returns the call events published since (inclusive), of the types
// given (all when none).
func (w *webhooksE2E) events(since time.Time, types ...events.Type) []published {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []published
	for _, p := range w.published {
		if !p.at.Before(since) && (len(types) == 0 || slices.Contains(types, p.typ)) {
			out = append(out, p)
		}
	}
	return out
}

// play plays an ARI script and waits until its ended event is published;
// it returns the time the script started.
func (w *webhooksE2E) play(name string) time.Time {
	w.t.Helper()
	since := time.Now()
	before := len(w.events(time.Time{}, events.Ended))
	if err := w.ari.Play(name); err != nil {
		w.t.Fatal(err)
	}
	eventually(w.t, 30*time.Second, name+" to end", func() bool { return len(w.events(time.Time{}, events.Ended)) > before })
	return since
}

// activate runs `webhooks enable`, which verifies the receiver at once,
// unless the daemon's sweep did already.
func (w *webhooksE2E) activate(id string) {
	w.t.Helper()
	out := w.ringside(0, "enable", "-id", id)
	if !strings.Contains(out, "verified: active") && !strings.Contains(out, "is active") {
		w.t.Fatalf("enable %s:\n%s", id, out)
	}
}

// state returns a subscription's row of `webhooks list`.
func (w *webhooksE2E) state(id string) string {
	w.t.Helper()
	for _, line := range strings.Split(w.ringside(0, "list"), "\n") {
		if strings.Contains(line, id) {
			return line
		}
	}
	w.t.Fatalf("webhooks list has no %s", id)
	return ""
}

// TestWebhooksEndToEnd: `ringside serve` on the ARI simulator with
// subscriptions added through the CLI. A receiver is verified by the
// handshake before it gets anything, then gets every call event once with a
// valid signature; the README's receiver, run as a process, gets the ended
// events it subscribed; a receiver with the wrong secret rejects the
// handshake until the subscription is disabled; a receiver answering 503 is
// retried and then gets each event exactly once; one that keeps failing is
// disabled (log line, metric, audit) and gets nothing more until enabled.
func TestWebhooksEndToEnd(t *testing.T) {
	w := newWebhooksE2E(t)
	crm := newCRMReceiver(t)

	// A: the CRM endpoint; it learns the secret after add, so the daemon's
	// first handshakes may fail (401) until enable verifies it at once.
	idA, secretA := w.add(crm.srv.URL+"/ringside", "-tenant", "acme")
	crm.set(func(c *crmReceiver) { c.secret = secretA })
	w.activate(idA)
	// B: the README's receiver as a process, ended events only: the port
	// first, the secret from add.
	addrB := freeAddr(t)
	idB, secretB := w.add("http://"+addrB+"/ringside", "-events", "ended")
	example := startExampleReceiver(t, addrB, secretB)
	w.activate(idB)
	// C: the README's receiver given the wrong secret: it rejects the
	// handshake's signature, so C stays pending and gets nothing.
	addrC := freeAddr(t)
	idC, secretC := w.add("http://" + addrC + "/ringside")
	wrong := startExampleReceiver(t, addrC, "whsec_"+strings.Repeat("0", 64))
	if out := w.ringside(1, "enable", "-id", idC); !strings.Contains(out, "is pending") || !strings.Contains(out, "HTTP 401: signature does not match") {
		t.Fatalf("enable C with the wrong secret at the receiver:\n%s", out)
	}

	list := w.ringside(0, "list", "-tenant", "acme")
	for _, secret := range []string{secretA, secretB, secretC} {
		if strings.Contains(list, secret) {
			t.Fatal("webhooks list shows a secret")
		}
	}
	if !regexp.MustCompile(idA+`\s+active\s+0\s+all\s`).MatchString(list) || !regexp.MustCompile(idB+`\s+active\s+0\s+ended\s`).MatchString(list) {
		t.Fatalf("webhooks list:\n%s", list)
	}
	crm.mu.Lock()
	first := append([]string(nil), crm.first...)
	crm.mu.Unlock()
	if len(first) == 0 || first[0] != webhooks.TypeVerify {
		t.Fatalf("the CRM's first requests %v, want the handshake first", first)
	}

	// 1. A call: A gets every event of it once, B its ended event once,
	// with the same id; C nothing.
	since := w.play("ring_group_one_answers")
	all := w.events(since)
	eventually(t, 30*time.Second, "A to get every event of the call", func() bool {
		_, ok, _ := crm.stats()
		for _, e := range all {
			if ok[e.id] != 1 {
				return false
			}
		}
		return true
	})
	ended := w.events(since, events.Ended)
	if len(all) < 5 || len(ended) != 1 {
		t.Fatalf("call 1 published %d events, %d ended", len(all), len(ended))
	}
	eventually(t, 30*time.Second, "the README receiver to handle the ended event", func() bool { return example.count(ended[0].id) == 1 })
	if n := example.total(); n != 1 {
		t.Fatalf("the README receiver handled %d events, want the ended one only", n)
	}
	if _, ok, _ := crm.stats(); len(ok) != len(all) {
		t.Fatalf("A accepted %d events, %d were published", len(ok), len(all))
	}

	// 2. A's receiver down (503): the events are retried, and once it is
	// back each arrives exactly once; B is not sent its event again.
	crm.set(func(c *crmReceiver) { c.status = http.StatusServiceUnavailable })
	since = w.play("inbound_missed")
	down := w.events(since)
	eventually(t, 30*time.Second, "A to refuse two rounds", func() bool {
		tries, _, _ := crm.stats()
		n := 0
		for _, e := range down {
			n += tries[e.id]
		}
		return n >= 2
	})
	if row := w.state(idA); !strings.Contains(row, "active") || !strings.Contains(row, "HTTP 503") {
		t.Fatalf("A while down: %s", row)
	}
	crm.set(func(c *crmReceiver) { c.status = http.StatusNoContent })
	eventually(t, 30*time.Second, "A to get every event of call 2 once it is back", func() bool {
		_, ok, _ := crm.stats()
		for _, e := range down {
			if ok[e.id] != 1 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // any redelivery would come within the backoff
	tries, ok, bad := crm.stats()
	retried := 0
	for _, e := range down {
		if ok[e.id] != 1 {
			t.Fatalf("event %s (%s) accepted %d times, want exactly once", e.id, e.typ, ok[e.id])
		}
		retried += tries[e.id] - 1
	}
	if retried == 0 || bad != 0 {
		t.Fatalf("%d retries, %d bad requests; want retries and no bad signature", retried, bad)
	}
	endedDown := w.events(since, events.Ended)
	eventually(t, 30*time.Second, "B to get call 2's ended event", func() bool { return example.count(endedDown[0].id) == 1 })
	if row := w.state(idA); !regexp.MustCompile(idA + `\s+active\s+0\s`).MatchString(row) {
		t.Fatalf("A after recovering: %s", row)
	}
	logA := w.ringside(0, "log", "-id", idA, "-limit", "1000")
	if !regexp.MustCompile(`(?m)\s\d+\s+evt_[0-9a-f]{32}\s+call\.\w+\s+http_error\s+503\s`).MatchString(logA) ||
		!regexp.MustCompile(`(?m)\s\d+\s+evt_[0-9a-f]{32}\s+call\.\w+\s+ok\s+204\s`).MatchString(logA) ||
		!strings.Contains(logA, "ringside.verify") {
		t.Fatalf("A's delivery log lacks the handshake, the 503s or the deliveries:\n%s", logA)
	}

	// 3. C: the README receiver keeps rejecting the wrong signature; after
	// max_failures rounds of handshakes the sweep has disabled it.
	eventually(t, 60*time.Second, "C to be disabled", func() bool { return strings.Contains(w.state(idC), "disabled") })
	if row := w.state(idC); !strings.Contains(row, "disabled after 6 consecutive failed attempts; last: HTTP 401: signature does not match") {
		t.Fatalf("C: %s", row)
	}
	if n := wrong.total(); n != 0 {
		t.Fatalf("the receiver with the wrong secret handled %d events", n)
	}

	// 4. A keeps failing (500): disabled after max_failures rounds, then
	// gets nothing, even with its receiver back.
	crm.set(func(c *crmReceiver) { c.status = http.StatusInternalServerError })
	w.play("outbound_answered")
	eventually(t, 60*time.Second, "A to be disabled", func() bool { return strings.Contains(w.state(idA), "disabled") })
	if row := w.state(idA); !strings.Contains(row, "disabled after 6 consecutive failed attempts; last: HTTP 500") {
		t.Fatalf("A: %s", row)
	}
	crm.set(func(c *crmReceiver) { c.status = http.StatusNoContent })
	triesBefore, _, _ := crm.stats()
	since = w.play("inbound_answered")
	endedOff := w.events(since, events.Ended)
	eventually(t, 30*time.Second, "B to get call 4's ended event", func() bool { return example.count(endedOff[0].id) == 1 })
	time.Sleep(time.Second)
	if triesAfter, _, _ := crm.stats(); len(triesAfter) != len(triesBefore) {
		t.Fatalf("disabled A got %d new events", len(triesAfter)-len(triesBefore))
	}

	_, scrape := get(t, w.base+"/metrics")
	if n := metricSum(scrape, "ringside_webhook_disabled_total"); n != 2 {
		t.Errorf("ringside_webhook_disabled_total = %v, want 2 (A and C)", n)
	}
	for _, r := range []string{"ok", "http_error"} {
		if n := metricSum(scrape, "ringside_webhook_deliveries_total", `result="`+r+`"`); n < 1 {
			t.Errorf("deliveries %s = %v", r, n)
		}
	}
	if n := metricSum(scrape, "ringside_webhook_delivery_duration_seconds_count"); n < 1 {
		t.Errorf("delivery duration observations = %v", n)
	}
	if n := metricSum(scrape, "ringside_webhook_verifications_total", `result="http_error"`); n < 5 {
		t.Errorf("failed handshakes = %v, want at least C's 5 (its first ran in the CLI's enable)", n)
	}
	problems, err := promlint.New(strings.NewReader(scrape)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		if strings.HasPrefix(pr.Metric, "ringside_webhook") {
			t.Errorf("metric lint: %s: %s", pr.Metric, pr.Text)
		}
	}
	code, audit := runIn(t, w.env, "", "audit", "-config", w.cfg, "-tenant", "acme")
	if code != 0 || len(regexp.MustCompile(`ringside\s+daemon\s+acme\s+webhook\.disable\s+wh_`).FindAllString(audit, -1)) != 2 {
		t.Fatalf("audit (exit %d) lacks the two disables by the daemon:\n%s", code, audit)
	}
	if !strings.Contains(w.p.errOut(), `"msg":"webhook subscription disabled"`) {
		t.Error("no error log line for the disabled subscriptions")
	}

	// 5. Enabled again: verified, then it gets the next call.
	if out := w.ringside(0, "enable", "-id", idA); !strings.Contains(out, "verified: active") {
		t.Fatalf("enable A again:\n%s", out)
	}
	since = w.play("internal_answered")
	again := w.events(since)
	eventually(t, 30*time.Second, "A to get call 5", func() bool {
		_, ok, _ := crm.stats()
		for _, e := range again {
			if ok[e.id] != 1 {
				return false
			}
		}
		return true
	})

	w.p.terminate()
	logs := w.p.out() + w.p.errOut()
	for _, secret := range []string{secretA, secretB, secretC, "nats-secret", "ari-secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret reached the daemon's log: %s…", secret[:10])
		}
	}
}
