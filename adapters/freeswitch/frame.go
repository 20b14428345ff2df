package freeswitch

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Wire format of mod_event_socket (spec §4.3). Every message is a header
// block of "Name: value" lines ended by a blank line, followed by exactly
// Content-Length bytes of body when that header is present:
//
//	Content-Length: 512
//	Content-Type: text/event-plain
//
//	Event-Name: CHANNEL_ANSWER
//	Unique-ID: 2b6e…
//	Caller-Caller-ID-Number: %2B4930123456
//
// The outer headers (Content-Type, Reply-Text, Job-UUID, Content-Length) are
// not encoded. The body of a text/event-plain frame is itself a header block
// whose values are URL-encoded, optionally followed by its own
// Content-Length and body (a BACKGROUND_JOB's API output).
//
// Everything in this file is pure: bytes in, values out. The reader at the
// bottom only moves bytes from an io.Reader into a bounded buffer.

// Limits bound what one frame may take. A frame beyond them is an error
// before its body is read, never an allocation.
type Limits struct {
	// MaxHeaderBytes bounds a frame's header block.
	MaxHeaderBytes int
	// MaxBodyBytes bounds Content-Length. `api show channels as json` with
	// 20,000 channels is about 20 MB, hence the default.
	MaxBodyBytes int
}

// Default limits.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxBodyBytes   = 32 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// Framing errors. ErrIncomplete is not a failure: more bytes are needed.
var (
	ErrIncomplete     = errors.New("incomplete frame")
	ErrHeaderTooLarge = errors.New("header block too large")
	ErrBodyTooLarge   = errors.New("content-length too large")
	ErrBadLength      = errors.New("bad content-length")
	ErrBadHeader      = errors.New("malformed header line")
)

// Content types FreeSWITCH sends.
const (
	TypeAuthRequest = "auth/request"
	TypeReply       = "command/reply"
	TypeAPIResponse = "api/response"
	TypeEventPlain  = "text/event-plain"
	TypeEventJSON   = "text/event-json"
	TypeDisconnect  = "text/disconnect-notice"
	TypeRude        = "text/rude-rejection"
	TypeLog         = "log/data"
)

// Header is one "Name: value" line.
type Header struct {
	Name  string
	Value string
}

// Frame is one message of the event socket: its outer headers in order and
// its body. Strings share one allocation per frame.
type Frame struct {
	Headers []Header
	Body    string
}

// Get returns the value of the first header named name (ASCII
// case-insensitive), or "".
func (f *Frame) Get(name string) string {
	for _, h := range f.Headers {
		if len(h.Name) == len(name) && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ContentType is the frame's Content-Type.
func (f *Frame) ContentType() string { return f.Get("Content-Type") }

// ParseFrame parses one frame at the start of b. It returns the frame and
// the number of bytes it took. With ErrIncomplete, need is the number of
// bytes the frame needs in total (0 when not yet known): read more and call
// again. Leading blank lines are skipped.
func ParseFrame(b []byte, lim Limits) (f Frame, n int, err error) {
	f, n, _, err = parseFrame(b, lim.withDefaults())
	return f, n, err
}

// parseFrame is ParseFrame with need reported for ErrIncomplete.
func parseFrame(b []byte, lim Limits) (f Frame, n, need int, err error) {
	skip := 0
	for skip < len(b) && (b[skip] == '\n' || b[skip] == '\r') {
		skip++
	}
	rest := b[skip:]
	end, term := headerEnd(rest, lim.MaxHeaderBytes)
	if end < 0 {
		if len(rest) > lim.MaxHeaderBytes {
			return Frame{}, 0, 0, ErrHeaderTooLarge
		}
		return Frame{}, 0, 0, ErrIncomplete
	}
	if end > lim.MaxHeaderBytes {
		return Frame{}, 0, 0, ErrHeaderTooLarge
	}
	// First pass: validate lines and find Content-Length, no allocation.
	length, nh := -1, 0
	for line := range lines(rest[:end]) {
		name, value, ok := splitHeader(line)
		if !ok {
			return Frame{}, 0, 0, ErrBadHeader
		}
		nh++
		if len(name) == len("Content-Length") && strings.EqualFold(string(name), "Content-Length") {
			if length >= 0 {
				return Frame{}, 0, 0, fmt.Errorf("%w: repeated", ErrBadLength)
			}
			if length, err = parseLength(value, lim.MaxBodyBytes); err != nil {
				return Frame{}, 0, 0, err
			}
		}
	}
	body := end + term
	total := body + max(length, 0)
	if len(rest) < total {
		return Frame{}, 0, skip + total, ErrIncomplete
	}
	s := string(rest[:total]) // the one copy: headers and body point into it
	f.Headers = make([]Header, 0, nh)
	block := s[:end]
	for block != "" {
		line := block
		if i := strings.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = ""
		}
		line = strings.TrimSuffix(line, "\r")
		c := strings.IndexByte(line, ':')
		f.Headers = append(f.Headers, Header{Name: line[:c], Value: strings.Trim(line[c+1:], " \t")})
	}
	f.Body = s[body:total]
	return f, skip + total, 0, nil
}

// headerEnd finds the blank line ending a header block within the first
// limit+2 bytes: end is where the block ends (after its last "\n"), term the
// length of the blank line ("\n" or "\r\n"); end -1 when not found.
func headerEnd(b []byte, limit int) (end, term int) {
	if len(b) > limit+2 {
		b = b[:limit+2]
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 1, 1
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 1, 2
		}
	}
	return -1, 0
}

