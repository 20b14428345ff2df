package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"
)

// Connection errors.
var (
	// ErrAuth: FreeSWITCH refused the password (or the ACL refused us).
	ErrAuth = errors.New("authentication failed")
	// ErrWatchdog: nothing, not even a HEARTBEAT, arrived in time: the link
	// is dead without having said so (a reset without EOF, a frozen peer).
	ErrWatchdog = errors.New("no heartbeat from FreeSWITCH")
	// ErrNotConnected: a command was sent while the event socket was down.
	ErrNotConnected = errors.New("not connected")
	// errDisconnectNotice: FreeSWITCH said goodbye (text/disconnect-notice).
	errDisconnectNotice = errors.New("disconnected by FreeSWITCH")
)

// maxPendingCommands bounds commands written and not yet answered on one
// connection; more wait for room (a caller's context bounds the wait).
const maxPendingCommands = 64

// orderBatch bounds how many events the reader sorts by Event-Sequence
// before handing them on (see conn.read).
const orderBatch = 256

// conn is one authenticated event-socket connection: one reader goroutine
// (started by start, stopped by close) routes replies to the command
// waiting for them and events, in Event-Sequence order, to events.
type conn struct {
	nc net.Conn
	fr *frameReader
	// wmu serialises commands: a command is written and its waiter queued
	// under it, so replies (which FreeSWITCH sends in command order) meet
	// their own command. eslgo v1.5.1 lets concurrent replies cross.
	wmu     sync.Mutex
	waiters chan chan Frame
	// events is unbuffered: the reader blocks until the processor takes an
	// event, so back-pressure reaches FreeSWITCH's own queue, never a drop.
	events chan Event
	stop   chan struct{} // closed by close: the reader stops handing on events
	done   chan struct{} // closed when the reader has returned
	err    error         // why the reader returned; read after done
	// invalid counts frames the reader could not use.
	invalid func()
}

// deadlineConn arms the read deadline before every read: a link silent for
// longer than timeout (the HEARTBEAT watchdog) fails the read. Only reads
// arm it, so a reader held up by back-pressure never times out.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d deadlineConn) Read(p []byte) (int, error) {
	if err := d.Conn.SetReadDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.Conn.Read(p)
}

// handshake authenticates and subscribes on a fresh connection, before the
// reader runs: auth/request → auth → +OK accepted → event plain … → +OK.
func handshake(nc net.Conn, fr *frameReader, password string, subscribe string, deadline time.Time) error {
	_ = nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	f, err := fr.Next()
	if err != nil {
		return fmt.Errorf("waiting for auth/request: %w", err)
	}
	switch f.ContentType() {
	case TypeAuthRequest:
	case TypeRude:
		return fmt.Errorf("%w: rejected by FreeSWITCH's ACL: %s", ErrAuth, strings.TrimSpace(f.Body))
	default:
		return fmt.Errorf("expected auth/request, got %q", f.ContentType())
	}
	if err := writeCommand(nc, command.Auth{Password: password}.BuildMessage()); err != nil {
		return err
	}
	if f, err = fr.Next(); err != nil {
		return fmt.Errorf("waiting for the auth reply: %w", err)
	}
	if r := f.Get("Reply-Text"); f.ContentType() != TypeReply || !strings.HasPrefix(r, "+OK") {
		return fmt.Errorf("%w: %s", ErrAuth, replyText(f))
	}
	if err := writeCommand(nc, subscribe); err != nil {
		return err
	}
	if f, err = fr.Next(); err != nil {
		return fmt.Errorf("waiting for the event reply: %w", err)
	}
	if r := f.Get("Reply-Text"); !strings.HasPrefix(r, "+OK") {
		return fmt.Errorf("subscribing: %s", replyText(f))
	}
	return nil
}

func replyText(f Frame) string {
	if r := f.Get("Reply-Text"); r != "" {
		return r
	}
	if s := strings.TrimSpace(f.Body); s != "" {
		return s
	}
	return f.ContentType()
}

