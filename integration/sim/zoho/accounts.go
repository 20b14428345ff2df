package zohosim

import (
	"html"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// accounts serves the accounts server of data centre dc (spec §5).
func (s *Server) accounts(dc, path string, r *http.Request, rec Request) response {
	p := rec.Form
	if p == nil {
		p = url.Values{}
	}
	for k, v := range rec.Query { // parameters may come in the query string
		if p.Get(k) == "" {
			p[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case path == "/oauth/serverinfo" && r.Method == http.MethodGet:
		locs := map[string]string{}
		for _, d := range []string{"us", "eu", "in", "au", "jp", "ca", "cn", "sa"} {
			locs[d] = s.AccountsURL(d)
		}
		return ok(map[string]any{"result": "success", "locations": locs})
	case path == "/oauth/v2/auth" && r.Method == http.MethodGet:
		// The consent page (spec §5.2 step 1): one Accept button per org,
		// playing an admin of that org signed in at Zoho, and Reject. Tests
		// without a browser call Authorize instead.
		return s.consentPage(p)
	case path == "/oauth/v2/auth" && r.Method == http.MethodPost:
		return s.consent(p)
	case path == "/oauth/v2/token" && r.Method == http.MethodPost:
		return s.tokenGrant(dc, p)
	case path == "/oauth/v2/token/revoke" && r.Method == http.MethodPost:
		if g := s.refresh[p.Get("token")]; g != nil {
			g.revoked = true
			for _, a := range s.access {
				if a.org == g.org {
					a.revoked = true
				}
			}
		}
		return ok(map[string]any{"status": "success"})
	case path == "/oauth/v3/device/code" && r.Method == http.MethodPost:
		return s.deviceCode(dc, p)
	case path == "/oauth/v3/device/token" && r.Method == http.MethodPost:
		return s.deviceToken(dc, p)
	case path == "/oauth/v3/device" && r.Method == http.MethodGet:
		// The verification page (spec §5.6 step 2): the code, and one
		// Approve button per user of every org, playing that user signed
		// in at Zoho, and Deny. Tests without a browser call
		// ApproveDeviceAs or DenyDevice instead.
		return s.verificationPage(p.Get("code"))
	case path == "/oauth/v3/device" && r.Method == http.MethodPost:
		return s.verify(p)
	}
	return response{status: 404, body: map[string]any{"error": "invalid_url"}}
}

// oauthErr is the accounts server's error answer: HTTP 200 with an error
// key (spec §5.4).
func oauthErr(code string) response { return ok(map[string]any{"error": code}) }

func (s *Server) clientOK(p url.Values, secret bool) (response, bool) {
	if p.Get("client_id") != s.o.ClientID {
		return oauthErr("invalid_client"), false
	}
	if secret && p.Get("client_secret") != s.o.ClientSecret {
		return oauthErr("invalid_client_secret"), false
	}
	return response{}, true
}

func (s *Server) tokenGrant(dc string, p url.Values) response {
	if e, good := s.clientOK(p, true); !good {
		return e
	}
	now := s.now()
	switch p.Get("grant_type") {
	case "authorization_code":
		g := s.codes[p.Get("code")]
		if g == nil || g.used || now.After(g.expires) || g.dc != dc {
			return oauthErr("invalid_code")
		}
		if g.redirect != "" && p.Get("redirect_uri") != g.redirect {
			return oauthErr("invalid_redirect_uri")
		}
		g.used = true
		rt := "1000." + s.token()
		s.refresh[rt] = &grant{org: g.org, dc: g.dc, scopes: g.scopes, user: g.user}
		at := s.issue(g.org, g.dc, g.scopes, g.user)
		return ok(map[string]any{"access_token": at, "refresh_token": rt, "api_domain": s.APIDomain(g.dc),
			"token_type": "Bearer", "expires_in": int(s.o.TokenTTL / time.Second), "scope": g.scopes})
	case "refresh_token":
		g := s.refresh[p.Get("refresh_token")]
		if g == nil || g.revoked || g.dc != dc {
			return oauthErr("invalid_code")
		}
		if s.o.RefreshLimit > 0 {
			var recent []time.Time
			for _, t := range g.refresh {
				if now.Sub(t) < 10*time.Minute {
					recent = append(recent, t)
				}
			}
			g.refresh = recent
			if len(recent) >= s.o.RefreshLimit {
				return ok(map[string]any{"error": "Access Denied", "error_description": "You have made too many requests continuously. Please try again after some time."})
			}
		}
		g.refresh = append(g.refresh, now)
		at := s.issue(g.org, g.dc, g.scopes, g.user)
		return ok(map[string]any{"access_token": at, "api_domain": s.APIDomain(g.dc), "token_type": "Bearer",
			"expires_in": int(s.o.TokenTTL / time.Second), "scope": g.scopes})
	}
	return oauthErr("unsupported_grant_type")
}

// issue creates an access token of user (a CRM user id; empty: the org's
// first admin). Caller holds s.mu.
func (s *Server) issue(org, dc, scopes, user string) string {
	at := "1000." + s.token()
	s.access[at] = &access{org: org, dc: dc, user: user, scopes: scopes, expires: s.now().Add(s.o.TokenTTL)}
	return at
}

func (s *Server) deviceCode(dc string, p url.Values) response {
	if e, good := s.clientOK(p, false); !good {
		return e
	}
	if p.Get("grant_type") != "device_request" {
		return oauthErr("unsupported_grant_type")
	}
	s.seq++
	d := &device{code: "1004." + s.token(), user: "SIM-" + pad4(s.seq), dc: dc, scopes: p.Get("scope"),
		offline: p.Get("access_type") == "offline", expires: s.now().Add(s.o.DeviceExpiry), interval: s.o.DeviceInterval}
	s.devices[d.code] = d
	s.byUser[d.user] = d
	return ok(map[string]any{
		"user_code": d.user, "device_code": d.code,
		"verification_url":          s.AccountsURL(dc) + "/oauth/v3/device",
		"verification_uri_complete": s.AccountsURL(dc) + "/oauth/v3/device?code=" + d.user,
		"interval":                  s.o.DeviceInterval.Milliseconds(),
		"expires_in":                s.o.DeviceExpiry.Milliseconds(),
	})
}

func pad4(n int) string {
	b := []byte("0000")
	for i := 3; i >= 0 && n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

// deviceToken answers a poll (spec §5.6). A device code lives in the data
// centre it was requested from; the user's org may live in another one,
// and then the poll answers other_dc until the client polls there.
func (s *Server) deviceToken(dc string, p url.Values) response {
	if e, good := s.clientOK(p, true); !good {
		return e
	}
	if p.Get("grant_type") != "device_token" {
		return oauthErr("unsupported_grant_type")
	}
	d := s.devices[p.Get("code")]
	if d == nil {
		return oauthErr("invalid_code")
	}
	now := s.now()
	switch {
	case now.After(d.expires):
		return oauthErr("expired")
	case d.denied:
		return oauthErr("access_denied")
	}
	if s.slowed < s.o.DeviceSlowDown {
		s.slowed++
		d.lastPoll = now
		return oauthErr("slow_down")
	}
	if !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < d.interval*9/10 {
		d.lastPoll = now
		return oauthErr("slow_down")
	}
	d.lastPoll = now
	if d.org == "" {
		return oauthErr("authorization_pending")
	}
	o := s.orgs[d.org]
	if o.DC != dc {
		return ok(map[string]any{"error": "other_dc", "user_location": o.DC})
	}
	delete(s.devices, d.code)
	delete(s.byUser, d.user)
	at := s.issue(o.ID, o.DC, d.scopes, d.approver)
	tok := map[string]any{"access_token": at, "api_domain": s.APIDomain(o.DC), "token_type": "Bearer",
		"expires_in": int(s.o.TokenTTL / time.Second)}
	if d.offline { // as in the authorization-code flow, only offline access gets a refresh token (spec §5.2)
		rt := "1000." + s.token()
		s.refresh[rt] = &grant{org: o.ID, dc: o.DC, scopes: d.scopes, user: d.approver}
		tok["refresh_token"] = rt
	}
	return ok(tok)
}

// verificationPage renders the device flow's verification page. Caller
// holds s.mu.
func (s *Server) verificationPage(code string) response {
	orgs := make([]string, 0, len(s.orgs))
	for id := range s.orgs {
		orgs = append(orgs, id)
	}
	sort.Strings(orgs)
	var b strings.Builder
	b.WriteString("<!doctype html><title>Zoho Accounts (simulated)</title>\n<h1>Connect a device</h1>\n<form method=\"post\">\n" +
		`<label>Code <input name="user_code" id="user-code" value="` + html.EscapeString(code) + `"></label>` + "\n<p>Sign in and approve as:</p>\n")
	for _, id := range orgs {
		for _, u := range s.orgs[id].Users {
			b.WriteString(`<button name="approve" value="` + html.EscapeString(id+"/"+u.Email) + `" id="approve-` +
				html.EscapeString(id+"-"+u.ID) + `">` + html.EscapeString(u.Name+" <"+u.Email+"> ("+id+")") + "</button>\n")
		}
	}
	b.WriteString(`<button name="deny" value="deny" id="deny">Deny</button>` + "\n</form>\n")
	return page(200, b.String())
}

// verify answers the verification page: the code approved as the user
// chosen, or denied. Caller holds s.mu.
func (s *Server) verify(p url.Values) response {
	code := strings.ToUpper(strings.TrimSpace(p.Get("user_code")))
	d := s.byUser[code]
	if d == nil || !s.now().Before(d.expires) {
		return page(400, `<!doctype html><title>Zoho Accounts (simulated)</title><p id="result">Invalid or expired code.</p>`)
	}
	if p.Get("deny") != "" {
		d.denied = true
		return page(200, `<!doctype html><title>Zoho Accounts (simulated)</title><p id="result">Access denied.</p>`)
	}
	org, email, _ := strings.Cut(p.Get("approve"), "/")
	if err := s.approveDevice(code, org, email); err != nil {
		return page(400, `<!doctype html><title>Zoho Accounts (simulated)</title><p id="result">`+html.EscapeString(err.Error())+`</p>`)
	}
	return page(200, `<!doctype html><title>Zoho Accounts (simulated)</title><p id="result">Approved as `+
		html.EscapeString(email)+`. You may close this page.</p>`)
}

// page is an HTML answer of the accounts server.
func page(status int, body string) response {
	return response{status: status, header: map[string]string{"Content-Type": "text/html; charset=utf-8"}, raw: []byte(body)}
}

// consentPage renders the consent screen of the authorization-code flow.
// Caller holds s.mu.
func (s *Server) consentPage(p url.Values) response {
	if p.Get("client_id") != s.o.ClientID || p.Get("redirect_uri") == "" || p.Get("response_type") != "code" {
		return response{status: 400, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			raw: []byte("invalid_client or missing redirect_uri / response_type\n")}
	}
	orgs := make([]string, 0, len(s.orgs))
	for id := range s.orgs {
		orgs = append(orgs, id)
	}
	sort.Strings(orgs)
	var b strings.Builder
	b.WriteString("<!doctype html><title>Zoho Accounts (simulated)</title>\n<h1>Allow access?</h1>\n<p>Scopes: " +
		html.EscapeString(p.Get("scope")) + "</p>\n")
	for _, id := range orgs {
		o := s.orgs[id]
		b.WriteString(`<form method="post"><input type="hidden" name="org" value="` + html.EscapeString(id) +
			`"><input type="hidden" name="decision" value="accept"><button id="accept-` + html.EscapeString(id) + `">Accept as an admin of ` +
			html.EscapeString(id) + " (" + html.EscapeString(o.DC) + ")</button></form>\n")
	}
	b.WriteString(`<form method="post"><input type="hidden" name="decision" value="reject"><button id="reject">Reject</button></form>` + "\n")
	return response{status: 200, header: map[string]string{"Content-Type": "text/html; charset=utf-8"}, raw: []byte(b.String())}
}

// consent answers the consent screen: Accept issues a grant code for the
// org and redirects to redirect_uri as Authorize does; Reject redirects
// with error=access_denied (spec §5.2 step 2). Caller holds s.mu.
func (s *Server) consent(p url.Values) response {
	redirect, state := p.Get("redirect_uri"), p.Get("state")
	if p.Get("client_id") != s.o.ClientID || redirect == "" {
		return response{status: 400, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			raw: []byte("invalid_client or missing redirect_uri\n")}
	}
	var to string
	if p.Get("decision") == "accept" && s.orgs[p.Get("org")] != nil {
		to = s.authorize(p.Get("org"), p.Get("scope"), redirect, state)
	} else {
		to = withQuery(redirect, url.Values{"error": {"access_denied"}, "state": {state}})
	}
	return response{status: http.StatusFound, header: map[string]string{"Location": to}}
}
