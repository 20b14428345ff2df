package freeswitch

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/fault"
)

// ErrJobLost: the link dropped before FreeSWITCH reported an origination's
// result. The call may still go on; its events arrive after reconciliation.
var ErrJobLost = errors.New("link lost before the originate result")

// OriginateError is FreeSWITCH's refusal of leg A (`-ERR NO_ANSWER`,
// `-ERR USER_BUSY`, `-ERR USER_NOT_REGISTERED`…).
type OriginateError struct {
	Leg   string
	Cause string // the FreeSWITCH cause name
}

func (e *OriginateError) Error() string {
	return "freeswitch: originate " + e.Leg + ": " + e.Cause
}

// ClickToCall describes a two-leg origination: FreeSWITCH rings leg A (the
// user's terminal) showing the customer, and once A answers, dials leg B
// (the customer) and bridges them.
type ClickToCall struct {
	// Endpoint is leg A's dial string, e.g. "user/1001@acme.example.com".
	Endpoint string
	// Extension is the user's extension: the call's caller in the events.
	Extension string
	// CustomerEndpoint is leg B's dial string, e.g.
	// "sofia/gateway/trunk/+4930123456".
	CustomerEndpoint string
	// Customer and CustomerName are what the user's phone shows for leg A;
	// Customer is the call's external number in the events.
	Customer, CustomerName string
	// CallerIDNumber and CallerIDName are what the customer sees (leg B).
	CallerIDNumber, CallerIDName string
	// Tenant is set on leg A as the tenant variable (pbx.tenant.variable)
	// when the tenant rule is "variable".
	Tenant string
	// Timeout is how long leg A rings (originate_timeout, 30s).
	Timeout time.Duration
	// JobID, LegA and LegB are pre-assigned uuids; empty ones are
	// generated. Reusing them after a retry lets FreeSWITCH refuse a
	// duplicate instead of ringing twice.
	JobID, LegA, LegB string
}

// Origination is an originate FreeSWITCH accepted. Its result (leg A
// answered, or why not) arrives later as a BACKGROUND_JOB.
type Origination struct {
	JobID, LegA, LegB string
	done              chan struct{}
	err               error
}

func (o *Origination) finish(err error) {
	o.err = err
	close(o.done)
}

// Done is closed when the result is known.
func (o *Origination) Done() <-chan struct{} { return o.done }

