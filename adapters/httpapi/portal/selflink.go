package portal

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// Self-service linking on a user's page: "Link by signing in at Zoho"
// starts a device flow (directory.SelfLinks); the page shows the code and
// Zoho's verification page, and polls until whoever approved there is
// linked, or the code was denied or expired. Without the script, "Check
// now" polls once.

// selfLinkView is a pending self-service link as the page shows it.
type selfLinkView struct {
	UserCode, VerificationURL, VerificationURLComplete string
	ExpiresAt                                          time.Time
	// Every is how often the script polls, in milliseconds.
	Every int64
}

// minPollEvery keeps the script from polling more often than this, however
// short Zoho's interval: the service asks Zoho only when it is time to.
const minPollEvery = 2 * time.Second

// selfLinkState fills the self-service part of an unlinked user's page.
func (p *Portal) selfLinkState(r *http.Request, s *session, t store.Tenant, ext string, d *userData) {
	if p.selfLinks == nil || t.Zoho.Status != store.Connected {
		d.SelfLinkProblem = d.T("users.not_connected")
		return
	}
	d.SelfLinkable = true
	sl, err := p.selfLinks.SelfLinkOf(r.Context(), s.actor, t.ID, ext)
	if err != nil || sl.State != directory.SelfLinkPending {
		return // none, or ended: the flash of the poll said how
	}
	d.SelfLink = &selfLinkView{UserCode: sl.Prompt.UserCode, VerificationURL: sl.Prompt.VerificationURL,
		VerificationURLComplete: sl.Prompt.VerificationURLComplete, ExpiresAt: sl.Prompt.ExpiresAt,
		Every: max(sl.Prompt.Interval, minPollEvery).Milliseconds()}
}

// errNoSelfLinks: the server has no Zoho client to identify users with.
var errNoSelfLinks = fmt.Errorf("zoho is not configured on this server: %w", directory.ErrNotConnected)

// startSelfLink asks Zoho for a device code and goes back to the user's
// page, which shows it.
func (p *Portal) startSelfLink(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	err := errNoSelfLinks
	if p.selfLinks != nil {
		_, err = p.selfLinks.StartSelfLink(r.Context(), s.actor, tenant, ext)
	}
	if err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// pollSelfLink asks the service once where the self-service link stands;
// an outcome becomes the flash of the user's page. The script posts js=1
// and gets {"state": …} (reloading the page on any other state than
// pending); a plain form goes back to the page.
func (p *Portal) pollSelfLink(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	if p.selfLinks == nil {
		p.fail(w, r, s, to, errNoSelfLinks)
		return
	}
	js := r.PostForm.Get("js") == "1"
	sl, err := p.selfLinks.PollSelfLink(r.Context(), s.actor, tenant, ext)
	switch {
	case err != nil && (!js || errors.Is(err, directory.ErrForbidden) || errors.Is(err, directory.ErrUnauthorized)):
		p.fail(w, r, s, to, err)
		return
	case err != nil:
		// Not a redirect: the script's fetch would follow it and take the
		// flash the reload is to show.
		p.setFlash(w, flash{Kind: "error", Key: errorKey(err), Detail: err.Error()})
		sl.State = "error"
	default:
		if f, ended := selfLinkFlash(sl); ended {
			p.setFlash(w, f)
		}
	}
	if js {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			State directory.SelfLinkState `json:"state"`
		}{sl.State})
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// selfLinkFlash is the flash that tells how a self-service link ended.
func selfLinkFlash(sl directory.SelfLink) (flash, bool) {
	switch sl.State {
	case directory.SelfLinkLinked:
		return flash{Kind: "ok", Key: "user.selflink_linked_flash", Args: []string{sl.Extension, cmp.Or(sl.Email, sl.Name)}}, true
	case directory.SelfLinkDenied:
		return flash{Kind: "error", Key: "user.selflink_denied_flash"}, true
	case directory.SelfLinkExpired:
		return flash{Kind: "error", Key: "user.selflink_expired_flash"}, true
	case directory.SelfLinkFailed:
		return flash{Kind: "error", Key: "user.selflink_failed_flash", Detail: sl.Error}, true
	case directory.SelfLinkCancelled:
		return flash{Kind: "ok", Key: "user.selflink_cancelled_flash"}, true
	}
	return flash{}, false
}

// cancelSelfLink ends a pending self-service link.
func (p *Portal) cancelSelfLink(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	err := errNoSelfLinks
	if p.selfLinks != nil {
		err = p.selfLinks.CancelSelfLink(r.Context(), s.actor, tenant, ext)
	}
	if err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "user.selflink_cancelled_flash"})
}
