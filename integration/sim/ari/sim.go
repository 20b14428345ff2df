// Package arisim is an Asterisk 22 ARI simulator for tests: an HTTP server
// with the REST resources Ringside uses and the event WebSocket, emitting
// events in the exact JSON shapes of the real captures
// (spec/asterisk-captures): the timestamp format, state strings such as
// "Rsrvd", asterisk_id and application on every event, channelvars with
// CHANNEL(linkedid) when configured. Calls are played by scripts named like
// the conformance scenarios (scenarios.go), on a virtual clock so that a
// one-minute call takes no time; REST originate, create, dial, bridges,
// play, continue and channel variables behave like Asterisk, screened
// inbound calls wait in Stasis(ringside,screen) (screen.go), and the
// configured endpoints (Options.Endpoints, SetEndpoints) answer GET
// /endpoints and GET /asterisk/config/dynamic/res_pjsip/endpoint/{id}.
// Faults can be injected: dropped or frozen sockets, a slow reader
// (Asterisk's websocket_write_timeout), unknown event types, malformed
// frames, REST 5xx, Asterisk down.
package arisim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// TimeLayout is Asterisk's timestamp format.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// EntityID is the simulated Asterisk's asterisk_id (as in the captures).
const EntityID = "02:fc:00:00:00:01"

// Options configure a Server.
type Options struct {
	Username string // ARI user (ringside)
	Password string // ARI password (secret)
	// ChannelVars are ari.conf's channelvars: each channel object carries
	// them, e.g. CHANNEL(linkedid), MIXMONITOR_FILENAME, TENANT.
	ChannelVars []string
	// WriteTimeout is ari.conf's websocket_write_timeout: a socket whose
	// reader does not take an event within it is closed (10s).
	WriteTimeout time.Duration
	// Tenant prefixes the dialplan contexts ("acme" → acme-from-trunk,
	// acme-internal) and is the TENANT variable of every channel.
	Tenant string
	// Start is the virtual clock's start.
	Start time.Time
	// Clock, when set, stamps events and objects instead of the virtual
	// clock: live calls (live.go) driven in real time by the caller.
	Clock func() time.Time
	// App is the Stasis application the dialplan sends feature codes to
	// (ringside).
	App string
	// RecordingDir is where MixMonitor records: a recorded call's
	// MIXMONITOR_FILENAME is <RecordingDir>/<Tenant>/<channel id>.wav
	// (/var/spool/asterisk/monitor). The simulator writes no file.
	RecordingDir string
	// Endpoints are the configured endpoints (pjsip.conf type=endpoint):
	// DefaultEndpoints(Tenant) when nil.
	Endpoints []Endpoint
}

// Endpoint is an endpoint the simulated Asterisk has configured: GET
// /endpoints lists it, GET /asterisk/config/dynamic/res_pjsip/endpoint/{id}
// describes it (PJSIP only).
type Endpoint struct {
	Technology string // PJSIP when empty
	Resource   string // its name: 1001, acme-1001, trunk
	State      string // online (default), offline, unknown
	// Context is its context option: where its calls start.
	Context string
	// CallerIDName and CallerIDNumber are its callerid option.
	CallerIDName, CallerIDNumber string
	// Vars are its set_var variables (set on every channel it creates).
	Vars map[string]string
}

// DefaultEndpoints are the endpoints of the scripts' cast: extensions 1001,
// 1002 and 1003 in the tenant's internal context, named "Ext 100x" as their
// calls are, and the trunk in from-trunk; with a tenant, each sets TENANT.
func DefaultEndpoints(tenant string) []Endpoint {
	ctx := func(kind string) string {
		if tenant != "" {
			return tenant + "-" + kind
		}
		return kind
	}
	var vars map[string]string
	if tenant != "" {
		vars = map[string]string{"TENANT": tenant}
	}
	out := []Endpoint{}
	for _, ext := range []string{"1001", "1002", "1003"} {
		out = append(out, Endpoint{Resource: ext, Context: ctx("internal"), CallerIDName: "Ext " + ext, CallerIDNumber: ext, Vars: vars})
	}
	_, trunk, _ := strings.Cut(Trunk, "/")
	return append(out, Endpoint{Resource: trunk, Context: ctx("from-trunk"), Vars: vars})
}

