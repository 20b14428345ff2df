package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ringside/ringside/pkg/buildinfo"
	"github.com/ringside/ringside/pkg/health"
)

var testInfo = buildinfo.Info{Version: "1.2.3", Commit: "abc123", GoVersion: "go1.26.8"}

// harness runs a Server on 127.0.0.1:0 for one test and, at cleanup, stops
// it, checks Run returned nil and that no goroutine leaked.
type harness struct {
	t      *testing.T
	srv    *Server
	reg    *prometheus.Registry
	health *health.Registry
	base   string
	client *http.Client
	stop   func() error // cancels Run's context and returns what Run returned
}

// start builds a server on a fresh registry and health registry; mount may
// add routes before it runs.
func start(t *testing.T, log *zap.Logger, mount func(*Server)) *harness {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, runs last
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zapcore.DebugLevel))
	}
	h := &harness{t: t, reg: NewRegistry(testInfo), health: health.New()}
	h.srv = New(Options{
		Listen:     "127.0.0.1:0",
		Ready:      h.health,
		Gatherer:   h.reg,
		Logger:     log,
		Registerer: h.reg,
	})
	if mount != nil {
		mount(h.srv)
	}
	h.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- h.srv.Run(ctx, func(a net.Addr) { addrs <- a }) }()
	select {
	case a := <-addrs:
		h.base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before listening: %v", err)
	}
	h.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("Run did not return 15s after cancel")
		}
	})
	t.Cleanup(func() {
		h.client.CloseIdleConnections()
		if err := h.stop(); err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	})
	return h
}

// do sends a request and returns status, body and headers.
func (h *harness) do(method, path string) (int, string, http.Header) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestHealthzIsLivenessOnly(t *testing.T) {
	h := start(t, nil, nil)
	h.health.Register("pbx", func() error { return errors.New("disconnected") })
	h.health.Drain()

	code, body, hdr := h.do("GET", "/healthz")
	if code != 200 || body != "ok\n" {
		t.Fatalf("GET /healthz while not ready = %d %q, want 200 \"ok\\n\"", code, body)
	}
	if got := hdr.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if code, body, _ := h.do("HEAD", "/healthz"); code != 200 || body != "" {
		t.Errorf("HEAD /healthz = %d %q, want 200 and no body", code, body)
	}
}

func TestReadyzFollowsComponents(t *testing.T) {
	h := start(t, nil, nil)
	var pbxDown, zohoDown atomic.Bool
	h.health.Register("pbx", func() error {
		if pbxDown.Load() {
			return errors.New("disconnected")
		}
		return nil
	})
	h.health.Register("nats", func() error { return nil })
	h.health.Register("zoho", func() error {
		if zohoDown.Load() {
			return errors.New("token revoked\nre-run ringside zoho connect")
		}
		return nil
	})

	steps := []struct {
		name           string
		pbx, zoho      bool
		wantCode       int
		wantBody       string
		wantCacheCtrl  string
		wantCntentType string
	}{
		{"all ok", false, false, 200, "ready\n", "no-store", "text/plain; charset=utf-8"},
		{"pbx down", true, false, 503, "pbx: disconnected\n", "no-store", "text/plain; charset=utf-8"},
		{"pbx and zoho down, newline flattened", true, true, 503,
			"pbx: disconnected\nzoho: token revoked re-run ringside zoho connect\n", "no-store", "text/plain; charset=utf-8"},
		{"recovered", false, false, 200, "ready\n", "no-store", "text/plain; charset=utf-8"},
	}
	for _, st := range steps {
		pbxDown.Store(st.pbx)
		zohoDown.Store(st.zoho)
		code, body, hdr := h.do("GET", "/readyz")
		if code != st.wantCode || body != st.wantBody {
			t.Errorf("%s: GET /readyz = %d %q, want %d %q", st.name, code, body, st.wantCode, st.wantBody)
		}
		if got := hdr.Get("Cache-Control"); got != st.wantCacheCtrl {
			t.Errorf("%s: Cache-Control = %q", st.name, got)
		}
		if got := hdr.Get("Content-Type"); got != st.wantCntentType {
			t.Errorf("%s: Content-Type = %q", st.name, got)
		}
	}

	h.health.Drain()
	if code, body, _ := h.do("GET", "/readyz"); code != 503 || body != "ringside: shutting down\n" {
		t.Errorf("draining: GET /readyz = %d %q", code, body)
	}
}

