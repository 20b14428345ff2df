package asterisk

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// Screening on ARI (README, "Caller name, blacklist and owner routing";
// deploy/asterisk/extensions.conf): the inbound dialplan runs
// Stasis(<app>,screen) before it dials anyone. The channel enters the
// application (StasisStart, args ["screen"], state Ring: the caller hears
// nothing new yet) and waits there until Ringside:
//
//   - rejects it: DELETE /channels/{id}?reason=busy|congestion|normal
//     (cause 17, 34 or 16; fact sheet §1.5), a blacklisted caller;
//   - or names and routes it and lets it go on: POST
//     /channels/{id}/variable CALLERID(name)=<CRM name> (the variables
//     resource writes a dialplan function like Set() does; app_dial copies
//     the caller id to each peer's connected line, which the phones show),
//     RINGSIDE_OWNER=<extension> for the dialplan to dial the record
//     owner first, then POST /channels/{id}/continue with no arguments: the
//     next priority (resource_channels.c ast_ari_channels_continue_in_dialplan).
//
// Both need the channel in the application (409 otherwise; §1.7). The
// decision has a hard deadline (screen.deadline): past it the call goes on
// as it is. If Ringside is not connected, Stasis() fails at once with
// STASISSTATUS=FAILED and the dialplan carries on (§1.9): screening never
// keeps a call from ringing. A channel found waiting at reconnect (its
// StasisStart lost with the old connection) is let go at once.

// ScreenArg is the Stasis() argument that asks for screening.
const ScreenArg = "screen"

// OwnerVariable is the channel variable that names the extension to dial
// first (the CRM record owner's); the dialplan reads it after Stasis().
const OwnerVariable = "RINGSIDE_OWNER"

// SetScreener makes the adapter screen waiting calls with s (in the daemon
// the pkg/screen Screener), deciding within deadline (150ms if not
// positive). Until it is called every such call goes on at once. Safe to
// call while the adapter runs.
func (a *Adapter) SetScreener(s screen.Decider, deadline time.Duration) {
	a.screener.Set(s, deadline)
}

// screen decides about a waiting call and applies the verdict; start is
// when its StasisStart was read. The screener is told the verdict before it
// is applied (screen.Gate.Decide).
func (a *Adapter) screen(ctx context.Context, c screen.Call, start time.Time) {
	v := a.screener.Decide(ctx, c, start, a.actions.Go)
	ok := a.apply(ctx, c.Channel, v)
	delay := time.Since(start)
	a.sm.Observe(v.Outcome, delay)
	log := a.log.With(zap.String("channel_id", c.Channel), zap.String("tenant", c.Tenant),
		zap.String("outcome", string(v.Outcome)), zap.Duration("delay", delay))
	switch {
	case !ok:
	case v.Reject != "":
		log.Info("blacklisted call rejected", zap.String("entry", v.Blocked), zap.String("reason", v.Reject))
	default:
		log.Debug("call screened", zap.Bool("named", v.Name != ""), zap.String("owner_extension", v.Owner))
	}
}

// rejectReason maps a blacklist reason onto an ARI hangup reason.
func rejectReason(r string) string {
	switch r {
	case store.BlockCongestion:
		return "congestion"
	case store.BlockHangup:
		return "normal"
	}
	return "busy"
}

// continueAttempts bounds the tries to let a screened call go on: a call
// left in the application never rings.
const continueAttempts = 3

// apply carries the verdict out; it reports whether the channel was still
// there. Commands outlive ctx (a shutdown must not strand a waiting call),
// each bounded by the request timeout.
func (a *Adapter) apply(ctx context.Context, id string, v screen.Verdict) bool {
	ctx = context.WithoutCancel(ctx)
	log := a.log.With(zap.String("channel_id", id))
	gone := func(err error) bool { return StatusOf(err) == http.StatusNotFound }
	if v.Reject != "" {
		err := a.Hangup(ctx, id, rejectReason(v.Reject))
		if err == nil || gone(err) {
			return err == nil
		}
		log.Warn("screening: rejecting a blacklisted call failed; letting it ring", zap.Error(err))
	} else {
		for _, set := range [][2]string{{"CALLERID(name)", v.Name}, {OwnerVariable, v.Owner}} {
			if set[1] == "" {
				continue
			}
			if err := a.SetVariable(ctx, id, set[0], set[1]); gone(err) {
				return false
			} else if err != nil {
				log.Warn("screening: variable not set; the call rings without it", zap.String("variable", set[0]), zap.Error(err))
			}
		}
	}
	var err error
retry:
	for i := range continueAttempts {
		err = a.Continue(ctx, id, "", "", 0)
		switch {
		case err == nil:
			return true
		case gone(err), StatusOf(err) == http.StatusConflict:
			return false // hung up, or out of the application already (released at a reconnect)
		case StatusOf(err) == http.StatusPreconditionFailed:
			break retry // not an inbound call waiting: retrying will not help
		default:
			time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
		}
	}
	log.Error("screening: the call could not go on in the dialplan", zap.Error(err))
	return false
}

// releaseWaiting lets go the channels waiting for screening that a new
// connection finds (their StasisStart went with the old one): no decision,
// they ring at once.
func (a *Adapter) releaseWaiting(ctx context.Context, chans []Channel) {
	for _, ch := range chans {
		if ch.Dialplan.AppName != "Stasis" || ch.Dialplan.AppData != a.app+","+ScreenArg {
			continue
		}
		id := ch.ID
		a.log.Info("screening: letting go a call that waited across a reconnect", zap.String("channel_id", id))
		a.actions.Go(func() { a.apply(ctx, id, screen.Verdict{Outcome: screen.OutcomeLate}) })
	}
}
