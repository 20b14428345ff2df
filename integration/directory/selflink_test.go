package directory_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/adapters/zoho"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

var selfLinkAdmin = directory.Actor{Username: "adam", Role: store.RoleAdmin, Tenant: "acme", Via: directory.ViaPortal}

// TestSelfLinkApprovedLinksWhoApproved: an admin starts a self-service
// link of extension 1001 (PhoneBridge mode); Zoho says the code is not
// approved yet; Ben approves at Zoho's verification page; the next poll
// links 1001 to Ben, registered at Zoho, audited as a self-service link.
// Polling again answers the outcome without asking Zoho; a linked
// extension gets no new self-service link.
func TestSelfLinkApprovedLinksWhoApproved(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newLinkWorld(t, st, store.ModePhoneBridge, linkOpts{})
		sl, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001")
		if err != nil {
			t.Fatal(err)
		}
		codes := w.sim.DeviceUserCodes()
		if sl.State != directory.SelfLinkPending || len(codes) != 1 || sl.Prompt.UserCode != codes[0] || sl.StartedBy != "adam" ||
			!strings.HasPrefix(sl.Prompt.VerificationURL, w.sim.AccountsURL("eu")) || !sl.Prompt.ExpiresAt.Equal(w.clock.Now().Add(5*time.Minute)) {
			t.Fatalf("started %+v; Zoho issued %v", sl, codes)
		}
		code := sl.Prompt.UserCode
		w.tick()
		if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkPending || w.devicePolls() != 1 {
			t.Fatalf("first poll: %+v %v (%d polls at Zoho)", sl, err, w.devicePolls())
		}
		if err := w.sim.ApproveDeviceAs(code, acmeOrg, "ben@acme.example"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkLinked || sl.Email != "ben@acme.example" {
			t.Fatalf("after approval: %+v %v", sl, err)
		}
		l, err := w.st.LinkByExtension(ctx, "acme", "1001")
		if err != nil || l.ZohoUser != "pb-2" || l.CRMUser != "9002" || !l.Switches.Notifications || !l.Switches.ClickToCall {
			t.Fatalf("link %+v %v", l, err)
		}
		if reg := w.registered(); !slices.Equal(reg, []string{"pb-2"}) {
			t.Errorf("registered at Zoho: %v", reg)
		}
		links := w.audit("user.link")
		if len(links) != 1 || links[0].Actor != "adam" || links[0].Error != "" ||
			!strings.Contains(links[0].Detail, "self-service link by device code "+code) || !strings.Contains(links[0].Detail, "Ben <ben@acme.example>") {
			t.Errorf("audit of the link: %+v", links)
		}
		if len(w.audit("user.selflink.start")) != 1 {
			t.Error("the start is not audited")
		}
		// An ended flow answers as it ended, without asking Zoho again.
		polls := w.devicePolls()
		w.tick()
		if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkLinked || w.devicePolls() != polls {
			t.Errorf("polled after the end: %+v %v (%d polls)", sl, err, w.devicePolls()-polls)
		}
		// The extension is linked now: no new self-service link.
		if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("starting on a linked extension: %v", err)
		}
		if n := w.deviceCodes(); n != 1 {
			t.Errorf("%d device codes requested, want none for the refused start", n)
		}
	})
}

// TestSelfLinkMatchesTheApproverCaseInsensitively: Zoho answers who
// approved for another org Ben belongs to, under his CRM user id and with
// his address spelt Ben@acme.example: the same CRM user id and the same
// address, compared without case, make him the org's Ben, and the link
// carries the org's spelling while the audit says what Zoho answered.
func TestSelfLinkMatchesTheApproverCaseInsensitively(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newLinkWorld(t, st, store.ModePhoneBridge, linkOpts{})
		sl, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.sim.ApproveDeviceAs(sl.Prompt.UserCode, otherOrg, "Ben@acme.example"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkLinked || sl.Email != "ben@acme.example" {
			t.Fatalf("after approval: %+v %v", sl, err)
		}
		if l, err := w.st.LinkByExtension(ctx, "acme", "1001"); err != nil || l.ZohoUser != "pb-2" || l.Email != "ben@acme.example" {
			t.Fatalf("link %+v %v", l, err)
		}
		if reg := w.registered(); !slices.Equal(reg, []string{"pb-2"}) {
			t.Errorf("registered at Zoho: %v", reg)
		}
		if links := w.audit("user.link"); len(links) != 1 || !strings.Contains(links[0].Detail, "Ben <Ben@acme.example>") {
			t.Errorf("audit of the link: %+v", links)
		}
	})
}

