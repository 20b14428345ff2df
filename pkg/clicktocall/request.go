package clicktocall

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

// Originator places one click-to-call on the PBX: it rings r.Terminal
// (leg A) showing the customer, and once answered dials r.CustomerEndpoint
// (leg B) with r.CallerID and bridges the two. It returns when the attempt
// is over: nil once both legs talked and the call ended, a *Failure when a
// leg failed (or the user hung up first), another error when the PBX could
// not be asked (not connected). The adapters implement it:
// asterisk.(*Adapter).ClickToCall and freeswitch.(*Adapter).ClickToCall.
type Originator interface {
	ClickToCall(ctx context.Context, r Request) error
}

// Request is one click-to-call for an Originator.
type Request struct {
	// ID is unique per click; adapters derive the leg ids from it.
	ID        string
	Tenant    string
	Extension string // the user's extension: the call's caller
	// Terminal is leg A's dial string (PJSIP/1001, user/1001@acme,
	// PJSIP/+34600111222@trunk); Mobile says it is a mobile number.
	Terminal string
	Mobile   bool
	// Customer is the number called (E.164 when known) and CustomerName
	// its name, both shown on the user's phone while leg A rings.
	Customer, CustomerName string
	// CustomerEndpoint is leg B's dial string (the tenant's outbound route).
	CustomerEndpoint string
	// CallerID is the number the customer sees (empty: the trunk's).
	CallerID string
	// RingTimeout bounds leg A's ringing, DialTimeout leg B's.
	RingTimeout, DialTimeout time.Duration
}

// Leg names the leg a failure is about.
type Leg string

// Legs.
const (
	LegA Leg = "a" // the user's terminal
	LegB Leg = "b" // the customer
)

// Failure is a click-to-call that did not connect: which leg failed and
// why. CauseCancelled on leg A means the user hung up before the customer
// answered: not reported to Zoho.
type Failure struct {
	Leg   Leg
	Cause callstate.Cause
	Err   error // the PBX's error, if any
}

func (f *Failure) Error() string {
	s := "click-to-call: leg " + string(f.Leg) + ": " + f.Cause.String()
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

func (f *Failure) Unwrap() error { return f.Err }

// Zoho clicktodialerror codes (spec zoho.md §1.9).
const (
	CodeBusy         = "busy"
	CodeInvalid      = "invalid"
	CodeBlocked      = "blocked"
	CodeNotAvailable = "notavailable"
	CodeNoAnswer     = "noanswer"
	CodeRejected     = "rejected"
)

// Explain turns a failure into the clicktodialerror code and the message
// the user reads; report is false for a user who hung up on purpose.
func Explain(f *Failure, customer string) (code, message string, report bool) {
	if f.Leg == LegA {
		switch f.Cause {
		case callstate.CauseCancelled, callstate.CauseNormal:
			return "", "", false
		case callstate.CauseBusy:
			return CodeBusy, "Your phone is busy; the call to " + customer + " was not placed.", true
		case callstate.CauseNoAnswer:
			return CodeNoAnswer, "Your phone was not answered; the call to " + customer + " was cancelled.", true
		case callstate.CauseRejected:
			return CodeRejected, "You declined the call on your phone; " + customer + " was not called.", true
		case callstate.CauseUnreachable:
			return CodeNotAvailable, "Your phone is not reachable (offline or not registered); the call to " + customer + " was not placed.", true
		}
		return CodeNotAvailable, "Your phone could not be rung; the call to " + customer + " was not placed.", true
	}
	switch f.Cause {
	case callstate.CauseBusy:
		return CodeBusy, customer + " is busy.", true
	case callstate.CauseNoAnswer, callstate.CauseCancelled:
		return CodeNoAnswer, customer + " did not answer.", true
	case callstate.CauseRejected:
		return CodeRejected, customer + " rejected the call.", true
	case callstate.CauseUnreachable:
		return CodeInvalid, customer + " cannot be reached (invalid or unallocated number).", true
	}
	return CodeNotAvailable, "The call to " + customer + " failed (" + f.Cause.String() + ").", true
}

// Endpoints turn an events.Originate into dial strings. In each template
// {extension}, {tenant} and (Outbound only) {number} are replaced.
type Endpoints struct {
	// Desk dials an extension without a device of its own
	// (PJSIP/{extension}, user/{extension}).
	Desk string
	// Outbound is the tenant's route to the customer and to mobile
	// terminals (PJSIP/{number}@trunk, sofia/gateway/trunk/{number}).
	Outbound string
	// CallerID is the number the customer sees; empty: the trunk's.
	CallerID string
}

// DefaultEndpoints are the dial strings used when the configuration leaves
// them empty, by pbx.kind.
func DefaultEndpoints(pbxKind string) Endpoints {
	if pbxKind == "freeswitch" {
		return Endpoints{Desk: "user/{extension}", Outbound: "sofia/gateway/trunk/{number}"}
	}
	return Endpoints{Desk: "PJSIP/{extension}", Outbound: "PJSIP/{number}@trunk"}
}

// Or fills e's empty templates from d.
func (e Endpoints) Or(d Endpoints) Endpoints {
	if e.Desk == "" {
		e.Desk = d.Desk
	}
	if e.Outbound == "" {
		e.Outbound = d.Outbound
	}
	if e.CallerID == "" {
		e.CallerID = d.CallerID
	}
	return e
}

func expand(tmpl string, c events.Originate, number string) string {
	return strings.NewReplacer("{extension}", c.Extension, "{tenant}", c.Tenant, "{number}", number).Replace(tmpl)
}

// errBadCommand is an Originate that cannot be placed.
var errBadCommand = errors.New("invalid originate command")

// Request builds the Originator's request for a command.
func (e Endpoints) Request(c events.Originate, ring, dial time.Duration) (Request, error) {
	if c.ID == "" || c.Tenant == "" || c.Extension == "" || !validNumber(c.Customer) {
		return Request{}, errBadCommand
	}
	r := Request{ID: c.ID, Tenant: c.Tenant, Extension: c.Extension, Customer: c.Customer, CustomerName: c.CustomerName,
		CustomerEndpoint: expand(e.Outbound, c, c.Customer), CallerID: expand(e.CallerID, c, ""),
		RingTimeout: ring, DialTimeout: dial}
	switch {
	case c.TerminalKind == events.TerminalMobile && validNumber(c.Mobile):
		r.Terminal, r.Mobile = expand(e.Outbound, c, c.Mobile), true
	case c.Device != "":
		r.Terminal = c.Device
	default:
		r.Terminal = expand(e.Desk, c, "")
	}
	if strings.ContainsAny(r.Terminal+r.CustomerEndpoint+r.ID, " \t\r\n,") {
		return Request{}, errBadCommand
	}
	return r, nil
}

// NormalizeNumber turns what Zoho sends as tonumber ("+49 (30) 123-456",
// "0049 30 123456", "030 123456") into a dialable number: digits with a
// leading + when it has a country code (00 becomes +). ok is false when it
// is not a phone number.
func NormalizeNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ', r == '-', r == '(', r == ')', r == '.', r == '/', r == '\u00a0':
		default:
			return "", false
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	return n, validNumber(n)
}

func validNumber(n string) bool {
	d := strings.TrimPrefix(n, "+")
	if len(d) < 2 || len(d) > 20 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
