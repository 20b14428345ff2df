package eslsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// header is one event header (value not encoded).
type header struct{ name, value string }

func h(name, value string) header { return header{name, value} }

// event is one event being built, headers in FreeSWITCH's order.
type event struct {
	name, subclass string
	headers        []header
	body           string
}

// event starts an event with the headers switch_event_create adds, in
// their order (spec §4.3); the caller appends channel and event headers.
func (s *Server) event(name, file, function string, line int, extra ...header) *event {
	s.seq++
	e := &event{name: name}
	ts := s.now
	e.headers = append(e.headers,
		h("Event-Name", name), h("Core-UUID", s.core), h("FreeSWITCH-Hostname", "pbx-sim"),
		h("FreeSWITCH-Switchname", "pbx-sim"), h("FreeSWITCH-IPv4", "192.0.2.2"), h("FreeSWITCH-IPv6", "::1"),
		h("Event-Date-Local", ts.Format("2006-01-02 15:04:05")), h("Event-Date-GMT", ts.Format(time.RFC1123)),
		h("Event-Date-Timestamp", strconv.FormatInt(ts.UnixMicro(), 10)),
		h("Event-Calling-File", file), h("Event-Calling-Function", function),
		h("Event-Calling-Line-Number", strconv.Itoa(line)), h("Event-Sequence", strconv.FormatUint(s.seq, 10)))
	e.headers = append(e.headers, extra...)
	return e
}

// wire is the frame of e as mod_event_socket sends it in plain format.
func (e *event) wire() []byte {
	var b strings.Builder
	for _, x := range e.headers {
		b.WriteString(x.name)
		b.WriteString(": ")
		b.WriteString(encode(x.value))
		b.WriteByte('\n')
	}
	if e.body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(e.body), e.body)
	} else {
		b.WriteByte('\n')
	}
	body := b.String()
	return []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
}