// Server is a simulated Asterisk.
type Server struct {
	o Options

	mu       sync.Mutex
	now      time.Time
	seq      int
	nameSeq  int
	channels map[string]*Channel
	bridges  map[string]*Bridge
	sockets  []*socket // registered, in order
	owner    map[string]*socket
	accepted int
	changed  notifier
	failN    int
	failCode int
	rejectWS bool
	behavior map[string]Behavior
	onCont   map[string]func()
	screens  map[string]*screenState // screened calls by trunk channel (screen.go)
	emitted  int
	eps      []Endpoint

	ln   net.Listener
	srv  *http.Server
	url  string
	wg   sync.WaitGroup
	quit chan struct{}
}

// Behavior is how an endpoint answers a call placed to it (REST originate
// or dial).
type Behavior struct {
	Ring       time.Duration // before the outcome (3s)
	Outcome    string        // answer (default), busy, noanswer
	EarlyMedia bool          // 183 with SDP instead of 180: no Ringing state
}

// Channel is a simulated channel.
type Channel struct {
	ID, Name, State string
	Endpoint        string // tech/resource, e.g. PJSIP/1001
	Caller          CallerID
	Connected       CallerID
	Context, Exten  string
	Priority        int
	AppName         string
	AppData         string
	Created         time.Time
	Linkedid        string
	Vars            map[string]string
	Stasis          string // the app it is in, if any
	Bridge          string
	dialed          bool
	target          string // what was dialled (PJSIP/+4930123456@trunk)
}

// CallerID is a caller or connected line.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// Bridge is a simulated bridge.
type Bridge struct {
	ID, Class, Type, Technology, Creator string
	Channels                             []string
	Created                              time.Time
}

// New returns a server that does not listen yet (Asterisk is down until
// Start).
func New(o Options) *Server {
	if o.Username == "" {
		o.Username = "ringside"
	}
	if o.Password == "" {
		o.Password = "secret"
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.App == "" {
		o.App = "ringside"
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	}
	eps := o.Endpoints
	if eps == nil {
		eps = DefaultEndpoints(o.Tenant)
	}
	return &Server{
		o: o, now: o.Start, eps: normalEndpoints(eps),
		channels: map[string]*Channel{}, bridges: map[string]*Bridge{},
		owner: map[string]*socket{}, behavior: map[string]Behavior{}, onCont: map[string]func(){},
		screens: map[string]*screenState{},
		quit:    make(chan struct{}),
	}
}

// Start listens on 127.0.0.1 at a free port.
func (s *Server) Start() error { return s.StartAt("127.0.0.1:0") }

// StartAt listens on addr (to bring a "down" Asterisk up where the adapter
// already looks for it).
func (s *Server) StartAt(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = ln
	s.url = "http://" + ln.Addr().String() + "/ari"
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }}
	s.mu.Unlock()
	s.wg.Go(func() { _ = s.srv.Serve(pausableListener{ln}) })
	return nil
}

// URL is the ARI base URL (http://127.0.0.1:port/ari).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server and every socket and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	socks := append([]*socket(nil), s.sockets...)
	s.mu.Unlock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	if srv != nil {
		_ = srv.Close()
	}
	for _, k := range socks {
		k.close()
	}
	s.wg.Wait()
}

// notifier wakes waiters on a change; guarded by its owner's mutex.
type notifier struct{ ch chan struct{} }

func (n *notifier) wait() <-chan struct{} {
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// waitFor waits until cond (called with s.mu held) holds.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed.wait()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// --- virtual clock and ids ---

// Advance moves the virtual clock.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

func (s *Server) ts() string { return s.stamp().Format(TimeLayout) }

// stamp is the time of what happens now: the virtual clock, or Clock.
func (s *Server) stamp() time.Time {
	if s.o.Clock != nil {
		return s.o.Clock()
	}
	return s.now
}

func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("1795247194.%d", s.seq)
}

