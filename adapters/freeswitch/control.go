package freeswitch

import (
	"context"
	"fmt"

	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/events"
)

var _ clicktocall.CallController = (*Adapter)(nil)

// Control runs a PhoneBridge call-control operation on a leg
// (clicktocall.CallController): hangup (uuid_kill), hold and unhold
// (uuid_hold [off]), mute and unmute (uuid_audio start read|write mute 0 /
// stop), keypress (uuid_send_dtmf). FreeSWITCH cannot answer a ringing
// phone for its user: clicktocall.ErrUnsupported.
func (a *Adapter) Control(ctx context.Context, uuid string, op clicktocall.Op) error {
	switch op.Action {
	case events.ActionHangup:
		return a.Hangup(ctx, uuid, "NORMAL_CLEARING")
	case events.ActionHold:
		return a.api(ctx, "uuid_hold", uuid)
	case events.ActionUnhold:
		return a.api(ctx, "uuid_hold", "off", uuid)
	case events.ActionMute:
		dir := "read" // what the leg sends
		if op.Direction == "out" {
			dir = "write" // what the leg receives
		}
		return a.api(ctx, "uuid_audio", uuid, "start", dir, "mute", "0")
	case events.ActionUnmute:
		return a.api(ctx, "uuid_audio", uuid, "stop")
	case events.ActionKeypress:
		if !safeArg(op.Digits) {
			return fmt.Errorf("freeswitch: keypress %s: bad digits", uuid)
		}
		return a.api(ctx, "uuid_send_dtmf", uuid, op.Digits)
	}
	return fmt.Errorf("freeswitch: %s %s: %w", op.Action, uuid, clicktocall.ErrUnsupported)
}