// lines yields the lines of a header block without their "\n" or "\r\n".
func lines(b []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			i := indexByte(b, '\n')
			var line []byte
			if i < 0 {
				line, b = b, nil
			} else {
				line, b = b[:i], b[i+1:]
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if !yield(line) {
				return
			}
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// splitHeader splits "Name: value": the name is everything before the first
// colon (never empty), the value the rest without surrounding blanks.
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := indexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	name, value = line[:i], line[i+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	return name, value, true
}

func parseLength(v []byte, max int) (int, error) {
	if len(v) == 0 || len(v) > 12 {
		if len(v) > 12 {
			return 0, ErrBodyTooLarge
		}
		return 0, ErrBadLength
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrBadLength
		}
		n = n*10 + int(c-'0')
	}
	if n > max {
		return 0, ErrBodyTooLarge
	}
	return n, nil
}

// AppendFrame appends the wire form of f: its headers in order, a blank
// line, its body. The caller keeps Content-Length among the headers equal to
// len(Body) (a parsed frame always does).
func AppendFrame(dst []byte, f Frame) []byte {
	for _, h := range f.Headers {
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	return append(dst, f.Body...)
}

// Event is one parsed text/event-plain body: its headers with values
// URL-decoded, in FreeSWITCH's order, and its own body (a BACKGROUND_JOB's
// result). Known headers are indexed at parse time so that translation does
// not scan a hundred variables per lookup.
type Event struct {
	Headers []Header
	Body    string
	// BadLines counts lines that were not "Name: value"; they are skipped,
	// never the whole event (eslgo drops an event for one odd name).
	BadLines int
	known    [numKnown]string
}

// Known headers, indexed by ParseEvent.
const (
	hEventName = iota
	hEventSubclass
	hEventSequence
	hEventTimestamp
	hUniqueID
	hCallDirection
	hChannelName
	hChannelCallUUID
	hAnswerState
	hCallerIDName
	hCallerIDNumber
	hCallerDestination
	hCallerUsername
	hCallerContext
	hOtherType
	hOtherLegUniqueID
	hHangupCause
	hBridgeA
	hBridgeB
	hRecordFilePath
	hJobUUID
	hJobCommand
	hVarHangupQ850
	hVarTransferSource
	hVarDialedUser
	hVarOtherLoopback
	hVarOriginated
	hVarOriginDialed
	hVarOriginExtension
	numKnown
)

func knownIndex(name string) int {
	switch name {
	case "Event-Name":
		return hEventName
	case "Event-Subclass":
		return hEventSubclass
	case "Event-Sequence":
		return hEventSequence
	case "Event-Date-Timestamp":
		return hEventTimestamp
	case "Unique-ID":
		return hUniqueID
	case "Call-Direction":
		return hCallDirection
	case "Channel-Name":
		return hChannelName
	case "Channel-Call-UUID":
		return hChannelCallUUID
	case "Answer-State":
		return hAnswerState
	case "Caller-Caller-ID-Name":
		return hCallerIDName
	case "Caller-Caller-ID-Number":
		return hCallerIDNumber
	case "Caller-Destination-Number":
		return hCallerDestination
	case "Caller-Username":
		return hCallerUsername
	case "Caller-Context":
		return hCallerContext
	case "Other-Type":
		return hOtherType
	case "Other-Leg-Unique-ID":
		return hOtherLegUniqueID
	case "Hangup-Cause":
		return hHangupCause
	case "Bridge-A-Unique-ID":
		return hBridgeA
	case "Bridge-B-Unique-ID":
		return hBridgeB
	case "Record-File-Path":
		return hRecordFilePath
	case "Job-UUID":
		return hJobUUID
	case "Job-Command":
		return hJobCommand
	case "variable_hangup_cause_q850":
		return hVarHangupQ850
	case "variable_transfer_source":
		return hVarTransferSource
	case "variable_dialed_user":
		return hVarDialedUser
	case "variable_other_loopback_leg_uuid":
		return hVarOtherLoopback
	case "variable_" + varOriginated:
		return hVarOriginated
	case "variable_" + varOriginDialed:
		return hVarOriginDialed
	case "variable_" + varOriginExtension:
		return hVarOriginExtension
	}
	return -1
}

// Name is the event's Event-Name.
func (e *Event) Name() string { return e.known[hEventName] }

// Sequence is the event's Event-Sequence (0 when absent or malformed).
func (e *Event) Sequence() uint64 {
	n, _ := strconv.ParseUint(e.known[hEventSequence], 10, 64)
	return n
}

// Get returns the value of the first header named name (exact case, as
// FreeSWITCH writes them), or "".
func (e *Event) Get(name string) string {
	if i := knownIndex(name); i >= 0 {
		return e.known[i]
	}
	for _, h := range e.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// ParseEvent parses the body of a text/event-plain frame. It never fails:
// malformed lines are skipped and counted in BadLines, a malformed %-escape
// keeps the raw value, and a body shorter than its Content-Length is taken
// as it is.
func ParseEvent(body string) Event {
	var e Event
	n := strings.Count(body, "\n") + 1
	e.Headers = make([]Header, 0, n)
	length := -1
	rest := body
	for len(rest) > 0 {
		i := strings.IndexByte(rest, '\n')
		var line string
		if i < 0 {
			line, rest = rest, ""
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break // end of the header block
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 {
			e.BadLines++
			continue
		}
		name, value := line[:c], strings.Trim(line[c+1:], " \t")
		value = decodeValue(value)
		if name == "Content-Length" {
			if l, err := strconv.Atoi(value); err == nil && l >= 0 {
				length = l
			}
		}
		e.Headers = append(e.Headers, Header{Name: name, Value: value})
		if k := knownIndex(name); k >= 0 && e.known[k] == "" {
			e.known[k] = value
		}
	}
	if length >= 0 {
		e.Body = rest[:min(length, len(rest))]
	}
	return e
}

// decodeValue undoes FreeSWITCH's URL encoding (PathUnescape: "+" stays a
// plus) and its "_undef_" for empty values.
func decodeValue(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		if v == "_undef_" {
			return ""
		}
		return v
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return v
	}
	return d
}

// AppendEvent appends the plain serialisation of an event the way
// switch_event_serialize writes it: URL-encoded values, then, when body is
// not empty, Content-Length and the body. Headers named Content-Length are
// left out (the body's length is written instead).
func AppendEvent(dst []byte, headers []Header, body string) []byte {
	for _, h := range headers {
		if h.Name == "Content-Length" {
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = appendEncoded(dst, h.Value)
		dst = append(dst, '\n')
	}
	if body != "" {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\n\n"...)
		return append(dst, body...)
	}
	return append(dst, '\n')
}

// appendEncoded URL-encodes v as SWITCH_URL_UNSAFE says (controls, non-ASCII,
// space and `"#%&+:;<=>?@[\]^`{|}`), writing "_undef_" for "".
func appendEncoded(dst []byte, v string) []byte {
	switch v {
	case "":
		return append(dst, "_undef_"...)
	case "_undef_":
		return append(dst, "%5Fundef_"...) // the literal, not the empty marker
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#%&+:;<=>?@[\\]^`{|}", c) >= 0 {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// frameReader reads frames from r through a buffer that grows only as bytes
// arrive and never beyond the limits.
type frameReader struct {
	r          io.Reader
	lim        Limits
	buf        []byte
	start, end int
}

// newFrameReader reads from r with a buffer of size bytes to begin with
// (64 KiB suits a live connection: a few events per read).
func newFrameReader(r io.Reader, lim Limits, size int) *frameReader {
	return &frameReader{r: r, lim: lim.withDefaults(), buf: make([]byte, max(size, 16))}
}

// Buffered reports whether bytes of a next frame are already in the buffer.
func (fr *frameReader) Buffered() bool {
	for i := fr.start; i < fr.end; i++ {
		if fr.buf[i] != '\n' && fr.buf[i] != '\r' {
			return true
		}
	}
	return false
}

// Next returns the next frame. A framing error leaves the stream
// unusable: the caller closes the connection.
func (fr *frameReader) Next() (Frame, error) {
	for {
		f, n, need, err := parseFrame(fr.buf[fr.start:fr.end], fr.lim)
		if err == nil {
			fr.start += n
			if fr.start == fr.end {
				fr.start, fr.end = 0, 0
			}
			return f, nil
		}
		if !errors.Is(err, ErrIncomplete) {
			return Frame{}, err
		}
		if err := fr.fill(need); err != nil {
			return Frame{}, err
		}
	}
}

// fill reads at least one more byte, making room first: it compacts the
// buffer, and grows it (doubling, capped by the limits and by need) only
// when full.
func (fr *frameReader) fill(need int) error {
	if fr.start > 0 && fr.end == len(fr.buf) {
		copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.end -= fr.start
		fr.start = 0
	}
	if fr.end == len(fr.buf) {
		limit := fr.lim.MaxHeaderBytes + fr.lim.MaxBodyBytes + 4
		size := min(2*len(fr.buf), limit)
		if need > 0 {
			size = min(size, max(need, len(fr.buf)+1))
		}
		if size <= len(fr.buf) {
			return ErrHeaderTooLarge // unreachable: parseFrame bounds both parts
		}
		nb := make([]byte, size)
		copy(nb, fr.buf[:fr.end])
		fr.buf = nb
	}
	n, err := fr.r.Read(fr.buf[fr.end:])
	fr.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if errors.Is(err, io.EOF) && fr.end > fr.start {
		return io.ErrUnexpectedEOF
	}
	return err
}