// TestSelfLinkOutcomesThatLinkNothing: a denied code, an expired one, an
// approver who is not a user of the tenant's org (another org's user with
// one of its CRM user ids, with or without one of its addresses), Zoho
// refusing the registration, and Zoho refusing to say who approved each end
// the flow unlinked, saying why in the outcome and the audit log; a new
// start then gives a new code.
func TestSelfLinkOutcomesThatLinkNothing(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		o    linkOpts
		// outcome plays what happens at Zoho once the code is issued.
		outcome func(w *linkWorld, code string) error
		state   directory.SelfLinkState
		says    string
	}{
		{"denied", linkOpts{}, func(w *linkWorld, code string) error { return w.sim.DenyDevice(code) },
			directory.SelfLinkDenied, "denied"},
		{"expired", linkOpts{}, func(w *linkWorld, code string) error { w.sim.ExpireDevice(code); return nil },
			directory.SelfLinkExpired, "expired"},
		{"a user of another org", linkOpts{}, func(w *linkWorld, code string) error {
			return w.sim.ApproveDeviceAs(code, evilOrg, "eve@evil.example") // CRM user id 9002 there
		}, directory.SelfLinkFailed, "not a user of the Zoho org"},
		{"same id, other email", linkOpts{}, func(w *linkWorld, code string) error {
			return w.sim.ApproveDeviceAs(code, evilOrg, "mallory@acme.example") // CRM user id 9001 there
		}, directory.SelfLinkFailed, "not a user of the Zoho org"},
		{"Zoho refuses the registration", linkOpts{}, func(w *linkWorld, code string) error {
			w.sim.Inject(zohosim.Fault{Match: "POST /phonebridge/v3/clicktodial", Form: url.Values{"zohouser": {"pb-3"}}, Count: 1, Status: 400})
			return w.sim.ApproveDeviceAs(code, acmeOrg, "cleo@acme.example")
		}, directory.SelfLinkFailed, "HTTP 400"},
		{"who approved cannot be read", linkOpts{identify: zoho.IdentifyOptions{Scopes: []string{"ZohoCRM.modules.READ"}}},
			func(w *linkWorld, code string) error { return w.sim.ApproveDeviceAs(code, acmeOrg, "ben@acme.example") },
			directory.SelfLinkFailed, "OAUTH_SCOPE_MISMATCH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, st store.Store) {
				w := newLinkWorld(t, st, store.ModePhoneBridge, c.o)
				first, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001")
				if err != nil {
					t.Fatal(err)
				}
				if err := c.outcome(w, first.Prompt.UserCode); err != nil {
					t.Fatal(err)
				}
				w.tick()
				sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001")
				if err != nil || sl.State != c.state {
					t.Fatalf("%+v %v, want %s", sl, err, c.state)
				}
				if _, err := w.st.LinkByExtension(ctx, "acme", "1001"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("linked: %v", err)
				}
				if reg := w.registered(); len(reg) != 0 {
					t.Errorf("registered at Zoho: %v", reg)
				}
				var said string
				for _, e := range auditLog(t, w.st, "acme") {
					if e.Target == "1001" && e.Error != "" {
						said += e.Action + ": " + e.Error + "\n"
					}
				}
				if !strings.Contains(said, c.says) {
					t.Errorf("the audit log says %q, want %q", said, c.says)
				}
				if c.state == directory.SelfLinkFailed && !strings.Contains(sl.Error, c.says) {
					t.Errorf("the outcome says %q", sl.Error)
				}
				// A new start gives a new code.
				if sl, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkPending ||
					sl.Prompt.UserCode == first.Prompt.UserCode || w.deviceCodes() != 2 {
					t.Errorf("started again: %+v %v (first code %s)", sl, err, first.Prompt.UserCode)
				}
			})
		})
	}
}