// --- JSON shapes ---

type kv struct {
	k string
	v any
}

// obj is a JSON object that keeps its key order (Asterisk's order).
type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (s *Server) snapshot(c *Channel) obj {
	o := obj{
		{"id", c.ID}, {"name", c.Name}, {"state", c.State}, {"protocol_id", protocolID(c)},
		{"caller", c.Caller}, {"connected", c.Connected}, {"accountcode", ""},
		{"dialplan", obj{{"context", c.Context}, {"exten", c.Exten}, {"priority", c.Priority}, {"app_name", c.AppName}, {"app_data", c.AppData}}},
		{"creationtime", c.Created.Format(TimeLayout)}, {"language", "en"},
	}
	if len(s.o.ChannelVars) > 0 {
		vars := obj{}
		for _, v := range s.o.ChannelVars {
			val := c.Vars[v]
			if v == "CHANNEL(linkedid)" {
				val = c.Linkedid
			}
			vars = append(vars, kv{v, val})
		}
		o = append(o, kv{"channelvars", vars})
	}
	return o
}

func protocolID(c *Channel) string {
	if strings.HasPrefix(c.Name, "PJSIP/") && c.State != "Down" {
		return "sim-" + c.ID + "@127.0.0.1"
	}
	return "" // a PJSIP ChannelCreated carries an empty protocol_id
}

func (s *Server) bridgeJSON(b *Bridge) obj {
	chans := append([]string{}, b.Channels...)
	return obj{{"id", b.ID}, {"technology", b.Technology}, {"bridge_type", b.Type}, {"bridge_class", b.Class},
		{"creator", b.Creator}, {"name", ""}, {"channels", chans}, {"creationtime", b.Created.Format(TimeLayout)}, {"video_mode", "none"}}
}

// emit sends an event to every registered socket; lead fields come before
// "type" (ChannelVarset and ChannelHangupRequest start with their own
// fields in real traffic). Called with s.mu held. Each event takes 1ms of
// virtual time.
func (s *Server) emit(typ string, lead, fields obj) {
	o := make(obj, 0, len(lead)+len(fields)+4)
	o = append(o, lead...)
	o = append(o, kv{"type", typ}, kv{"timestamp", s.ts()})
	o = append(o, fields...)
	o = append(o, kv{"asterisk_id", EntityID})
	for _, k := range s.sockets {
		if k.replaced {
			continue
		}
		ev := append(o[:len(o):len(o)], kv{"application", k.app})
		data, err := json.Marshal(ev)
		if err != nil {
			panic(err) // our own shapes always marshal
		}
		k.push(data)
	}
	s.emitted++
	s.now = s.now.Add(time.Millisecond)
}

// Emitted is the number of events emitted so far.
func (s *Server) Emitted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitted
}

// --- sockets ---

type socket struct {
	conn     *websocket.Conn
	raw      *pausableConn
	app      string
	timeout  time.Duration
	replaced bool // guarded by Server.mu

	mu      sync.Mutex
	queue   [][]byte
	writing bool
	closed  bool
	frozen  bool
	changed notifier
}

func (k *socket) push(data []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	k.queue = append(k.queue, data)
	k.changed.broadcast()
}

func (k *socket) close() {
	k.mu.Lock()
	k.closed = true
	k.changed.broadcast()
	k.mu.Unlock()
	_ = k.conn.CloseNow()
}

// writeLoop writes queued events in order; a write that takes longer than
// the timeout closes the socket, as Asterisk does.
func (k *socket) writeLoop() {
	for {
		k.mu.Lock()
		for !k.closed && (len(k.queue) == 0 || k.frozen) {
			ch := k.changed.wait()
			k.mu.Unlock()
			<-ch
			k.mu.Lock()
		}
		if k.closed {
			k.mu.Unlock()
			return
		}
		data := k.queue[0]
		k.queue = k.queue[1:]
		k.writing = true
		k.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
		err := k.conn.Write(ctx, websocket.MessageText, data)
		cancel()
		k.mu.Lock()
		k.writing = false
		k.changed.broadcast()
		k.mu.Unlock()
		if err != nil {
			k.close()
			return
		}
	}
}