func TestMetricsScrape(t *testing.T) {
	h := start(t, nil, nil)
	h.do("GET", "/healthz")
	h.do("GET", "/nope/secret-token")
	h.do("POST", "/readyz")

	code, body, hdr := h.do("GET", "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the classic text format", ct)
	}
	for _, want := range []string{
		`ringside_build_info{goversion="go1.26.8",revision="abc123",version="1.2.3"} 1`,
		"\ngo_goroutines ",
		"\nprocess_cpu_seconds_total ",
		"\nprocess_resident_memory_bytes ",
		`ringside_http_requests_total{code="200",handler="GET /healthz"} 1`,
		`ringside_http_requests_total{code="404",handler="other"} 1`,
		`ringside_http_requests_total{code="405",handler="other"} 1`,
		`ringside_http_request_duration_seconds_count{handler="GET /healthz"} 1`,
		`ringside_http_request_duration_seconds_count{handler="GET /readyz"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(body, "/nope") || strings.Contains(body, "secret-token") {
		t.Error("scrape echoes a raw request path")
	}

	// The scrape of /metrics itself is counted too.
	_, body, _ = h.do("GET", "/metrics")
	if !strings.Contains(body, `ringside_http_requests_total{code="200",handler="GET /metrics"} 1`) {
		t.Error("second scrape does not count the first one")
	}
}

func TestMetricsScrapePassesPromlint(t *testing.T) {
	h := start(t, nil, func(s *Server) {
		s.Handle("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	})
	// Make every label combination of our own metrics exist.
	h.do("GET", "/healthz")
	h.do("GET", "/nope")
	h.do("GET", "/boom")

	resp, err := h.client.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	problems, err := promlint.New(resp.Body).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	h := start(t, nil, nil)
	cases := []struct {
		method, path string
		wantCode     int
		wantAllow    string
	}{
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"DELETE", "/readyz", 405, "GET, HEAD"},
		{"PUT", "/metrics", 405, "GET, HEAD"},
		{"HEAD", "/readyz", 200, ""},
		{"GET", "/nope", 404, ""},
		{"GET", "/nope?token=s3cr3t", 404, ""},
		{"POST", "/nope", 404, ""},
	}
	for _, c := range cases {
		code, body, hdr := h.do(c.method, c.path)
		if code != c.wantCode {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, code, c.wantCode)
		}
		if got := hdr.Get("Allow"); got != c.wantAllow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.wantAllow)
		}
		if code == 404 {
			if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s %s: Content-Type = %q", c.method, c.path, ct)
			}
			if strings.Contains(body, "nope") || strings.Contains(body, "s3cr3t") || len(body) > 64 {
				t.Errorf("%s %s: 404 body %q echoes the request", c.method, c.path, body)
			}
		}
		if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q", c.method, c.path, got)
		}
	}
}

func TestPanickingHandlerGives500AndServerKeepsServing(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := start(t, zap.New(core), func(s *Server) {
		s.Handle("POST /zoho/clicktodial", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			panic("nil map in click-to-dial")
		}))
		s.Handle("GET /half", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("after the status")
		}))
	})

	for range 3 {
		code, body, hdr := h.do("POST", "/zoho/clicktodial?authorizationparam=s3cr3t")
		if code != 500 || body != "internal server error\n" {
			t.Fatalf("panicking handler = %d %q, want 500", code, body)
		}
		if got := hdr.Get("Content-Encoding"); got != "" {
			t.Errorf("500 keeps the handler's Content-Encoding %q", got)
		}
	}
	if code, _, _ := h.do("GET", "/healthz"); code != 200 {
		t.Fatalf("after panics GET /healthz = %d", code)
	}

	// A panic after the status went out cannot become a 500: the
	// connection is cut so the client sees an incomplete response.
	resp, err := h.client.Get(h.base + "/half")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("GET /half: response after a mid-body panic looks complete")
	}
	if code, _, _ := h.do("GET", "/healthz"); code != 200 {
		t.Fatalf("after mid-body panic GET /healthz = %d", code)
	}

	panics := logs.FilterMessage("handler panic").All()
	if len(panics) != 4 {
		t.Fatalf("logged %d panics, want 4", len(panics))
	}
	f := panics[0].ContextMap()
	if f["handler"] != "POST /zoho/clicktodial" || f["panic"] != "nil map in click-to-dial" || panics[0].Level != zapcore.ErrorLevel {
		t.Errorf("panic log = %v %v", panics[0].Level, f)
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && k != "stack" && strings.Contains(s, "s3cr3t") {
				t.Errorf("log %q field %s leaks the query string: %q", e.Message, k, s)
			}
		}
	}
	if n := len(logs.FilterMessage("request").FilterField(zap.String("handler", "POST /zoho/clicktodial")).FilterField(zap.Int("status", 500)).All()); n != 3 {
		t.Errorf("debug request log lines for the 500s = %d, want 3", n)
	}

	_, body, _ := h.do("GET", "/metrics")
	if !strings.Contains(body, `ringside_http_requests_total{code="500",handler="POST /zoho/clicktodial"} 3`) {
		t.Error("scrape does not count the 500s under their pattern")
	}
}

func TestRequestLogIsDebugOnly(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := start(t, zap.New(core), nil)
	h.do("GET", "/healthz")
	if n := logs.FilterMessage("request").Len(); n != 0 {
		t.Errorf("%d request log lines at info level, want none", n)
	}
}

func TestOversizedHeadersRejected(t *testing.T) {
	h := start(t, nil, nil)
	send := func(headerBytes int) int {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		req := fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nConnection: close\r\n\r\n",
			strings.Repeat("a", headerBytes))
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatalf("write %d-byte header: %v", headerBytes, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response to %d-byte header: %v", headerBytes, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(32 << 10); code != 200 {
		t.Errorf("32 KiB header = %d, want 200", code)
	}
	if code := send(80 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("80 KiB header = %d, want 431", code)
	}
}

func TestRunReportsRealPortAndStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := New(Options{Listen: "127.0.0.1:0", Logger: zaptest.NewLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var calls atomic.Int32
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, func(a net.Addr) { calls.Add(1); addrs <- a })
	}()
	a := <-addrs
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.Port == 0 || !tcp.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("ready(%v), want 127.0.0.1 with a real port", a)
	}
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + a.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("ready called %d times, want 1", n)
	}
	if _, err := net.Dial("tcp", a.String()); err == nil {
		t.Error("still accepting connections after Run returned")
	}
}

func TestShutdownLetsInFlightRequestFinish(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := start(t, nil, func(s *Server) {
		s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			_, _ = io.WriteString(w, "done")
		}))
	})
	got := make(chan string, 1)
	go func() {
		resp, err := h.client.Get(h.base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	// Wait until the listener is closed: shutdown has begun.
	addr := strings.TrimPrefix(h.base, "http://")
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open 5s after cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request = %q, want done", body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestRunListenError(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	called := false
	err = New(Options{Listen: addr}).Run(context.Background(), func(net.Addr) { called = true })
	if err == nil || !strings.HasPrefix(err.Error(), "httpapi: listen "+addr+": ") {
		t.Fatalf("Run on a taken port = %v, want httpapi: listen %s: …", err, addr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("listen error is not wrapped: %v", err)
	}
	if called {
		t.Error("ready called although listen failed")
	}
}

func TestMetricsUnmountedWithoutGatherer(t *testing.T) {
	srv := New(Options{})
	rec := &fakeWriter{h: http.Header{}}
	req, _ := http.NewRequest("GET", "/metrics", nil)
	srv.serveHTTP(rec, req)
	if rec.code != 404 {
		t.Errorf("GET /metrics without gatherer = %d, want 404", rec.code)
	}
}

type fakeWriter struct {
	h    http.Header
	code int
}

func (f *fakeWriter) Header() http.Header         { return f.h }
func (f *fakeWriter) WriteHeader(c int)           { f.code = c }
func (f *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