// TestSelfLinkPassingTroubleKeepsPollingUntilTheCodeExpires: Zoho does
// not answer a poll (REST mode): the flow stays pending; when it still
// does not answer while the code expires, the flow ends expired and the
// audit log says what the last poll got.
func TestSelfLinkPassingTroubleKeepsPollingUntilTheCodeExpires(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newLinkWorld(t, st, store.ModeREST, linkOpts{timeout: time.Second})
		if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1002"); err != nil {
			t.Fatal(err)
		}
		w.sim.Inject(zohosim.Fault{Match: "POST /oauth/v3/device/token", Count: 2, Hang: true})
		w.tick()
		if sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1002"); err != nil || sl.State != directory.SelfLinkPending || w.devicePolls() != 1 {
			t.Fatalf("after a passing failure: %+v %v (%d polls at Zoho)", sl, err, w.devicePolls())
		}
		// The next poll hangs too, and the code expires while it waits.
		w.tick()
		type polled struct {
			sl  directory.SelfLink
			err error
		}
		done := make(chan polled, 1)
		go func() {
			sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1002")
			done <- polled{sl, err}
		}()
		eventually(t, "the second poll to reach Zoho", func() bool { return w.devicePolls() == 2 })
		w.clock.Add(6 * time.Minute)
		p := <-done
		if p.err != nil || p.sl.State != directory.SelfLinkExpired {
			t.Fatalf("failing past the expiry: %+v %v", p.sl, p.err)
		}
		if e := w.audit("user.selflink"); len(e) != 1 || !strings.Contains(e[0].Error, "expired") ||
			!strings.Contains(e[0].Error, "last answer") || !strings.Contains(e[0].Error, "device token") {
			t.Errorf("audit: %+v", e)
		}
		if _, err := w.st.LinkByExtension(ctx, "acme", "1002"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("linked: %v", err)
		}
	})
}

// TestSelfLinkRefusals: another tenant's admin, a tenant not connected and
// an unknown extension are refused without asking Zoho for a code, and
// audited; polling what was never started is not found; another tenant's
// admin may not poll; a cancelled flow answers cancelled and cannot be
// cancelled twice; Zoho was never asked whether a code was approved.
func TestSelfLinkRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newLinkWorld(t, st, store.ModeREST, linkOpts{})
		globexAdmin := directory.Actor{Username: "gil", Role: store.RoleAdmin, Tenant: "globex", Via: directory.ViaPortal}
		op := directory.Actor{Username: "olga", Role: store.RoleOperator, Via: directory.ViaPortal}
		for _, c := range []struct {
			name       string
			a          directory.Actor
			tenant, ex string
			want       error
		}{
			{"another tenant's admin", globexAdmin, "acme", "1001", directory.ErrForbidden},
			{"a tenant not connected", op, "globex", "2001", directory.ErrNotConnected},
			{"an unknown extension", op, "acme", "9999", store.ErrNotFound},
		} {
			if _, err := w.links.StartSelfLink(ctx, c.a, c.tenant, c.ex); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		if n := w.deviceCodes(); n != 0 {
			t.Errorf("%d device codes requested for refused starts", n)
		}
		var refused int
		for _, e := range auditLog(t, w.st, "") {
			if e.Action == "user.selflink.start" && e.Error != "" {
				refused++
			}
		}
		if refused != 3 {
			t.Errorf("%d refused starts audited, want 3", refused)
		}
		if _, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("polling what was never started: %v", err)
		}
		if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		if _, err := w.links.PollSelfLink(ctx, globexAdmin, "acme", "1001"); !errors.Is(err, directory.ErrForbidden) {
			t.Errorf("another tenant's admin polls: %v", err)
		}
		if err := w.links.CancelSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
			t.Fatal(err)
		}
		if sl, err := w.links.SelfLinkOf(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkCancelled {
			t.Errorf("after cancel: %+v %v", sl, err)
		}
		if sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkCancelled {
			t.Errorf("polling a cancelled one: %+v %v", sl, err)
		}
		if err := w.links.CancelSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("cancelling twice: %v", err)
		}
		if n := w.devicePolls(); n != 0 {
			t.Errorf("%d polls at Zoho", n)
		}
	})
}

// TestSelfLinkOnePollAtATime: while one node is asking Zoho about a flow
// (its poll hangs), another node polling the same flow answers it pending
// at once without asking Zoho; once the first poll ended, the other node
// asks.
func TestSelfLinkOnePollAtATime(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newLinkWorld(t, st, store.ModeREST, linkOpts{timeout: time.Second})
		_, _, other := w.node()
		if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
			t.Fatal(err)
		}
		w.sim.Inject(zohosim.Fault{Match: "POST /oauth/v3/device/token", Count: 1, Hang: true})
		w.tick()
		done := make(chan error, 1)
		go func() {
			_, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001")
			done <- err
		}()
		eventually(t, "the first node's poll to reach Zoho", func() bool { return w.devicePolls() == 1 })
		if sl, err := other.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkPending || w.devicePolls() != 1 {
			t.Errorf("the other node's poll meanwhile: %+v %v, %d polls at Zoho", sl, err, w.devicePolls())
		}
		if err := <-done; err != nil {
			t.Fatalf("the first node's poll: %v", err)
		}
		if sl, err := other.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != directory.SelfLinkPending || w.devicePolls() != 2 {
			t.Errorf("the other node's poll afterwards: %+v %v, %d polls at Zoho", sl, err, w.devicePolls())
		}
	})
}
