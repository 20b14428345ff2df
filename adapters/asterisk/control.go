package asterisk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/events"
)

var _ clicktocall.CallController = (*Adapter)(nil)

// Control runs a PhoneBridge call-control operation on a channel
// (clicktocall.CallController): hangup (DELETE /channels/{id}), hold and
// unhold (POST/DELETE /channels/{id}/hold), mute and unmute (POST/DELETE
// /channels/{id}/mute?direction=…), keypress (POST /channels/{id}/dtmf).
// Answering a ringing phone is not something ARI can do:
// clicktocall.ErrUnsupported.
func (a *Adapter) Control(ctx context.Context, id string, op clicktocall.Op) error {
	path := "/channels/" + esc(id)
	var method, sub string
	q := url.Values{}
	switch op.Action {
	case events.ActionHangup:
		return a.Hangup(ctx, id, "normal")
	case events.ActionHold:
		method, sub = http.MethodPost, "/hold"
	case events.ActionUnhold:
		method, sub = http.MethodDelete, "/hold"
	case events.ActionMute, events.ActionUnmute:
		method, sub = http.MethodPost, "/mute"
		if op.Action == events.ActionUnmute {
			method = http.MethodDelete
		}
		dir := op.Direction
		if dir == "" {
			dir = "both"
		}
		q.Set("direction", dir)
	case events.ActionKeypress:
		method, sub = http.MethodPost, "/dtmf"
		q.Set("dtmf", op.Digits)
	default:
		return fmt.Errorf("asterisk: %s %s: %w", op.Action, id, clicktocall.ErrUnsupported)
	}
	if err := a.rest.do(ctx, op.Action, method, path+sub, q, nil, nil); err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", op.Action, id, err)
	}
	return nil
}
