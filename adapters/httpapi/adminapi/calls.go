package adminapi

import (
	"net/http"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/livecalls"
)

// Live is the live calls board GET /tenants/{tenant}/calls shows.
type Live interface {
	Calls(tenant string) []livecalls.Call
}

var _ Live = (*livecalls.Board)(nil)

// callView is a call on the live board.
type callView struct {
	CallID    string `json:"call_id"`
	State     string `json:"state"`
	Direction string `json:"direction"`
	// External is the customer's number, ExternalName its name when known.
	External     string `json:"external"`
	ExternalName string `json:"external_name"`
	Dialed       string `json:"dialed"`
	Caller       string `json:"caller"`
	// RingingAt are the extensions ringing now, first ring first.
	RingingAt []string `json:"ringing_at"`
	Agent     string   `json:"agent"`
	// Disposition is how an ended call ended; "" before.
	Disposition   string     `json:"disposition"`
	Since         time.Time  `json:"since"`
	AnsweredSince *time.Time `json:"answered_since"`
	EndedSince    *time.Time `json:"ended_since"`
	Updated       time.Time  `json:"updated"`
}

func callOf(c livecalls.Call) callView {
	return callView{CallID: c.CallID, State: string(c.State), Direction: string(c.Direction), External: c.External,
		ExternalName: c.ExternalName, Dialed: c.Dialed, Caller: c.Caller, RingingAt: append([]string{}, c.RingingAt...),
		Agent: c.Agent, Disposition: string(c.Disposition), Since: c.Since, AnsweredSince: timeOrNil(c.AnsweredSince),
		EndedSince: timeOrNil(c.EndedSince), Updated: c.Updated}
}

// callsBody is the answer of GET /tenants/{tenant}/calls: the board, and
// the server's clock to measure its times against.
type callsBody struct {
	Calls []callView `json:"calls"`
	Now   time.Time  `json:"now"`
}

func (h *Handler) listCalls(r *http.Request, a directory.Actor) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	t, err := h.dir.Tenant(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	var calls []livecalls.Call
	if h.live != nil {
		calls = h.live.Calls(t.ID)
	}
	return http.StatusOK, callsBody{Calls: mapSlice(calls, callOf), Now: h.now().UTC()}, nil
}
