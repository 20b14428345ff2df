package zoho

import (
	"errors"
	"strings"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// pollIdentity polls until the flow is no longer pending, as a page
// polling every 20 ms would.
func (e *env) pollIdentity(h DeviceHandle) (Identity, DeviceHandle, error) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		id, next, err := e.c.PollIdentity(e.ctx, h)
		h = next
		if !errors.Is(err, ErrPending) {
			return id, h, err
		}
	}
	e.t.Fatal("the device flow is still pending after 10s")
	return Identity{}, h, nil
}

func TestIdentifyByDevice(t *testing.T) {
	cases := []struct {
		name     string
		simOpt   zohosim.Options
		tenant   string // "acme" is connected in the EU; "dev" is not connected
		opt      IdentifyOptions
		act      func(s *zohosim.Server, code string) error
		wantErr  error
		want     string // CRM user id
		wantLoc  string
		wantMore func(t *testing.T, e *env)
	}{
		{name: "approved as a user", tenant: "acme", want: "9002", wantLoc: "eu",
			act: func(s *zohosim.Server, c string) error { return s.ApproveDeviceAs(c, org, "ben@acme.example") },
			wantMore: func(t *testing.T, e *env) {
				if n := len(e.sim.Requests("POST /oauth/v2/token/revoke")); n != 0 {
					t.Errorf("%d revocations of a token Zoho did not hand out", n)
				}
			}},
		{name: "offline: the refresh token is revoked", tenant: "acme", opt: IdentifyOptions{Offline: true}, want: "9003", wantLoc: "eu",
			act: func(s *zohosim.Server, c string) error { return s.ApproveDeviceAs(c, org, "cleo@acme.example") },
			wantMore: func(t *testing.T, e *env) {
				if n := len(e.sim.Requests("POST /oauth/v2/token/revoke")); n != 1 {
					t.Errorf("%d revocations, want the refresh token revoked once", n)
				}
			}},
		{name: "other_dc", tenant: "dev", want: "9001", wantLoc: "eu",
			act: func(s *zohosim.Server, c string) error { return s.ApproveDeviceAs(c, org, "ana@acme.example") }},
		{name: "slow_down", tenant: "acme", simOpt: zohosim.Options{DeviceSlowDown: 2}, want: "9009", wantLoc: "eu",
			act: func(s *zohosim.Server, c string) error { return s.ApproveDeviceAs(c, org, "boss@acme.example") }},
		{name: "denied", tenant: "acme", act: func(s *zohosim.Server, c string) error { return s.DenyDevice(c) }, wantErr: ErrAccessDenied},
		{name: "expired", tenant: "acme", act: func(s *zohosim.Server, c string) error { s.ExpireDevice(c); return nil }, wantErr: ErrDeviceExpired},
		{name: "a token that may not read users", tenant: "acme", opt: IdentifyOptions{Scopes: []string{"ZohoCRM.modules.ALL"}},
			act:     func(s *zohosim.Server, c string) error { return s.ApproveDeviceAs(c, org, "ben@acme.example") },
			wantErr: ErrIdentify},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so := tc.simOpt
			so.DeviceInterval, so.DeviceExpiry = 100*time.Millisecond, 30*time.Second // 100: the least read as ms
			e := newEnv(t, envOpt{sim: so})
			e.st.putTenant(store.Tenant{ID: "dev"})
			before, _ := e.st.Tenant(e.ctx, tc.tenant)
			p, h, err := e.c.IdentifyByDevice(e.ctx, tc.tenant, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			dc := "eu"
			if tc.tenant == "dev" {
				dc = "us" // the configured accounts server
			}
			if p.UserCode == "" || p.VerificationURL != e.sim.AccountsURL(dc)+"/oauth/v3/device" || p.ExpiresIn != 30*time.Second {
				t.Errorf("prompt %+v", p)
			}
			req := e.sim.Requests("POST /oauth/v3/device/code")
			if len(req) != 1 || req[0].DC != dc {
				t.Fatalf("device code requests %+v", req)
			}
			wantScope := strings.Join(IdentifyScopes, ",")
			if len(tc.opt.Scopes) > 0 {
				wantScope = strings.Join(tc.opt.Scopes, ",")
			}
			wantAccess := map[bool]string{false: "online", true: "offline"}[tc.opt.Offline]
			if f := req[0].Form; f.Get("scope") != wantScope || f.Get("access_type") != wantAccess || f.Get("client_id") != e.sim.ClientID() {
				t.Errorf("device code request %v", f)
			}
			// Too early: no request at all.
			if _, _, err := e.c.PollIdentity(e.ctx, h); !errors.Is(err, ErrPending) {
				t.Fatalf("first poll: %v", err)
			}
			if n := len(e.sim.Requests("POST /oauth/v3/device/token")); n != 0 {
				t.Errorf("%d polls before the interval", n)
			}
			time.Sleep(110 * time.Millisecond)
			if _, h, err = e.c.PollIdentity(e.ctx, h); !errors.Is(err, ErrPending) {
				t.Fatalf("before approval: %v", err)
			}
			if err := tc.act(e.sim, p.UserCode); err != nil {
				t.Fatal(err)
			}
			id, h, err := e.pollIdentity(h)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := e.users[map[string]int{"9001": 0, "9002": 1, "9003": 2, "9009": 3}[tc.want]]
			if id.CRMUserID != tc.want || id.Email != u.Email || id.Name != u.Name || id.Location != tc.wantLoc {
				t.Errorf("identity %+v, want %s <%s> in %s", id, tc.want, u.Email, tc.wantLoc)
			}
			cu := e.sim.Requests("GET /crm/v8/users")
			if len(cu) != 1 || cu[0].Query.Get("type") != "CurrentUser" || cu[0].DC != "eu" {
				t.Errorf("users requests %+v", cu)
			}
			// The tenant's own connection is untouched: the user's token is
			// never stored.
			after, _ := e.st.Tenant(e.ctx, tc.tenant)
			if string(after.Zoho.RefreshToken) != string(before.Zoho.RefreshToken) || after.Zoho.Status != before.Zoho.Status {
				t.Errorf("the tenant's connection changed: %+v", after.Zoho)
			}
			if tc.name == "slow_down" && h.Step <= h.Interval {
				t.Errorf("step %v after slow_down, interval %v", h.Step, h.Interval)
			}
			if tc.wantMore != nil {
				tc.wantMore(t, e)
			}
		})
	}
}

