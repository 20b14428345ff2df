package arisim

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// captures are the real Asterisk 22 traffic the simulator must match.
const captures = "../../../adapters/asterisk/testdata/captures"

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shapes maps event type → the sorted key sets of the event and of its
// channel-like objects, as seen in the captures.
func captureShapes(t *testing.T) map[string]string {
	files, _ := filepath.Glob(filepath.Join(captures, "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	out := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatal(err)
			}
			out[ev["type"].(string)] = shape(ev)
		}
		fh.Close()
	}
	return out
}

func shape(ev map[string]any) string {
	s := strings.Join(keys(ev), ",")
	for _, k := range []string{"channel", "peer", "caller", "bridge", "playback"} {
		if o, ok := ev[k].(map[string]any); ok {
			delete(o, "channelvars")
			s += " " + k + "{" + strings.Join(keys(o), ",") + "}"
		}
	}
	return s
}

func dialEvents(t *testing.T, s *Server, user, pass string) (*websocket.Conn, *http.Response, error) {
	ws := "ws" + strings.TrimPrefix(s.URL(), "http") + "/events?app=test&subscribeAll=true"
	return websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {Base64Auth(user, pass)}}})
}

func TestEventsHaveTheShapesOfRealAsterisk(t *testing.T) {
	s := New(Options{Tenant: "acme"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _, err := dialEvents(t, s, "ringside", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := s.WaitSockets(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{"inbound_answered", "inbound_busy", "inbound_missed", "outbound_no_answer"} {
		if err := s.Play(sc); err != nil {
			t.Fatal(err)
		}
	}
	want := captureShapes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for i := 0; i < s.Emitted(); i++ {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		typ := ev["type"].(string)
		if _, err := time.Parse(TimeLayout, ev["timestamp"].(string)); err != nil || ev["asterisk_id"] != EntityID || ev["application"] != "test" {
			t.Fatalf("envelope of %s: %v", data, err)
		}
		if w, ok := want[typ]; ok && !seen[typ] {
			seen[typ] = true
			got := shape(ev)
			if typ == "ChannelHangupRequest" || typ == "Dial" { // optional fields: soft, caller
				continue
			}
			if got != w {
				t.Errorf("%s shape\n got: %s\nwant: %s", typ, got, w)
			}
		}
	}
	for _, typ := range []string{"ChannelCreated", "Dial", "ChannelStateChange", "ChannelDestroyed", "ChannelVarset", "BridgeCreated", "ChannelEnteredBridge"} {
		if !seen[typ] {
			t.Errorf("no %s emitted", typ)
		}
	}
}

func TestRESTAnswersLikeAsterisk(t *testing.T) {
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path, user string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
		req.SetBasicAuth(user, "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	load := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join(captures, name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if code, m := get("/asterisk/info", "ringside"); code != 200 || !slices.Equal(keys(m), keys(load("rest-asterisk-info.json"))) {
		t.Errorf("info: %d %v", code, m)
	}
	if code, m := get("/asterisk/ping", "ringside"); code != 200 || !slices.Equal(keys(m), keys(load("rest-asterisk-ping.json"))) {
		t.Errorf("ping: %d %v", code, m)
	}
	if code, m := get("/channels/nope", "ringside"); code != 404 || m["message"] != load("rest-channel-404.json")["message"] {
		t.Errorf("404: %d %v", code, m)
	}
	if code, _ := get("/channels", "intruder"); code != 401 {
		t.Errorf("wrong user: %d, want 401", code)
	}
	if _, resp, err := dialEvents(t, s, "ringside", "wrong"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("event socket with a wrong password: %v", err)
	}
}

func TestSecondSocketReplacesTheFirst(t *testing.T) {
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _, err := dialEvents(t, s, "ringside", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer first.CloseNow()
	if err := s.WaitSockets(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	second, _, err := dialEvents(t, s, "ringside", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer second.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := first.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"type":"ApplicationReplaced"`) {
		t.Fatalf("first socket got %s, %v", data, err)
	}
}

// TestEndpointsLikeAsterisk: GET /endpoints has the keys of the real
// capture, lists the configured endpoints with their live channels, and the
// dynamic configuration answers tuples or Asterisk's 404s.
func TestEndpointsLikeAsterisk(t *testing.T) {
	s := New(Options{Tenant: "acme"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path string, out any) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
		req.SetBasicAuth("ringside", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}
	b, err := os.ReadFile(filepath.Join(captures, "rest-endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	var real []map[string]any
	if err := json.Unmarshal(b, &real); err != nil || len(real) == 0 {
		t.Fatal(err)
	}
	trunk, _, _ := s.StartInbound("1001")
	var eps []map[string]any
	if code := get("/endpoints", &eps); code != 200 || len(eps) != 4 {
		t.Fatalf("endpoints: %d %v", code, eps)
	}
	var names []string
	for _, e := range eps {
		if !slices.Equal(keys(e), keys(real[0])) {
			t.Errorf("endpoint keys %v, real %v", keys(e), keys(real[0]))
		}
		names = append(names, e["technology"].(string)+"/"+e["resource"].(string))
		if e["resource"] == "trunk" {
			if ids := e["channel_ids"].([]any); len(ids) != 1 || ids[0] != trunk {
				t.Errorf("trunk channels %v, want [%s]", ids, trunk)
			}
		}
	}
	if !slices.Equal(names, []string{"PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/trunk"}) {
		t.Errorf("endpoints %v", names)
	}

	var tuples []map[string]string
	if code := get("/asterisk/config/dynamic/res_pjsip/endpoint/1001", &tuples); code != 200 {
		t.Fatalf("config: %d", code)
	}
	attrs := map[string]string{}
	for _, tu := range tuples {
		if len(tu) != 2 {
			t.Errorf("tuple %v", tu)
		}
		attrs[tu["attribute"]] = tu["value"]
	}
	if attrs["context"] != "acme-internal" || attrs["callerid"] != `"Ext 1001" <1001>` || attrs["TENANT"] != "acme" {
		t.Errorf("config of 1001: %v", attrs)
	}
	tuples = nil
	if get("/asterisk/config/dynamic/res_pjsip/endpoint/trunk", &tuples); !slices.ContainsFunc(tuples, func(tu map[string]string) bool {
		return tu["attribute"] == "callerid" && tu["value"] == "<unknown>"
	}) {
		t.Errorf("trunk callerid: %v", tuples)
	}
	for path, msg := range map[string]string{
		"/asterisk/config/dynamic/res_pjsip/endpoint/9999":   "Object with id '9999' not found",
		"/asterisk/config/dynamic/res_pjsip/aor/1001":        "Object with id '1001' not found",
		"/asterisk/config/dynamic/res_pjsip/nothing/1001":    "objectType 'nothing' not found",
		"/asterisk/config/dynamic/res_nothing/endpoint/1001": "configClass 'res_nothing' not found",
	} {
		var m map[string]string
		if code := get(path, &m); code != 404 || m["message"] != msg {
			t.Errorf("%s: %d %v", path, code, m)
		}
	}

	s.SetEndpoints([]Endpoint{{Technology: "IAX2", Resource: "7001", State: "offline"}})
	eps = nil
	if get("/endpoints", &eps); len(eps) != 1 || eps[0]["technology"] != "IAX2" || eps[0]["state"] != "offline" {
		t.Errorf("after SetEndpoints: %v", eps)
	}
	s.SetEndpoints(nil)
	eps = nil
	if get("/endpoints", &eps); eps == nil || len(eps) != 0 {
		t.Errorf("no endpoints: %v", eps)
	}
}
