// Package eslsim is a FreeSWITCH Event Socket simulator faithful to
// mod_event_socket's wire format (spec pbx-events.md §4, checked against the
// FreeSWITCH 1.11.1 captures): `auth/request` on connect, `auth` →
// `command/reply` `+OK accepted` or `-ERR invalid` and a close, `event plain
// …` (json and xml are refused with -ERR: only plain is simulated), `api`
// (show channels/calls as json, uuid_kill, uuid_setvar, uuid_getvar,
// uuid_transfer, uuid_break, status, and list_users and user_data on a
// directory of users: directory.go) answered as `api/response` with
// Content-Length, `bgapi` with a caller-chosen or generated Job-UUID and a
// later BACKGROUND_JOB, `exit` → `text/disconnect-notice`, HEARTBEAT events,
// and events serialised as switch_event_serialize does (header order,
// URL-encoded values, Event-Date-Timestamp in µs, a global Event-Sequence).
//
// Calls are played from scripts named like the conformance scenarios, on a
// virtual clock (a minute of talk takes no time), with the CHANNEL_STATE /
// CHANNEL_CALLSTATE / CHANNEL_EXECUTE noise a real switch sends. `bgapi
// originate {…}A &bridge({…}B)` behaves like FreeSWITCH's click-to-call:
// A rings and answers, BACKGROUND_JOB `+OK A`, then B is created with
// Other-Leg-Unique-ID A, answers, and A is bridged to it.
//
// Faults: Freeze (the link goes silent without EOF, heartbeats included),
// Inject (raw bytes: garbage, a huge Content-Length), Options.SplitWrites
// (frames cut into small writes), Options.WriteDelay (a slow link), a wrong
// password, and FreeSWITCH's own policy for a slow reader (a listener whose
// queue overflows is killed). Screened inbound calls sleep in the dialplan
// after a CUSTOM ringside::screen event until uuid_break or the sleep's end
// (screen.go).
package eslsim

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	// Addr to listen on (127.0.0.1:0).
	Addr string
	// Password of the event socket (ClueCon).
	Password string
	// HeartbeatInterval between HEARTBEAT events (0: none; FreeSWITCH: 20s).
	HeartbeatInterval time.Duration
	// Start of the virtual clock (2026-11-21 10:00 UTC).
	Start time.Time
	// QueueLen is each listener's event queue; past it events are lost and
	// after MaxMissed losses the listener is killed, like FreeSWITCH
	// (which uses 100000 and 500). Defaults 20000 and 500.
	QueueLen, MaxMissed int
	// SplitWrites cuts every frame into pieces of 1–64 bytes, each its own
	// write; WriteDelay pauses between writes (a slow link).
	SplitWrites bool
	WriteDelay  time.Duration
	// Users are the directory's users: DefaultUsers() when nil.
	Users []User
}

// Server is a running simulator.
type Server struct {
	o    Options
	ln   net.Listener
	core string

	mu       sync.Mutex
	seq      uint64
	now      time.Time
	chans    map[string]*Chan
	order    []string // channel uuids in creation order
	conns    map[*client]bool
	commands []string
	outcome  string                  // what the next originate does
	screens  map[string]*screenState // screened calls by channel uuid (screen.go)
	ids      int
	users    []User

	sent    atomic.Uint64
	jobs    sync.WaitGroup
	done    chan struct{}
	wg      sync.WaitGroup
	closing sync.Once
}