// encode is switch_url_encode with SWITCH_URL_UNSAFE; "" is "_undef_".
func encode(v string) string {
	if v == "" {
		return "_undef_"
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#%&+:;<=>?@[\\]^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Chan is a simulated channel.
type Chan struct {
	UUID      string
	Name      string // e.g. sofia/internal/1001@192.0.2.11:5060
	Direction string // inbound / outbound, from FreeSWITCH's view
	CIDName   string
	CIDNum    string
	Dest      string
	Username  string
	Context   string
	callUUID  string
	state     string // CS_*
	callState string // DOWN, RINGING, EARLY, ACTIVE, HANGUP
	answer    string // ringing, early, answered, hangup
	other     *Chan  // originator (on a B leg) or originatee (on an A leg)
	otherType string
	cause     string
	created   time.Time
	answered  time.Time
	vars      []header
}

func (c *Chan) setVar(name, value string) {
	for i := range c.vars {
		if c.vars[i].name == name {
			c.vars[i].value = value
			return
		}
	}
	c.vars = append(c.vars, h(name, value))
}

func (c *Chan) getVar(name string) (string, bool) {
	for _, v := range c.vars {
		if v.name == name {
			return v.value, true
		}
	}
	return "", false
}

var stateNumbers = map[string]int{"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
	"CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9, "CS_HANGUP": 10,
	"CS_REPORTING": 11, "CS_DESTROY": 12}

// channelEvent builds an event about c: the standard headers, then the
// channel's (switch_channel_event_set_basic_data), the other leg's, and the
// variables on the events that carry them.
func (s *Server) channelEvent(name string, c *Chan, withVars bool, first []header, extra ...header) *event {
	file, fn, line := "switch_channel.c", "switch_channel_perform_mark_answered", 3900
	switch name {
	case "CHANNEL_CREATE":
		file, fn, line = "switch_core_state_machine.c", "switch_core_session_run", 626
	case "CHANNEL_STATE":
		file, fn, line = "switch_channel.c", "switch_channel_perform_set_running_state", 2409
	case "CHANNEL_HANGUP_COMPLETE":
		file, fn, line = "switch_core_state_machine.c", "switch_core_session_reporting_state", 943
	case "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE":
		file, fn, line = "switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 1377
	}
	e := s.event(name, file, fn, line, first...)
	e.headers = append(e.headers,
		h("Channel-State", c.state), h("Channel-Call-State", c.callState),
		h("Channel-State-Number", strconv.Itoa(stateNumbers[c.state])), h("Channel-Name", c.Name),
		h("Unique-ID", c.UUID), h("Call-Direction", c.Direction), h("Presence-Call-Direction", c.Direction),
		h("Channel-HIT-Dialplan", strconv.FormatBool(c.Direction == "inbound")), h("Channel-Call-UUID", c.callUUID),
		h("Answer-State", c.answer))
	e.headers = append(e.headers, profile("Caller", c)...)
	if c.other != nil {
		e.headers = append(e.headers, h("Other-Type", c.otherType))
		e.headers = append(e.headers, profile("Other-Leg", c.other)...)
	}
	e.headers = append(e.headers, extra...)
	if withVars {
		for _, v := range c.vars {
			e.headers = append(e.headers, h("variable_"+v.name, v.value))
		}
	}
	return e
}

func profile(prefix string, c *Chan) []header {
	us := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.UnixMicro(), 10)
	}
	return []header{
		h(prefix+"-Direction", c.Direction), h(prefix+"-Logical-Direction", c.Direction),
		h(prefix+"-Username", c.Username), h(prefix+"-Dialplan", "XML"),
		h(prefix+"-Caller-ID-Name", c.CIDName), h(prefix+"-Caller-ID-Number", c.CIDNum),
		h(prefix+"-Orig-Caller-ID-Name", c.CIDName), h(prefix+"-Orig-Caller-ID-Number", c.CIDNum),
		h(prefix+"-Network-Addr", "192.0.2.11"), h(prefix+"-ANI", c.CIDNum),
		h(prefix+"-Destination-Number", c.Dest), h(prefix+"-Unique-ID", c.UUID),
		h(prefix+"-Source", "mod_sofia"), h(prefix+"-Context", c.Context),
		h(prefix+"-Channel-Name", c.Name), h(prefix+"-Profile-Index", "1"),
		h(prefix+"-Profile-Created-Time", us(c.created)), h(prefix+"-Channel-Created-Time", us(c.created)),
		h(prefix+"-Channel-Answered-Time", us(c.answered)), h(prefix+"-Channel-Hangup-Time", "0"),
		h(prefix+"-Screen-Bit", "true"), h(prefix+"-Privacy-Hide-Name", "false"), h(prefix+"-Privacy-Hide-Number", "false"),
	}
}

// api answers an api command. s.mu held.
func (s *Server) api(line string) string {
	cmd, args, _ := strings.Cut(line, " ")
	f := strings.Fields(args)
	switch cmd {
	case "status":
		return fmt.Sprintf("UP 0 years, 0 days, 1 hour, 2 minutes, 3 seconds\nFreeSWITCH (Version 1.11.1) is ready\n%d session(s) - peak 10\n", len(s.chans))
	case "show":
		switch strings.Join(f, " ") {
		case "channels as json":
			return s.showChannels()
		case "calls as json":
			return s.showCalls()
		}
		return "-USAGE: show channels|calls as json\n"
	case "uuid_kill":
		if len(f) < 1 || s.chans[f[0]] == nil {
			return errNoChannel.Error() + "\n"
		}
		cause := "NORMAL_CLEARING"
		if len(f) > 1 {
			cause = f[1]
		}
		c := s.chans[f[0]]
		p := &Player{s: s}
		st := s.screens[c.UUID]
		switch {
		case c.other != nil && s.chans[c.other.UUID] != nil && c.callState == "ACTIVE" && c.other.callState == "ACTIVE":
			p.hangupPair(c, c.other, cause, "send_bye")
		case c.Direction == "inbound" && c.answer != "answered":
			if st != nil && st.sleeping {
				st.HangupCause = cause
			}
			p.hangup(c, cause, "send_refuse") // refused before an answer: 486 for USER_BUSY
		default:
			p.hangup(c, cause, "send_bye")
		}
		if st != nil {
			s.wake(st, false)
		}
		return "+OK\n"
	case "uuid_setvar":
		if len(f) < 2 || s.chans[f[0]] == nil {
			return errNoChannel.Error() + "\n"
		}
		// The value is the rest of the line after the name.
		_, rest, _ := strings.Cut(args, " ")
		_, value, _ := strings.Cut(rest, " ")
		s.chans[f[0]].setVar(f[1], value)
		return "+OK\n"
	case "uuid_getvar":
		if len(f) < 2 || s.chans[f[0]] == nil {
			return errNoChannel.Error() + "\n"
		}
		if v, ok := s.chans[f[0]].getVar(f[1]); ok && v != "" {
			return v
		}
		return "_undef_"
	case "list_users":
		return s.listUsers(f)
	case "user_data":
		return s.userData(f)
	case "uuid_break":
		if len(f) < 1 || s.chans[f[0]] == nil {
			return "-ERR No Such Channel!\n" // mod_commands break_function
		}
		if st := s.screens[f[0]]; st != nil {
			s.wake(st, true) // CF_BREAK ends switch_ivr_sleep
		}
		return "" // break_function writes nothing: the event socket answers "-ERR no reply"
	case "uuid_transfer":
		if len(f) < 2 || s.chans[f[0]] == nil {
			return errNoChannel.Error() + "\n"
		}
		return "+OK\n"
	}
	return "-ERR " + cmd + " Command not found!\n"
}

