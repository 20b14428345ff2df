package zoho

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

func TestCipherRoundTripAndTenantBinding(t *testing.T) {
	c, err := NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Seal("acme", "1000.refresh.secret")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("refresh")) {
		t.Fatal("sealed token holds the plaintext")
	}
	if got, err := c.Open("acme", sealed); err != nil || got != "1000.refresh.secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := c.Open("globex", sealed); err == nil {
		t.Fatal("a token sealed for acme opened for globex")
	}
	other, _ := NewCipher(bytes.Repeat([]byte{2}, 32))
	if _, err := other.Open("acme", sealed); err == nil {
		t.Fatal("opened with the wrong key")
	}
	if _, err := NewCipher([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.st.putTenant(store.Tenant{ID: "globex"})
	e.sim.AddOrg("org-globex", "in", zohosim.User{ID: "1", ZohoUser: "p1", Email: "g@globex.example"})

	u, err := e.c.AuthCodeURL(e.ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	for k, want := range map[string]string{"access_type": "offline", "prompt": "consent", "response_type": "code",
		"client_id": e.sim.ClientID(), "redirect_uri": e.copts.RedirectURL} {
		if q.Get(k) != want {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !strings.Contains(q.Get("scope"), "ZohoCRM.modules.ALL,") || q.Get("state") == "" {
		t.Errorf("auth URL scope/state: %q / %q", q.Get("scope"), q.Get("state"))
	}
	srv := httptest.NewServer(e.c.CallbackHandler())
	defer srv.Close()
	get := func(redirect string) int {
		ru, _ := url.Parse(redirect)
		resp, err := http.Get(srv.URL + "/?" + ru.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The user consents in the India data centre.
	redirect := e.sim.Authorize("org-globex", q.Get("scope"), e.copts.RedirectURL, q.Get("state"))
	if code := get(redirect); code != 200 {
		t.Fatalf("callback = %d", code)
	}
	tn, _ := e.st.Tenant(e.ctx, "globex")
	z := tn.Zoho
	if z.Status != store.Connected || z.Location != "in" || z.AccountsURL != e.sim.AccountsURL("in") || z.APIDomain != e.sim.APIDomain("in") {
		t.Fatalf("connection = %+v", z)
	}
	if bytes.Contains(z.RefreshToken, []byte("1000.")) {
		t.Fatal("refresh token stored in the clear")
	}
	if _, err := e.c.CRMUsers(e.ctx, "globex"); err != nil {
		t.Fatalf("API call in the India DC: %v", err)
	}
	// Replaying the callback, or a forged state, is refused.
	if code := get(redirect); code != 400 {
		t.Errorf("replayed callback = %d, want 400", code)
	}
	if code := get(e.sim.Authorize("org-globex", "", e.copts.RedirectURL, "forged")); code != 400 {
		t.Errorf("forged state = %d, want 400", code)
	}
	// An accounts server that is not Zoho's never receives the secret.
	u2, _ := e.c.AuthCodeURL(e.ctx, "globex")
	st := mustQuery(u2).Get("state")
	evil := e.copts.RedirectURL + "?" + url.Values{"state": {st}, "code": {"x"}, "accounts-server": {"https://evil.example"}}.Encode()
	if code := get(evil); code != 400 {
		t.Errorf("foreign accounts server = %d, want 400", code)
	}
}

func mustQuery(u string) url.Values {
	p, _ := url.Parse(u)
	return p.Query()
}

func TestDeviceFlow(t *testing.T) {
	cases := []struct {
		name    string
		simOpt  zohosim.Options
		act     func(s *zohosim.Server, code string)
		wantErr error
		wantLoc string
	}{
		{name: "approved", act: func(s *zohosim.Server, c string) { _ = s.ApproveDevice(c, "org-us") }, wantLoc: "us"},
		{name: "other_dc", act: func(s *zohosim.Server, c string) { _ = s.ApproveDevice(c, org) }, wantLoc: "eu"},
		{name: "slow_down", simOpt: zohosim.Options{DeviceSlowDown: 2}, act: func(s *zohosim.Server, c string) { _ = s.ApproveDevice(c, "org-us") }, wantLoc: "us"},
		{name: "access_denied", act: func(s *zohosim.Server, c string) { _ = s.DenyDevice(c) }, wantErr: ErrAccessDenied},
		{name: "expired", act: func(s *zohosim.Server, c string) { s.ExpireDevice(c) }, wantErr: ErrDeviceExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so := tc.simOpt
			so.DeviceInterval, so.DeviceExpiry = 100*time.Millisecond, 30*time.Second
			e := newEnv(t, envOpt{sim: so})
			e.sim.AddOrg("org-us", "us", zohosim.User{ID: "5", ZohoUser: "p5", Email: "u@us.example"})
			e.st.putTenant(store.Tenant{ID: "dev"})
			var pending int
			err := e.c.ConnectDevice(e.ctx, "dev", func(p DevicePrompt) {
				if p.UserCode == "" || !strings.HasPrefix(p.VerificationURL, e.sim.AccountsURL("us")) || p.ExpiresIn != 30*time.Second {
					t.Errorf("prompt = %+v", p)
				}
				go func() { // the user takes a moment
					time.Sleep(250 * time.Millisecond)
					pending = len(e.sim.Requests("POST /oauth/v3/device/token"))
					tc.act(e.sim, p.UserCode)
				}()
			})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				t.Error("no authorization_pending poll before approval")
			}
			tn, _ := e.st.Tenant(e.ctx, "dev")
			if tn.Zoho.Status != store.Connected || tn.Zoho.Location != tc.wantLoc || tn.Zoho.APIDomain != e.sim.APIDomain(tc.wantLoc) {
				t.Fatalf("connection = %+v", tn.Zoho)
			}
			if tc.name == "slow_down" {
				if n := len(e.sim.Requests("POST /oauth/v3/device/token")); n < 3 {
					t.Errorf("%d polls; slow_down answers should have been followed by more", n)
				}
			}
		})
	}
}

func TestSelfClientImportAndBadToken(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.st.putTenant(store.Tenant{ID: "x"})
	if err := e.c.ImportRefreshToken(e.ctx, "x", "1000.not.valid", e.sim.AccountsURL("eu")); err == nil {
		t.Fatal("an unknown refresh token was imported")
	}
	tn, _ := e.st.Tenant(e.ctx, "acme")
	if tn.Zoho.Status != store.Connected || tn.Zoho.Location != "eu" {
		t.Fatalf("imported connection = %+v", tn.Zoho)
	}
	st, err := e.c.Status(e.ctx, "acme")
	if err != nil || st.Status != store.Connected || !st.TokenValid {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if err := e.c.Disconnect(e.ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if len(e.sim.Requests("POST /oauth/v2/token/revoke")) != 1 {
		t.Error("disconnect did not revoke the token at Zoho")
	}
	if _, err := e.c.CRMUsers(e.ctx, "acme"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("after disconnect: %v", err)
	}
}

func TestRefreshSingleFlight(t *testing.T) {
	e := newEnv(t, envOpt{})
	run := func(c *Client) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				if _, err := c.CRMUsers(e.ctx, "acme"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	// A fresh client (a restart): 50 callers, one refresh.
	o := e.copts
	o.Registerer = nil
	run(mustClient(t, o))
	if n := len(e.sim.Requests("POST /oauth/v2/token")); n != 1 {
		t.Errorf("fresh client: %d refreshes, want 1", n)
	}
	// Zoho expires every token early: 50 callers get INVALID_TOKEN, one
	// refresh, every call retried once and succeeds.
	e.sim.ResetRequests()
	run(e.c)
	e.sim.ResetRequests()
	e.sim.ExpireTokens()
	run(e.c)
	if n := len(e.sim.Requests("POST /oauth/v2/token")); n != 1 {
		t.Errorf("INVALID_TOKEN: %d refreshes, want 1", n)
	}
	if n := len(e.sim.Requests("GET /crm/v8/users")); n > 100 {
		t.Errorf("%d user requests for 50 callers: more than one retry each", n)
	}
	// Ahead of expiry: a token within RefreshAhead of its end is renewed
	// before use.
	var offset atomic.Int64
	o = e.copts
	o.Registerer = nil
	o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	c := mustClient(t, o)
	run(c)
	offset.Store(int64(56 * time.Minute))
	e.sim.ResetRequests()
	run(c)
	run(c)
	if n := len(e.sim.Requests("POST /oauth/v2/token")); n != 1 {
		t.Errorf("token 2 minutes from expiry: %d refreshes, want 1 (refresh ahead)", n)
	}
}

func TestRevokedTokenPausesEventsUntilReconnected(t *testing.T) {
	e := newEnv(t, envOpt{})
	evs := script(callInbound("+4930111111", "1001"))
	e.sim.RevokeOrgTokens(org)
	var last error
	for _, ev := range evs {
		if err := e.sink.Handle(e.ctx, ev); err != nil {
			last = err
		}
	}
	if !errors.Is(last, ErrDisconnected) || fault.IsPermanent(last) || fault.RetryAfter(last) != e.copts.PausedRetry {
		t.Fatalf("event of a revoked tenant: %v (retry after %v)", last, fault.RetryAfter(last))
	}
	if p := e.c.Problems(); len(p) != 1 || !strings.HasPrefix(p[0], "acme: ") || e.c.Ready() == nil {
		t.Fatalf("Problems = %v", p)
	}
	tn, _ := e.st.Tenant(e.ctx, "acme")
	if tn.Zoho.Status != store.Revoked || tn.Zoho.LastError == "" {
		t.Fatalf("stored connection = %+v", tn.Zoho)
	}
	if !strings.Contains(e.logs.String(), "zoho connection lost") {
		t.Error("no loud log")
	}
	if n := len(e.sim.Records(org, "Calls")); n != 0 {
		t.Fatalf("%d records while revoked", n)
	}
	// The admin reconnects; the kept event goes through.
	if err := e.c.ImportRefreshToken(e.ctx, "acme", e.sim.SelfClientToken(org, ""), e.sim.AccountsURL("eu")); err != nil {
		t.Fatal(err)
	}
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	if n := len(e.sim.Records(org, "Calls")); n != 1 {
		t.Fatalf("%d records after reconnecting, want 1", n)
	}
	if p := e.c.Problems(); len(p) != 0 {
		t.Fatalf("Problems after reconnecting = %v", p)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.sim.RevokeOrgTokens(org)
	_, _ = e.c.CRMUsers(e.ctx, "acme")
	rt := e.sim.SelfClientToken(org, "")
	_ = e.c.ImportRefreshToken(e.ctx, "acme", rt, e.sim.AccountsURL("eu"))
	_ = e.c.ImportRefreshToken(e.ctx, "acme", "1000.bogus.token", e.sim.AccountsURL("eu"))
	_, _ = e.c.CRMUsers(e.ctx, "acme")
	logs := e.logs.String()
	if logs == "" {
		t.Fatal("nothing logged")
	}
	for _, secret := range []string{rt, e.sim.ClientSecret(), "1000.bogus.token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret reached the log: %s", secret)
		}
	}
	for _, r := range e.sim.Requests("") {
		if a := r.Header.Get("Authorization"); a != "" && strings.Contains(logs, strings.TrimPrefix(a, "Zoho-oauthtoken ")) {
			t.Error("an access token reached the log")
		}
	}
}