// readLoop reads what the client sends (pings, close); on a frozen socket
// the bytes are held back below the WebSocket, so pings go unanswered as on
// a half-open connection.
func (k *socket) readLoop() {
	for {
		if _, _, err := k.conn.Read(context.Background()); err != nil {
			k.close()
			return
		}
	}
}

// drained waits until every queued event is written.
func (k *socket) drained(ctx context.Context) error {
	for {
		k.mu.Lock()
		if k.closed {
			k.mu.Unlock()
			return errors.New("socket closed")
		}
		if len(k.queue) == 0 && !k.writing {
			k.mu.Unlock()
			return nil
		}
		ch := k.changed.wait()
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Flush waits until the adapter has read every event emitted so far: the
// queue is written, then a ping is answered, which the client's reader does
// only after reading (and handling) every frame before it.
func (s *Server) Flush(ctx context.Context) error {
	s.mu.Lock()
	var live []*socket
	for _, k := range s.sockets {
		if !k.replaced {
			live = append(live, k)
		}
	}
	s.mu.Unlock()
	if len(live) == 0 {
		return errors.New("arisim: no connected socket")
	}
	for _, k := range live {
		if err := k.drained(ctx); err != nil {
			return fmt.Errorf("arisim: flush: %w", err)
		}
		if err := k.conn.Ping(ctx); err != nil {
			return fmt.Errorf("arisim: flush: ping: %w", err)
		}
	}
	return nil
}

// WaitSockets waits until n event sockets have been accepted in all.
func (s *Server) WaitSockets(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.accepted >= n })
}

// Accepted is the number of event sockets accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// DropSockets closes every event socket abruptly (the link drops).
func (s *Server) DropSockets() {
	s.mu.Lock()
	socks := s.sockets
	s.sockets = nil
	s.owner = map[string]*socket{}
	s.changed.broadcast()
	s.mu.Unlock()
	for _, k := range socks {
		k.close()
	}
}

// Freeze stops (or resumes) reading and writing every socket: to the client
// it is a half-open connection, silent and deaf to pings.
func (s *Server) Freeze(on bool) {
	s.mu.Lock()
	socks := append([]*socket(nil), s.sockets...)
	s.mu.Unlock()
	for _, k := range socks {
		k.mu.Lock()
		k.frozen = on
		k.changed.broadcast()
		k.mu.Unlock()
		if k.raw != nil {
			k.raw.pause(on)
		}
	}
}

// RejectSockets makes new event sockets fail (503) while on: Asterisk is
// unreachable for the WebSocket while REST may still work.
func (s *Server) RejectSockets(on bool) {
	s.mu.Lock()
	s.rejectWS = on
	s.mu.Unlock()
}

// InjectRaw sends a frame as is to every socket (malformed JSON, unknown
// event types).
func (s *Server) InjectRaw(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.sockets {
		if !k.replaced {
			k.push(append([]byte(nil), frame...))
		}
	}
}

// InjectEvent sends an event of any type (e.g. one ari/v5 does not know)
// with the usual envelope.
func (s *Server) InjectEvent(typ string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o := obj{}
	for _, k := range keys {
		o = append(o, kv{k, fields[k]})
	}
	s.emit(typ, nil, o)
}

// FailREST makes the next n REST requests fail with status code (e.g. 500).
func (s *Server) FailREST(n, code int) {
	s.mu.Lock()
	s.failN, s.failCode = n, code
	s.mu.Unlock()
}

// SetBehavior says how endpoint (tech/resource, e.g. PJSIP/1001) answers
// originates and dials.
func (s *Server) SetBehavior(endpoint string, b Behavior) {
	s.mu.Lock()
	s.behavior[endpoint] = b
	s.mu.Unlock()
}