// Start listens and serves until Close.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Password == "" {
		o.Password = "ClueCon"
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 20000
	}
	if o.MaxMissed <= 0 {
		o.MaxMissed = 500
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("eslsim: %w", err)
	}
	users := o.Users
	if users == nil {
		users = DefaultUsers()
	}
	s := &Server{
		o: o, ln: ln, core: "6f1c0a52-2f6e-4b8e-9d43-5ad1d0c0ffee", now: o.Start,
		chans: map[string]*Chan{}, conns: map[*client]bool{}, outcome: OutcomeAnswered,
		users: copyUsers(users), done: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	if o.HeartbeatInterval > 0 {
		s.wg.Add(1)
		go s.heartbeats()
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, its connections and its jobs.
func (s *Server) Close() error {
	s.closing.Do(func() {
		close(s.done)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.kill()
		}
		for _, st := range s.screens {
			s.wake(st, false) // a sleeping call's rest is not played any more
		}
		s.mu.Unlock()
	})
	s.jobs.Wait()
	s.wg.Wait()
	return nil
}

// EventsSent counts the events queued to subscribed, unfrozen listeners.
func (s *Server) EventsSent() uint64 { return s.sent.Load() }

// Commands lists the commands received so far (passwords masked).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// LiveChannels lists the uuids of the channels that exist now.
func (s *Server) LiveChannels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Quiesce waits until every background job (originate) has finished.
func (s *Server) Quiesce() { s.jobs.Wait() }

// Freeze makes every current connection go silent: nothing more is written
// to it (heartbeats included) and what it sends is ignored, but it is not
// closed — a connection reset the client only notices by silence. Events
// keep happening; frozen listeners lose them. New connections are normal.
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.frozen.Store(true)
	}
}

// Inject writes raw bytes to every authenticated, unfrozen connection, in
// order with its events.
func (s *Server) Inject(raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.authed.Load() && !c.frozen.Load() {
			c.enqueue(append([]byte(nil), raw...), true)
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &client{s: s, nc: nc, out: make(chan []byte, s.o.QueueLen), gone: make(chan struct{})}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(2)
		go c.write()
		go c.serve()
	}
}

func (s *Server) heartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			s.emit(s.event("HEARTBEAT", "switch_core.c", "send_heartbeat", 1000,
				h("Event-Info", "System Ready"), h("Up-Time", "0 years, 0 days, 1 hour, 2 minutes, 3 seconds"),
				h("FreeSWITCH-Version", "1.11.1-release~64bit"), h("Session-Count", fmt.Sprint(len(s.chans))),
				h("Max-Sessions", "1000"), h("Idle-CPU", "98.0")))
			s.mu.Unlock()
		}
	}
}

// client is one event-socket connection.
type client struct {
	s      *Server
	nc     net.Conn
	out    chan []byte
	gone   chan struct{}
	once   sync.Once
	authed atomic.Bool
	frozen atomic.Bool
	// subscription, under s.mu
	all     bool
	names   map[string]bool
	subs    map[string]bool
	missed  int
	exiting bool
}

func (c *client) kill() {
	c.once.Do(func() {
		close(c.gone)
		_ = c.nc.Close()
	})
}

// enqueue queues bytes for the writer. Events (drop=true) never wait: a
// full queue loses them, and too many losses kill the listener, as
// mod_event_socket does. Called with s.mu held.
func (c *client) enqueue(b []byte, drop bool) {
	if c.frozen.Load() {
		return
	}
	if !drop {
		select {
		case c.out <- b:
		case <-c.gone:
		}
		return
	}
	select {
	case c.out <- b:
	default:
		c.missed++
		if c.missed > c.s.o.MaxMissed {
			c.kill() // "killed listener because of lost events"
		}
	}
}

func (c *client) write() {
	defer c.s.wg.Done()
	defer c.kill()
	for {
		select {
		case <-c.gone:
			return
		case b := <-c.out:
			if c.frozen.Load() {
				continue
			}
			if err := c.writeFrame(b); err != nil {
				return
			}
			if len(b) == 0 { // the disconnect notice was the last frame
				return
			}
		}
	}
}

func (c *client) writeFrame(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if !c.s.o.SplitWrites && c.s.o.WriteDelay == 0 {
		_, err := c.nc.Write(b)
		return err
	}
	for len(b) > 0 {
		n := len(b)
		if c.s.o.SplitWrites {
			n = min(n, 1+rand.IntN(64))
		}
		if _, err := c.nc.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if c.s.o.WriteDelay > 0 {
			select {
			case <-time.After(c.s.o.WriteDelay):
			case <-c.gone:
				return net.ErrClosed
			}
		}
	}
	return nil
}