// TestIdentifierForTheDirectory: the handle is sealed for its tenant, the
// outcomes are the directory's errors.
func TestIdentifierForTheDirectory(t *testing.T) {
	e := newEnv(t, envOpt{sim: zohosim.Options{DeviceInterval: 100 * time.Millisecond}})
	d := Identifier{Client: e.c}
	p, handle, err := d.StartIdentify(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if p.UserCode == "" || p.Interval != 100*time.Millisecond || time.Until(p.ExpiresAt) < 4*time.Minute {
		t.Errorf("prompt %+v", p)
	}
	if strings.Contains(handle, "1004.") {
		t.Error("the handle shows the device code")
	}
	if _, _, err := d.PollIdentify(e.ctx, "globex", handle); !errors.Is(err, directory.ErrZoho) {
		t.Errorf("another tenant's handle: %v", err)
	}
	if _, _, err := d.PollIdentify(e.ctx, "acme", handle[:len(handle)-2]); !errors.Is(err, directory.ErrZoho) {
		t.Errorf("a damaged handle: %v", err)
	}
	if _, next, err := d.PollIdentify(e.ctx, "acme", handle); !errors.Is(err, directory.ErrPending) || next != handle {
		t.Errorf("too early: %v (handle changed: %t)", err, next != handle)
	}
	if err := e.sim.ApproveDeviceAs(p.UserCode, org, "ana@acme.example"); err != nil {
		t.Fatal(err)
	}
	var id directory.Identity
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		id, handle, err = d.PollIdentify(e.ctx, "acme", handle)
		if !errors.Is(err, directory.ErrPending) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || id != (directory.Identity{CRMUserID: "9001", Email: "ana@acme.example", Name: "Ana"}) {
		t.Fatalf("%+v %v", id, err)
	}

	p, handle, _ = d.StartIdentify(e.ctx, "acme")
	_ = e.sim.DenyDevice(p.UserCode)
	time.Sleep(110 * time.Millisecond)
	if _, _, err := d.PollIdentify(e.ctx, "acme", handle); !errors.Is(err, directory.ErrDeviceDenied) {
		t.Errorf("denied: %v", err)
	}
	p, handle, _ = d.StartIdentify(e.ctx, "acme")
	e.sim.ExpireDevice(p.UserCode)
	time.Sleep(110 * time.Millisecond)
	if _, _, err := d.PollIdentify(e.ctx, "acme", handle); !errors.Is(err, directory.ErrDeviceExpired) {
		t.Errorf("expired: %v", err)
	}
}