// --- HTTP ---

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/events", s.events)
	mux.HandleFunc("GET /ari/asterisk/info", s.info)
	mux.HandleFunc("GET /ari/asterisk/ping", s.ping)
	mux.HandleFunc("GET /ari/applications", s.applications)
	mux.HandleFunc("GET /ari/applications/{name}", s.application)
	mux.HandleFunc("GET /ari/endpoints", s.endpoints)
	mux.HandleFunc("GET /ari/asterisk/config/dynamic/{class}/{type}/{id}", s.configObject)
	mux.HandleFunc("GET /ari/channels", s.listChannels)
	mux.HandleFunc("POST /ari/channels", s.originate)
	mux.HandleFunc("POST /ari/channels/create", s.create)
	mux.HandleFunc("GET /ari/channels/{id}", s.getChannel)
	mux.HandleFunc("POST /ari/channels/{id}", s.originate)
	mux.HandleFunc("DELETE /ari/channels/{id}", s.hangup)
	mux.HandleFunc("POST /ari/channels/{id}/dial", s.dial)
	mux.HandleFunc("POST /ari/channels/{id}/answer", s.answer)
	mux.HandleFunc("POST /ari/channels/{id}/play", s.play)
	mux.HandleFunc("POST /ari/channels/{id}/play/{pb}", s.play)
	mux.HandleFunc("POST /ari/channels/{id}/continue", s.cont)
	mux.HandleFunc("POST /ari/channels/{id}/redirect", s.redirect)
	mux.HandleFunc("GET /ari/channels/{id}/variable", s.getVar)
	mux.HandleFunc("POST /ari/channels/{id}/variable", s.setVar)
	mux.HandleFunc("GET /ari/bridges", s.listBridges)
	mux.HandleFunc("POST /ari/bridges", s.createBridge)
	mux.HandleFunc("POST /ari/bridges/{id}", s.createBridge)
	mux.HandleFunc("DELETE /ari/bridges/{id}", s.deleteBridge)
	mux.HandleFunc("POST /ari/bridges/{id}/addChannel", s.addChannel)
	mux.HandleFunc("POST /ari/bridges/{id}/removeChannel", s.removeChannel)
	return s.guard(mux)
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if k := r.URL.Query().Get("api_key"); k != "" {
			user, pass, ok = strings.Cut(k, ":")
		}
	}
	return ok && user == s.o.Username && pass == s.o.Password
}

// guard checks credentials and injects REST failures.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeJSON(w, http.StatusUnauthorized, obj{{"error", "Authentication required"}})
			return
		}
		if r.URL.Path != "/ari/events" {
			s.mu.Lock()
			fail := s.failN > 0
			code := s.failCode
			if fail {
				s.failN--
			}
			s.mu.Unlock()
			if fail {
				writeJSON(w, code, obj{{"message", http.StatusText(code)}})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

func notFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, obj{{"message", what + " not found"}})
}

// params merges the query string and a JSON body (ARI takes both).
func params(r *http.Request) (map[string]string, map[string]string) {
	p := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	vars := map[string]string{}
	if r.Body != nil {
		var body map[string]any
		if json.NewDecoder(r.Body).Decode(&body) == nil {
			for k, v := range body {
				switch v := v.(type) {
				case string:
					p[k] = v
				case float64:
					p[k] = strconv.FormatFloat(v, 'f', -1, 64)
				case map[string]any:
					if k == "variables" {
						for vk, vv := range v {
							vars[vk] = fmt.Sprint(vv)
						}
					}
				}
			}
		}
	}
	return p, vars
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	if app == "" {
		writeJSON(w, http.StatusBadRequest, obj{{"message", "app parameter is required"}})
		return
	}
	s.mu.Lock()
	reject := s.rejectWS
	s.mu.Unlock()
	if reject {
		writeJSON(w, http.StatusServiceUnavailable, obj{{"message", "Service Unavailable"}})
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	k := &socket{conn: conn, app: app, timeout: s.o.WriteTimeout}
	k.raw, _ = r.Context().Value(connKey{}).(*pausableConn)
	s.mu.Lock()
	if old := s.owner[app]; old != nil && !old.replaced {
		// The newer socket takes the application over; the old one hears
		// ApplicationReplaced and nothing more.
		data, _ := json.Marshal(obj{{"type", "ApplicationReplaced"}, {"timestamp", s.ts()}, {"asterisk_id", EntityID}, {"application", app}})
		old.push(data)
		old.replaced = true
	}
	s.owner[app] = k
	s.sockets = append(s.sockets, k)
	s.accepted++
	s.changed.broadcast()
	s.mu.Unlock()
	s.wg.Go(k.writeLoop)
	s.wg.Go(k.readLoop)
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	start := s.o.Start.Format(TimeLayout)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{
		{"build", obj{{"os", "Linux"}, {"kernel", "6.18.44"}, {"machine", "x86_64"}, {"options", "OPTIONAL_API"}, {"date", "2026-11-21 07:43:57 UTC"}, {"user", "root"}}},
		{"system", obj{{"version", "22.10.1"}, {"entity_id", EntityID}}},
		{"config", obj{{"name", ""}, {"default_language", "en"}, {"setid", obj{{"user", ""}, {"group", ""}}}}},
		{"status", obj{{"startup_time", start}, {"last_reload_time", start}}},
	})
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	ts := s.ts()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{{"ping", "pong"}, {"timestamp", ts}, {"asterisk_id", EntityID}})
}