func writeCommand(nc net.Conn, cmd string) error {
	_, err := nc.Write([]byte(cmd + "\n\n"))
	return err
}

func (c *conn) start() {
	go c.read()
}

// close closes the connection and waits for the reader.
func (c *conn) close() {
	close(c.stop)
	_ = c.nc.Close()
	<-c.done
}

// read runs until the connection fails. Events are gathered while more
// bytes are already buffered (one TCP read's worth, at most orderBatch) and
// handed on sorted by Event-Sequence: FreeSWITCH numbers an event when it
// creates it and queues it when it fires it, so neighbours on the wire can
// be out of order (the captures show it); a batch is sorted, never held
// back waiting for a gap (sequence numbers are global, gaps are normal).
func (c *conn) read() {
	defer close(c.done)
	batch := make([]Event, 0, orderBatch)
	flush := func() bool {
		slices.SortStableFunc(batch, func(a, b Event) int {
			sa, sb := a.Sequence(), b.Sequence()
			switch {
			case sa < sb:
				return -1
			case sa > sb:
				return 1
			}
			return 0
		})
		defer func() { clear(batch); batch = batch[:0] }()
		for i := range batch {
			select {
			case c.events <- batch[i]:
			case <-c.stop:
				return false
			}
		}
		return true
	}
	for {
		f, err := c.fr.Next()
		if err != nil {
			if isFramingErr(err) {
				c.invalid()
			}
			flush() // what arrived whole before the failure still counts
			c.err = classifyReadErr(err)
			return
		}
		switch f.ContentType() {
		case TypeEventPlain:
			batch = append(batch, ParseEvent(f.Body))
		case TypeReply, TypeAPIResponse:
			select {
			case w := <-c.waiters:
				w <- f // buffered 1; the waiter may have given up
			default:
				c.invalid() // a reply nobody asked for
			}
		case TypeDisconnect:
			flush()
			c.err = errDisconnectNotice
			return
		case TypeRude:
			flush()
			c.err = fmt.Errorf("%w: %s", ErrAuth, strings.TrimSpace(f.Body))
			return
		case TypeAuthRequest, TypeLog:
			// Harmless: a repeated auth request, log lines we did not ask for.
		default:
			c.invalid()
		}
		if len(batch) > 0 && (len(batch) == orderBatch || !c.fr.Buffered()) && !flush() {
			c.err = net.ErrClosed
			return
		}
	}
}

// isFramingErr reports whether err means the bytes were wrong (rather than
// the connection).
func isFramingErr(err error) bool {
	return errors.Is(err, ErrHeaderTooLarge) || errors.Is(err, ErrBodyTooLarge) ||
		errors.Is(err, ErrBadLength) || errors.Is(err, ErrBadHeader)
}

func classifyReadErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrWatchdog
	}
	return err
}

// roundTrip sends one command and waits for its reply (command/reply or
// api/response). Commands are serialised; a caller giving up leaves its
// reply to be discarded, never to be read by the next command.
func (c *conn) roundTrip(ctx context.Context, cmd string) (Frame, error) {
	w := make(chan Frame, 1)
	c.wmu.Lock()
	select {
	case c.waiters <- w:
	case <-ctx.Done():
		c.wmu.Unlock()
		return Frame{}, ctx.Err()
	case <-c.done:
		c.wmu.Unlock()
		return Frame{}, ErrNotConnected
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetWriteDeadline(dl)
	}
	err := writeCommand(c.nc, cmd)
	_ = c.nc.SetWriteDeadline(time.Time{})
	c.wmu.Unlock()
	if err != nil {
		// The waiter stays queued; the connection is broken anyway.
		_ = c.nc.Close()
		return Frame{}, err
	}
	select {
	case f := <-w:
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-c.done:
		return Frame{}, ErrNotConnected
	}
}