// serve reads commands: a block of lines ended by a blank line; the first
// line is the command, the others its headers (bgapi's Job-UUID).
func (c *client) serve() {
	defer c.s.wg.Done()
	defer func() {
		c.kill()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	c.s.mu.Lock()
	c.enqueue([]byte("Content-Type: auth/request\n\n"), false)
	c.s.mu.Unlock()
	r := bufio.NewReader(c.nc)
	for {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			if l == "" {
				if len(lines) == 0 {
					continue
				}
				break
			}
			lines = append(lines, l)
		}
		if c.frozen.Load() {
			continue
		}
		if !c.command(lines) {
			return
		}
	}
}

func reply(text string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString("Content-Type: command/reply\nReply-Text: " + text + "\n")
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	b.WriteString("\n")
	return []byte(b.String())
}

func apiResponse(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

// command handles one command; false closes the connection.
func (c *client) command(lines []string) bool {
	s := c.s
	cmd := lines[0]
	word, rest, _ := strings.Cut(cmd, " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	logged := cmd
	if word == "auth" {
		logged = "auth <password>"
	}
	s.commands = append(s.commands, logged)
	if !c.authed.Load() {
		if word != "auth" {
			c.enqueue(reply("-ERR command not found"), false)
			return true
		}
		if rest != s.o.Password {
			c.enqueue(reply("-ERR invalid"), false)
			c.enqueue([]byte("Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"), false)
			c.enqueue(nil, false) // the writer closes the connection after the notice
			return true
		}
		c.authed.Store(true)
		c.enqueue(reply("+OK accepted"), false)
		return true
	}
	switch word {
	case "event":
		words := strings.Fields(rest)
		if len(words) > 0 {
			switch strings.ToLower(words[0]) {
			case "json", "xml":
				c.enqueue(reply("-ERR eslsim simulates plain events only"), false)
				return true
			case "plain":
				words = words[1:]
			}
		}
		if len(words) == 0 {
			c.enqueue(reply("-ERR no keywords supplied"), false)
			return true
		}
		if c.names == nil {
			c.names, c.subs = map[string]bool{}, map[string]bool{}
		}
		custom := false
		for _, w := range words {
			switch {
			case custom:
				c.subs[w] = true
			case strings.EqualFold(w, "ALL"):
				c.all = true
			case strings.EqualFold(w, "CUSTOM"):
				custom = true
				c.names["CUSTOM"] = true
			default:
				c.names[strings.ToUpper(w)] = true
			}
		}
		c.enqueue(reply("+OK event listener enabled plain"), false)
	case "noevents":
		c.all, c.names, c.subs = false, nil, nil
		c.enqueue(reply("+OK no longer listening for events"), false)
	case "api":
		body := s.api(rest)
		if body == "" {
			body = "-ERR no reply\n" // mod_event_socket's api_exec for an empty answer
		}
		c.enqueue(apiResponse(body), false)
	case "bgapi":
		job := ""
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Job-UUID") {
				job = strings.TrimSpace(v)
			}
		}
		if job == "" {
			job = s.newUUID()
		}
		c.enqueue(reply("+OK Job-UUID: "+job, "Job-UUID: "+job), false)
		s.bgapi(job, rest)
	case "exit":
		c.enqueue(reply("+OK bye"), false)
		c.enqueue([]byte("Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"), false)
		c.enqueue(nil, false)
		return true
	default:
		c.enqueue(reply("-ERR command not found"), false)
	}
	return true
}

// wants says whether the client subscribed to an event. Called with s.mu.
func (c *client) wants(name, subclass string) bool {
	if !c.authed.Load() {
		return false
	}
	if c.all {
		return true
	}
	if name == "CUSTOM" {
		return c.names["CUSTOM"] && c.subs[subclass]
	}
	return c.names[name]
}

// emit serialises an event and queues it to every subscriber. s.mu held.
func (s *Server) emit(e *event) {
	var b []byte
	for c := range s.conns {
		if c.frozen.Load() || !c.wants(e.name, e.subclass) {
			continue
		}
		if b == nil {
			b = e.wire()
		}
		c.enqueue(b, true)
		s.sent.Add(1)
	}
}

func (s *Server) newUUID() string {
	s.ids++
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", 0x5eed0000+s.ids, s.ids&0xffff, s.ids&0xfff, (s.ids*7)&0xfff, uint64(s.ids)*0x9e3779b1)
}

// errNoChannel is FreeSWITCH's answer for an unknown uuid.
var errNoChannel = errors.New("-ERR No such channel!")