func appJSON(name string) obj {
	return obj{{"name", name}, {"channel_ids", []string{"__AST_CHANNEL_ALL_TOPIC"}}, {"bridge_ids", []string{"__AST_BRIDGE_ALL_TOPIC"}},
		{"endpoint_ids", []string{"__AST_ENDPOINT_ALL_TOPIC"}}, {"device_names", []string{"__AST_DEVICE_STATE_ALL_TOPIC"}},
		{"events_allowed", []string{}}, {"events_disallowed", []string{}}}
}

func (s *Server) applications(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	var names []string
	for n := range s.owner {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := []obj{}
	for _, n := range names {
		out = append(out, appJSON(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) application(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, ok := s.owner[r.PathValue("name")]
	s.mu.Unlock()
	if !ok {
		notFound(w, "Application")
		return
	}
	writeJSON(w, http.StatusOK, appJSON(r.PathValue("name")))
}

// SetEndpoints replaces the configured endpoints (a reload of pjsip.conf).
func (s *Server) SetEndpoints(eps []Endpoint) {
	eps = normalEndpoints(eps)
	s.mu.Lock()
	s.eps = eps
	s.mu.Unlock()
}

// normalEndpoints copies eps with the defaults filled in, sorted by
// technology and name.
func normalEndpoints(eps []Endpoint) []Endpoint {
	out := make([]Endpoint, len(eps))
	for i, e := range eps {
		if e.Technology == "" {
			e.Technology = "PJSIP"
		}
		if e.State == "" {
			e.State = "online"
		}
		vars := make(map[string]string, len(e.Vars))
		for k, v := range e.Vars {
			vars[k] = v
		}
		e.Vars = vars
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Technology != out[j].Technology {
			return out[i].Technology < out[j].Technology
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

// endpoints answers GET /endpoints: every configured endpoint as
// ast_endpoint_snapshot_to_json writes it (main/stasis_endpoints.c):
// technology, resource, state, channel_ids; max_channels is left out as
// for PJSIP endpoints (-1), and the real capture (rest-endpoints.json) has
// none either.
func (s *Server) endpoints(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []obj{}
	for _, e := range s.eps {
		ids := []string{}
		for _, c := range s.channels {
			if c.Endpoint == e.Technology+"/"+e.Resource {
				ids = append(ids, c.ID)
			}
		}
		sort.Strings(ids)
		out = append(out, obj{{"technology", e.Technology}, {"resource", e.Resource}, {"state", e.State}, {"channel_ids", ids}})
	}
	writeJSON(w, http.StatusOK, out)
}

// pjsipTypes are the sorcery object types res_pjsip registers; the
// simulator configures endpoints only.
var pjsipTypes = map[string]bool{"endpoint": true, "aor": true, "auth": true, "contact": true, "transport": true,
	"domain_alias": true, "global": true, "system": true}

// configObject answers GET /asterisk/config/dynamic/{configClass}/
// {objectType}/{id} as res/ari/resource_asterisk.c does: a list of
// {"attribute","value"} strings (ast_sorcery_objectset_create), or 404 with
// Asterisk's messages. An endpoint shows the attributes the simulator
// models — aors, callerid (caller_id_to_str: ast_callerid_merge's `"Name"
// <number>`, `Name`, `number` or `<unknown>`), context — and one tuple per
// set_var variable, named after it (set_var_to_vl); a real endpoint also
// lists every other option, with its value.
func (s *Server) configObject(w http.ResponseWriter, r *http.Request) {
	class, typ, id := r.PathValue("class"), r.PathValue("type"), r.PathValue("id")
	switch {
	case class != "res_pjsip":
		writeJSON(w, http.StatusNotFound, obj{{"message", fmt.Sprintf("configClass '%s' not found", class)}})
		return
	case !pjsipTypes[typ]:
		writeJSON(w, http.StatusNotFound, obj{{"message", fmt.Sprintf("objectType '%s' not found", typ)}})
		return
	}
	s.mu.Lock()
	var ep *Endpoint
	for i := range s.eps {
		if typ == "endpoint" && s.eps[i].Technology == "PJSIP" && s.eps[i].Resource == id {
			e := s.eps[i]
			ep = &e
		}
	}
	s.mu.Unlock()
	if ep == nil {
		writeJSON(w, http.StatusNotFound, obj{{"message", fmt.Sprintf("Object with id '%s' not found", id)}})
		return
	}
	tuple := func(k, v string) obj { return obj{{"attribute", k}, {"value", v}} }
	out := []obj{tuple("aors", ep.Resource), tuple("callerid", callerIDMerge(ep.CallerIDName, ep.CallerIDNumber)), tuple("context", ep.Context)}
	names := make([]string, 0, len(ep.Vars))
	for k := range ep.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, tuple(k, ep.Vars[k]))
	}
	writeJSON(w, http.StatusOK, out)
}

// callerIDMerge prints a caller id as ast_callerid_merge does (main/callerid.c).
func callerIDMerge(name, number string) string {
	switch {
	case name != "" && number != "":
		return `"` + name + `" <` + number + `>`
	case name != "":
		return name
	case number != "":
		return number
	}
	return "<unknown>"
}

func (s *Server) sortedChannels() []*Channel {
	out := make([]*Channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (s *Server) listChannels(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := []obj{}
	for _, c := range s.sortedChannels() {
		out = append(out, s.snapshot(c))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.channels[r.PathValue("id")]
	var o obj
	if c != nil {
		o = s.snapshot(c)
	}
	s.mu.Unlock()
	if c == nil {
		notFound(w, "Channel")
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) listBridges(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	var ids []string
	for id := range s.bridges {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []obj{}
	for _, id := range ids {
		out = append(out, s.bridgeJSON(s.bridges[id]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// Channel returns a copy of a live channel.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[id]
	if c == nil {
		return Channel{}, false
	}
	return *c, true
}

// Channels is the number of live channels.
func (s *Server) Channels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.channels)
}

// Base64Auth is the Authorization header value for user:pass (tests).
func Base64Auth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// WaitIdle waits until no channel is left (every call of a script ended,
// including what the adapter's commands set off).
func (s *Server) WaitIdle(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return len(s.channels) == 0 })
}

// connKey finds the connection under a request (to freeze a socket's).
type connKey struct{}

// pausableListener hands out connections that can stop delivering what they
// read.
type pausableListener struct{ net.Listener }

func (l pausableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pausableConn{Conn: c}, nil
}

type pausableConn struct {
	net.Conn
	mu      sync.Mutex
	paused  bool
	closed  bool
	changed notifier
}

func (c *pausableConn) pause(on bool) {
	c.mu.Lock()
	c.paused = on
	c.changed.broadcast()
	c.mu.Unlock()
}

// Read holds what it read while paused.
func (c *pausableConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	for c.paused && !c.closed {
		ch := c.changed.wait()
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	c.mu.Unlock()
	return n, err
}

func (c *pausableConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.changed.broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