// Wait returns nil once leg A answered (B is being dialled), an
// *OriginateError marked permanent when FreeSWITCH gave up on A, or a
// retryable ErrJobLost when the link dropped first.
func (o *Origination) Wait(ctx context.Context) error {
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Originate sends `bgapi originate {vars}<A> &bridge({vars}<B>)` with a
// Job-UUID header, pre-assigned origination_uuid for both legs and
// Ringside's markers on leg A, and returns once FreeSWITCH accepted the job.
func (a *Adapter) Originate(ctx context.Context, r ClickToCall) (*Origination, error) {
	if r.Endpoint == "" || r.CustomerEndpoint == "" {
		return nil, fault.Permanent(errors.New("freeswitch: originate: both endpoints are required"))
	}
	for _, s := range []string{r.Endpoint, r.CustomerEndpoint, r.JobID, r.LegA, r.LegB} {
		if strings.ContainsAny(s, " \t\r\n{}()&") {
			return nil, fault.Permanent(fmt.Errorf("freeswitch: originate: unsafe endpoint or id %q", s))
		}
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	for _, id := range []*string{&r.JobID, &r.LegA, &r.LegB} {
		if *id == "" {
			*id = newUUID()
		}
	}
	aVars := []Header{
		{"origination_uuid", r.LegA},
		{"origination_caller_id_number", r.Customer},
		{"origination_caller_id_name", r.CustomerName},
		{"originate_timeout", strconv.Itoa(int((r.Timeout + time.Second - 1) / time.Second))},
		{varOriginated, "true"},
		{varOriginDialed, r.Customer},
		{varOriginExtension, r.Extension},
	}
	if v := a.o.PBX.Tenant.Variable; v != "" && r.Tenant != "" && a.o.PBX.Tenant.From == config.TenantVariable {
		aVars = append(aVars, Header{v, r.Tenant})
	}
	bVars := []Header{
		{"origination_uuid", r.LegB},
		{"origination_caller_id_number", r.CallerIDNumber},
		{"origination_caller_id_name", r.CallerIDName},
		{"ignore_early_media", "true"},
	}
	args := varList(aVars) + r.Endpoint + " &bridge(" + varList(bVars) + r.CustomerEndpoint + ")"
	o := &Origination{JobID: r.JobID, LegA: r.LegA, LegB: r.LegB, done: make(chan struct{})}
	a.jobsMu.Lock()
	a.jobs[r.JobID] = o
	a.jobsMu.Unlock()
	line := command.API{Command: "originate", Arguments: args, Background: true}.BuildMessage() + "\nJob-UUID: " + r.JobID
	f, err := a.send(ctx, "originate", line)
	if err == nil && !strings.HasPrefix(f.Get("Reply-Text"), "+OK") {
		err = fault.Permanent(fmt.Errorf("freeswitch: originate %s: %s", r.LegA, replyText(f)))
	}
	if err != nil {
		a.jobsMu.Lock()
		delete(a.jobs, r.JobID)
		a.jobsMu.Unlock()
		return nil, err
	}
	a.log.Info("freeswitch: originate accepted", zap.String("job", o.JobID), zap.String("leg_a", o.LegA), zap.String("leg_b", o.LegB))
	return o, nil
}

// varList renders {k=v,…}: commas, braces and quotes cannot be escaped
// reliably in FreeSWITCH variable lists, so they are dropped from values;
// values with blanks are single-quoted. Empty values are left out.
func varList(vars []Header) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, v := range vars {
		val := strings.Map(func(r rune) rune {
			switch {
			case r < ' ', r == ',', r == '{', r == '}', r == '[', r == ']', r == '<', r == '>', r == '\'', r == '"', r == '^':
				return -1
			}
			return r
		}, v.Value)
		if val == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(v.Name)
		b.WriteByte('=')
		if strings.ContainsAny(val, " \t") {
			b.WriteString("'" + val + "'")
		} else {
			b.WriteString(val)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Hangup hangs up a leg with a FreeSWITCH cause name (NORMAL_CLEARING when
// empty): `uuid_kill <uuid> <cause>`.
func (a *Adapter) Hangup(ctx context.Context, uuid, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	return a.api(ctx, "uuid_kill", uuid, cause)
}

// SetVariable sets a channel variable: `uuid_setvar <uuid> <name> <value>`.
func (a *Adapter) SetVariable(ctx context.Context, uuid, name, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return fault.Permanent(fmt.Errorf("freeswitch: uuid_setvar %s %s: line break in value", uuid, name))
	}
	return a.api(ctx, "uuid_setvar", uuid, name, value)
}

// SetCallerName sets the name the other party's display shows for the leg
// (effective_caller_id_name).
func (a *Adapter) SetCallerName(ctx context.Context, uuid, name string) error {
	return a.SetVariable(ctx, uuid, "effective_caller_id_name", name)
}

// Transfer sends a leg to dest in the XML dialplan (dialplanContext ""
// is the leg's own): `uuid_transfer <uuid> <dest> [XML <context>]`.
func (a *Adapter) Transfer(ctx context.Context, uuid, dest, dialplanContext string) error {
	if dialplanContext != "" {
		return a.api(ctx, "uuid_transfer", uuid, dest, "XML", dialplanContext)
	}
	return a.api(ctx, "uuid_transfer", uuid, dest)
}

// api runs `api <cmd> <args…>`. The last argument may contain blanks (a
// variable's value); the others must be single words.
func (a *Adapter) api(ctx context.Context, cmd string, args ...string) error {
	for i, s := range args {
		if s == "" || strings.ContainsAny(s, "\r\n") || (i < len(args)-1 || cmd != "uuid_setvar") && strings.ContainsAny(s, " \t") {
			return fault.Permanent(fmt.Errorf("freeswitch: %s: bad argument %q", cmd, s))
		}
	}
	f, err := a.send(ctx, cmd, command.API{Command: cmd, Arguments: strings.Join(args, " ")}.BuildMessage())
	if err != nil {
		return err
	}
	if body := strings.TrimSpace(f.Body); strings.HasPrefix(body, "-ERR") || strings.HasPrefix(body, "-USAGE") {
		a.m.commands.WithLabelValues(commandLabel(cmd), resultRefused).Inc()
		return fault.Permanent(fmt.Errorf("freeswitch: %s %s: %s", cmd, args[0], body))
	}
	return nil
}

// send writes one command on the current connection and waits for its
// reply, within ctx or CommandTimeout. Connection problems are retryable.
func (a *Adapter) send(ctx context.Context, label, line string) (Frame, error) {
	c := a.cur.Load()
	if c == nil {
		a.m.commands.WithLabelValues(commandLabel(label), resultError).Inc()
		return Frame{}, fault.Retryable(fmt.Errorf("freeswitch: %s: %w", label, ErrNotConnected), 0)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.o.CommandTimeout)
		defer cancel()
	}
	f, err := c.roundTrip(ctx, line)
	if err != nil {
		a.m.commands.WithLabelValues(commandLabel(label), resultError).Inc()
		return Frame{}, fault.Retryable(fmt.Errorf("freeswitch: %s: %w", label, err), 0)
	}
	if strings.HasPrefix(f.Get("Reply-Text"), "-ERR") {
		a.m.commands.WithLabelValues(commandLabel(label), resultRefused).Inc()
		return f, nil // the caller classifies
	}
	a.m.commands.WithLabelValues(commandLabel(label), resultOK).Inc()
	return f, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[x>>4], hex[x&15])
	}
	return string(out)
}
