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

// TestDeviceSteps drives the device flow's shared steps (requestDeviceCode,
// pollDeviceToken) one at a time against the simulator: slow_down,
// pending, other_dc to the user's data centre, the token there, denied,
// expired and an unknown code.
func TestDeviceSteps(t *testing.T) {
	e := newEnv(t, envOpt{sim: zohosim.Options{DeviceInterval: 100 * time.Millisecond, DeviceExpiry: 30 * time.Second, DeviceSlowDown: 1}})
	us := e.sim.AccountsURL("us")
	request := func() deviceCode {
		t.Helper()
		dc, err := e.c.requestDeviceCode(e.ctx, us, []string{"ZohoCRM.users.READ", "PhoneBridge.call.log"}, "offline")
		if err != nil {
			t.Fatal(err)
		}
		return dc
	}
	poll := func(accounts, code string, want deviceStatus) deviceOutcome {
		t.Helper()
		o, err := e.c.pollDeviceToken(e.ctx, accounts, code)
		if err != nil || o.Status != want {
			t.Fatalf("poll: %+v, %v; want status %d", o, err, want)
		}
		return o
	}

	dc := request()
	p := dc.Prompt
	if dc.Code == "" || dc.Interval != 100*time.Millisecond || p.ExpiresIn != 30*time.Second || p.UserCode == "" ||
		p.VerificationURL != us+"/oauth/v3/device" || p.VerificationURLComplete != us+"/oauth/v3/device?code="+p.UserCode {
		t.Errorf("device code %+v", dc)
	}
	if req := e.sim.Requests("POST /oauth/v3/device/code"); len(req) != 1 || req[0].Form.Get("scope") != "ZohoCRM.users.READ,PhoneBridge.call.log" ||
		req[0].Form.Get("access_type") != "offline" || req[0].Form.Get("prompt") != "consent" {
		t.Errorf("device code requests %+v", req)
	}
	poll(us, dc.Code, deviceSlowDown)
	time.Sleep(dc.Interval)
	poll(us, dc.Code, devicePending)
	if err := e.sim.ApproveDevice(p.UserCode, org); err != nil {
		t.Fatal(err)
	}
	time.Sleep(dc.Interval)
	o := poll(us, dc.Code, deviceMoved)
	if o.Accounts != e.sim.AccountsURL("eu") || o.Location != "eu" {
		t.Fatalf("moved to %q (%q), want the EU", o.Accounts, o.Location)
	}
	time.Sleep(dc.Interval)
	o = poll(o.Accounts, dc.Code, deviceApproved)
	if o.Token.AccessToken == "" || o.Token.RefreshToken == "" || apiDomain(o.Token, "", "") != e.sim.APIDomain("eu") {
		t.Errorf("token %+v, api_domain %q", o.Token, apiDomain(o.Token, "", ""))
	}

	// An accounts server failing (5xx, 429) is no answer: poll again.
	dc = request()
	for _, status := range []int{503, 429} {
		e.sim.Inject(zohosim.Fault{Match: "POST /oauth/v3/device/token", Count: 1, Status: status})
		if o, err := e.c.pollDeviceToken(e.ctx, us, dc.Code); err == nil {
			t.Errorf("HTTP %d from the token endpoint: outcome %+v, want an error (poll again)", status, o)
		}
	}
	time.Sleep(dc.Interval)
	poll(us, dc.Code, devicePending)
	_ = e.sim.DenyDevice(dc.Prompt.UserCode)
	poll(us, dc.Code, deviceDenied)
	dc = request()
	e.sim.ExpireDevice(dc.Prompt.UserCode)
	poll(us, dc.Code, deviceExpired)
	if o := poll(us, "1004.unknown", deviceRefused); o.Reason != "invalid_code" {
		t.Errorf("reason %q", o.Reason)
	}
}

// TestDeviceStepsOffTheSimulator: answers the simulator does not give.
func TestDeviceStepsOffTheSimulator(t *testing.T) {
	e := newEnv(t, envOpt{})
	var answer atomic.Value // the JSON the fake accounts server answers
	var revoked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/serverinfo":
			http.Error(w, "no", http.StatusNotFound)
			return
		case "/oauth/v2/token/revoke":
			revoked.Add(1)
			return
		}
		_, _ = w.Write([]byte(answer.Load().(string)))
	}))
	t.Cleanup(srv.Close)

	// RFC 8628 spelling, seconds (under 100), a number as a string.
	answer.Store(`{"device_code":"d","user_code":"U","verification_uri":"https://accounts.example/device","interval":5,"expires_in":"90"}`)
	dc, err := e.c.requestDeviceCode(e.ctx, srv.URL, IdentifyScopes, "online")
	if err != nil || dc.Interval != 5*time.Second || dc.Prompt.ExpiresIn != 90*time.Second ||
		dc.Prompt.VerificationURL != "https://accounts.example/device" {
		t.Errorf("device code %+v, %v", dc, err)
	}
	for body, want := range map[string]string{
		`{"error":"invalid_client"}`: "zoho: device code: invalid_client",
		`{"user_code":"U"}`:          "zoho: device code: no device_code in the answer",
		`not json`:                   "zoho: device code: HTTP 200",
	} {
		answer.Store(body)
		if _, err := e.c.requestDeviceCode(e.ctx, srv.URL, IdentifyScopes, "online"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}

	cases := []struct {
		body   string
		want   deviceOutcome
		hasTok bool
	}{
		{body: `{"error":"expired_token"}`, want: deviceOutcome{Status: deviceExpired}},
		{body: `{"error":"other_dc","user_location":"jp"}`, want: deviceOutcome{Status: deviceMoved, Accounts: knownAccounts["jp"], Location: "jp"}},
		{body: `{"error":"other_dc","user_location":"mars"}`, want: deviceOutcome{Status: deviceRefused, Reason: `the user lives in unknown data centre "mars"`}},
		{body: `{"error":"invalid_client"}`, want: deviceOutcome{Status: deviceRefused, Reason: "invalid_client"}},
		{body: `{"refresh_token":"r"}`, want: deviceOutcome{Status: deviceRefused, Reason: "no access_token in the answer"}, hasTok: true},
	}
	for _, tc := range cases {
		answer.Store(tc.body)
		o, err := e.c.pollDeviceToken(e.ctx, srv.URL, "d")
		tok := o.Token
		o.Token = nil
		if err != nil || o != tc.want || (tok != nil) != tc.hasTok {
			t.Errorf("%s: %+v (token %v), %v; want %+v", tc.body, o, tok, err, tc.want)
		}
	}
	answer.Store(`not json`)
	if _, err := e.c.pollDeviceToken(e.ctx, srv.URL, "d"); err == nil {
		t.Error("no error for an answer that is not JSON")
	}

	// Identifying: a refresh token without an access token is still revoked.
	answer.Store(`{"refresh_token":"r"}`)
	h := DeviceHandle{DeviceCode: "d", Accounts: srv.URL, Interval: time.Second, Step: time.Second, ExpiresAt: time.Now().Add(time.Minute)}
	if _, _, err := e.c.PollIdentity(e.ctx, h); !errors.Is(err, ErrIdentify) || revoked.Load() != 1 {
		t.Errorf("err = %v, %d revocations; want ErrIdentify and one", err, revoked.Load())
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