func (s *Server) showChannels() string {
	if len(s.order) == 0 {
		return "{\"row_count\":0}\n"
	}
	rows := make([]map[string]string, 0, len(s.order))
	for _, id := range s.order {
		c := s.chans[id]
		rows = append(rows, map[string]string{
			"uuid": c.UUID, "direction": c.Direction, "created": c.created.Format("2006-01-02 15:04:05"),
			"created_epoch": strconv.FormatInt(c.created.Unix(), 10), "name": c.Name, "state": c.state,
			"cid_name": c.CIDName, "cid_num": c.CIDNum, "ip_addr": "192.0.2.11", "dest": c.Dest,
			"application": "", "application_data": "", "dialplan": "XML", "context": c.Context,
			"read_codec": "PCMA", "read_rate": "8000", "write_codec": "PCMA", "write_rate": "8000",
			"secure": "", "hostname": "pbx-sim", "presence_id": "", "presence_data": "", "accountcode": "",
			"callstate": c.callState, "callee_name": "", "callee_num": "", "callee_direction": "",
			"call_uuid": c.callUUID, "sent_callee_name": "", "sent_callee_num": "",
			"initial_cid_name": c.CIDName, "initial_cid_num": c.CIDNum, "initial_ip_addr": "192.0.2.11",
			"initial_dest": c.Dest, "initial_dialplan": "XML", "initial_context": c.Context,
		})
	}
	b, _ := json.Marshal(map[string]any{"row_count": len(rows), "rows": rows})
	return string(b) + "\n"
}

func (s *Server) showCalls() string {
	var rows []map[string]string
	for _, id := range s.order {
		c := s.chans[id]
		if c.other == nil || c.otherType != "originatee" || s.chans[c.other.UUID] == nil {
			continue
		}
		b := c.other
		rows = append(rows, map[string]string{
			"uuid": c.UUID, "direction": c.Direction, "created_epoch": strconv.FormatInt(c.created.Unix(), 10),
			"name": c.Name, "state": c.state, "cid_name": c.CIDName, "cid_num": c.CIDNum, "dest": c.Dest,
			"callstate": c.callState, "call_uuid": c.callUUID, "hostname": "pbx-sim",
			"b_uuid": b.UUID, "b_direction": b.Direction, "b_created_epoch": strconv.FormatInt(b.created.Unix(), 10),
			"b_name": b.Name, "b_state": b.state, "b_cid_name": b.CIDName, "b_cid_num": b.CIDNum,
			"b_dest": b.Dest, "b_callstate": b.callState,
			"call_created_epoch": strconv.FormatInt(c.created.Unix(), 10),
		})
	}
	if len(rows) == 0 {
		return "{\"row_count\":0}\n"
	}
	b, _ := json.Marshal(map[string]any{"row_count": len(rows), "rows": rows})
	return string(b) + "\n"
}
