package portal

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/livecalls"
)

// liveData is the live calls view.
type liveData struct {
	*base
	Calls []liveRow
	// Refresh is the URL of the table alone, fetched every 2 s.
	Refresh string
}

// liveRow is one call of the live view.
type liveRow struct {
	State       livecalls.State
	Direction   events.Direction
	Disposition events.Disposition
	// Customer is the external party (name and number), Extensions who
	// rings or talks.
	Customer, Extensions string
	// For is how long the call has rung or talked (ended: did).
	For string
}

// livePage shows the tenant's live calls; the script refreshes the table.
func (p *Portal) livePage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.live", "live")
	if !ok {
		return
	}
	p.render(w, http.StatusOK, "live", liveData{base: b, Calls: p.liveRows(t.ID), Refresh: tenantPath(t.ID, "live/calls")})
}

// liveCalls renders the table alone, for the refresh.
func (p *Portal) liveCalls(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := p.dir.Tenant(r.Context(), s.actor, r.PathValue("tenant"))
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	b := &base{Lang: s.lang, cat: catalogs[s.lang], assets: p.assets}
	var out strings.Builder
	if err := p.pages["live"].ExecuteTemplate(&out, "calls", liveData{base: b, Calls: p.liveRows(t.ID)}); err != nil {
		p.log.Error("rendering the live calls failed", zap.Error(err))
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(out.String()))
}

func (p *Portal) liveRows(tenant string) []liveRow {
	if p.live == nil {
		return nil
	}
	now := p.now()
	calls := p.live.Calls(tenant)
	rows := make([]liveRow, 0, len(calls))
	for _, c := range calls {
		row := liveRow{State: c.State, Direction: c.Direction, Disposition: c.Disposition}
		row.Customer = strings.TrimSpace(c.ExternalName + " " + c.External)
		if c.Direction == events.Internal {
			row.Customer = c.Dialed
		}
		switch {
		case len(c.RingingAt) > 0:
			row.Extensions = strings.Join(c.RingingAt, ", ")
		case c.Agent != "":
			row.Extensions = c.Agent
		default:
			row.Extensions = c.Caller
		}
		from, to := c.Since, now
		if !c.AnsweredSince.IsZero() {
			from = c.AnsweredSince
		}
		if c.State == livecalls.Ended {
			to = c.EndedSince
		}
		row.For = clock(to.Sub(from))
		rows = append(rows, row)
	}
	return rows
}

// clock formats a duration as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	s := max(int(d.Round(time.Second)/time.Second), 0)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
