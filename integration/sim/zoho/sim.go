// Package zohosim is a Zoho simulator for tests and `ringside demo`, faithful
// to shared/spec/zoho.md §9: the accounts server of every data centre
// (authorization-code with a consent page, refresh, device flow with every
// error state and a verification page where a chosen user approves,
// revoke, serverinfo), PhoneBridge v3 (form-encoded, Zoho-oauthtoken,
// integrate, users, click-to-dial and call-control registration, callnotify
// with an optional strict-state mode, clicktodialerror) and CRM v8 (Calls
// insert and update with per-record results and format validation, search
// with 204, COQL, Leads, Tasks, users, and type=CurrentUser the token's
// own user). Access tokens expire; an org has a
// credit counter and a concurrency cap that answer 429; faults (5xx,
// timeouts, before or after the write is applied) can be injected. Every
// request is recorded for assertions.
//
// One listener serves every data centre under a path prefix: the accounts
// server of data centre dc is <URL>/accounts/<dc>, its API domain
// <URL>/api/<dc>. Tokens are bound to their data centre, as at Zoho.
package zohosim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	ClientID     string // OAuth client id (default "1000.SIMCLIENT")
	ClientSecret string // OAuth client secret (default "sim-secret")
	// TokenTTL is how long access tokens live (default 1h).
	TokenTTL time.Duration
	// DeviceInterval and DeviceExpiry are the device flow's polling
	// interval and code lifetime, sent in milliseconds (default 5s, 5m).
	DeviceInterval, DeviceExpiry time.Duration
	// StrictStates rejects callnotify states other than ringing, answered
	// and ended with 400, as some providers report of the live API.
	StrictStates bool
	// DedupeNotify logs a call once per callnotify id: a terminal state
	// sent again for an id already logged creates no second Calls record
	// (UNCONFIRMED at Zoho; by default every terminal state is logged).
	DedupeNotify bool
	// COQLEmpty200 answers an empty COQL result with 200 and "data":[]
	// instead of 204 (both are seen; spec §3.2).
	COQLEmpty200 bool
	// SearchLag hides records from /search for this long after they were
	// created (search-index lag). COQL is not affected.
	SearchLag time.Duration
	// AcceptZ accepts Call_Start_Time with a Z suffix (UNCONFIRMED at
	// Zoho); by default only a numeric offset is valid.
	AcceptZ bool
	// RejectBearer answers 401 to "Authorization: Bearer" on PhoneBridge.
	RejectBearer bool
	// RequireIntegrate answers PBX_NOT_INTEGRATED on PhoneBridge calls
	// before POST /integrate.
	RequireIntegrate bool
	// RefreshLimit is the number of refreshes per refresh token in 10
	// minutes before the accounts server answers "Access Denied" (0: no
	// limit; Zoho: 10).
	RefreshLimit int
	// DeviceSlowDown answers this many device polls with slow_down.
	DeviceSlowDown int
	// Latency is how long a CRM request stays in flight (it counts against
	// the org's concurrency cap meanwhile).
	Latency time.Duration
}

// Server is a simulated Zoho.
type Server struct {
	o Options

	mu       sync.Mutex
	orgs     map[string]*Org
	codes    map[string]*grant  // grant code -> grant
	refresh  map[string]*grant  // refresh token -> grant
	access   map[string]*access // access token -> token
	devices  map[string]*device // device_code -> device
	byUser   map[string]*device // user_code -> device
	slowed   int
	faults   []*Fault
	requests []Request
	seq      int
	now      func() time.Time

	ln  net.Listener
	srv *http.Server
	url string
}

// Org is one Zoho organisation (a tenant of the PBX operator), living in
// one data centre.
type Org struct {
	ID string
	DC string // data centre (us, eu, in, au, jp, ca…)
	// Users are the CRM users; each also has a PhoneBridge zohouser id.
	Users []User
	// CreditLimit is the credit budget (0: unlimited); Credits counts
	// what was spent.
	CreditLimit int
	Credits     int
	// Concurrency caps in-flight CRM requests (0: unlimited).
	Concurrency int
	inflight    int

	Integrated bool
	// ClickToDial and CallControl hold the registrations by zohouser.
	ClickToDial map[string]url.Values
	CallControl map[string]url.Values
	// Notifications are the callnotify requests accepted, in order.
	Notifications []url.Values
	// DialErrors are the clicktodialerror requests accepted.
	DialErrors []url.Values
	// Modules holds the records by module name (Calls, Contacts, Leads,
	// Accounts, Tasks), each by id.
	Modules map[string]map[string]Record
}

// User is a Zoho user of an org.
type User struct {
	ID       string // CRM user id (Calls Owner)
	ZohoUser string // PhoneBridge zohouser id
	Email    string
	Name     string
	Admin    bool
}

// Record is a CRM record: field API name -> value, plus "id".
type Record map[string]any

// Request is one recorded request.
type Request struct {
	Seq    int
	Method string
	Path   string // without the /accounts/<dc> or /api/<dc> prefix
	DC     string
	Org    string // the org the token belongs to, if any
	Header http.Header
	Query  url.Values
	Form   url.Values // form body (PhoneBridge, accounts)
	Body   []byte     // JSON body (CRM)
	Status int
	Fault  string // the fault injected, if any
}

type grant struct {
	org, dc  string
	user     string // the CRM user id of who granted it (empty: the org's first admin)
	scopes   string
	redirect string
	expires  time.Time
	revoked  bool
	used     bool
	refresh  []time.Time
}

type access struct {
	org, dc string
	// user is the CRM user id of who signed in to grant it (empty: the
	// org's first admin).
	user    string
	expires time.Time
	revoked bool
	scopes  string
}

type device struct {
	code, user string
	dc         string // where it was requested
	scopes     string
	offline    bool   // access_type=offline: a refresh token too
	org        string // set when approved
	approver   string // the CRM user id of who approved
	denied     bool
	expires    time.Time
	lastPoll   time.Time
	interval   time.Duration
}

// New returns a simulator that does not listen yet.
func New(o Options) *Server {
	if o.ClientID == "" {
		o.ClientID = "1000.SIMCLIENT"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sim-secret"
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.DeviceInterval <= 0 {
		o.DeviceInterval = 5 * time.Second
	}
	if o.DeviceExpiry <= 0 {
		o.DeviceExpiry = 5 * time.Minute
	}
	return &Server{
		o: o, orgs: map[string]*Org{}, codes: map[string]*grant{}, refresh: map[string]*grant{},
		access: map[string]*access{}, devices: map[string]*device{}, byUser: map[string]*device{},
		now: time.Now,
	}
}

// Start listens on 127.0.0.1:0.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// Close stops the server and waits for running handlers (faults that hang
// end when their request does).
func (s *Server) Close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		_ = s.srv.Close()
	}
}

// URL is the base URL of the listener.
func (s *Server) URL() string { return s.url }

// AccountsURL is the accounts server of data centre dc.
func (s *Server) AccountsURL(dc string) string { return s.url + "/accounts/" + dc }

// APIDomain is the API domain of data centre dc.
func (s *Server) APIDomain(dc string) string { return s.url + "/api/" + dc }

// ClientID and ClientSecret are the OAuth client's credentials.
func (s *Server) ClientID() string     { return s.o.ClientID }
func (s *Server) ClientSecret() string { return s.o.ClientSecret }

// AddOrg creates an org in data centre dc with the given users.
func (s *Server) AddOrg(id, dc string, users ...User) *Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &Org{ID: id, DC: dc, Users: users, ClickToDial: map[string]url.Values{}, CallControl: map[string]url.Values{},
		Modules: map[string]map[string]Record{}}
	for _, m := range []string{"Calls", "Contacts", "Leads", "Accounts", "Tasks"} {
		o.Modules[m] = map[string]Record{}
	}
	s.orgs[id] = o
	return o
}

// Org runs fn on org id under the simulator's lock (to read or change it).
func (s *Server) Org(id string, fn func(o *Org)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orgs[id]; o != nil {
		fn(o)
	}
}

// AddRecord stores a record in a module of an org and returns its id.
func (s *Server) AddRecord(org, module string, r Record) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	id := s.newID()
	c := Record{"id": id, "Created_Time": s.now().UTC().Add(-time.Hour).Format(time.RFC3339)}
	for k, v := range r {
		c[k] = v
	}
	o.Modules[module][id] = c
	return id
}

// Records returns copies of an org's records of a module, ordered by id.
func (s *Server) Records(org, module string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	o := s.orgs[org]
	if o == nil {
		return nil
	}
	for _, r := range o.Modules[module] {
		c := Record{}
		for k, v := range r {
			c[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["id"].(string) < out[j]["id"].(string) })
	return out
}

// Notifications returns the callnotify requests an org accepted.
func (s *Server) Notifications(org string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orgs[org]; o != nil {
		return append([]url.Values(nil), o.Notifications...)
	}
	return nil
}

// Credits returns the credits an org spent.
func (s *Server) Credits(org string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orgs[org]; o != nil {
		return o.Credits
	}
	return 0
}

// Requests returns the recorded requests, optionally only those whose
// method and path start with prefix ("POST /crm/v8/Calls").
func (s *Server) Requests(prefix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if prefix == "" || strings.HasPrefix(r.Method+" "+r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// SetNow replaces the simulator's clock.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Fault is an injected failure for the next Count requests whose method
// and path start with Match ("POST /crm/v8/Calls", "" for any).
type Fault struct {
	Match string
	// Form, if set, restricts the fault to form requests carrying these
	// values (e.g. callnotify with state=ended).
	Form  url.Values
	Count int
	// Status is the HTTP status to answer (500, 502, 503, 429…); 0 with
	// Hang set means no answer.
	Status int
	// Hang holds the request until the client gives up (a timeout).
	Hang bool
	// After applies the request first and then fails: the write happened
	// but the client cannot know (an ambiguous failure).
	After bool
	hit   int
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults = append(s.faults, &fc)
}

// ExpireTokens makes every access token issued so far expire now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		a.expires = s.now().Add(-time.Second)
	}
}

// RevokeOrgTokens revokes every refresh and access token of an org, as an
// admin removing the connection in Zoho's console.
func (s *Server) RevokeOrgTokens(org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.org == org {
			g.revoked = true
		}
	}
	for _, a := range s.access {
		if a.org == org {
			a.revoked = true
		}
	}
}

// Authorize plays the user consenting in the browser: it issues a grant
// code for org with scopes and returns the redirect URL Zoho would send the
// browser to (code, location, accounts-server, state).
func (s *Server) Authorize(org, scopes, redirect, state string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorize(org, scopes, redirect, state)
}

// authorize is Authorize with s.mu held.
func (s *Server) authorize(org, scopes, redirect, state string) string {
	o := s.orgs[org]
	code := "1000." + s.token()
	s.codes[code] = &grant{org: org, dc: o.DC, scopes: scopes, redirect: redirect, expires: s.now().Add(3 * time.Minute)}
	return withQuery(redirect, url.Values{"code": {code}, "location": {o.DC}, "accounts-server": {s.AccountsURL(o.DC)}, "state": {state}})
}

// withQuery adds q to the query of a URL.
func withQuery(u string, q url.Values) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// SelfClientToken plays the Self Client: it issues a refresh token for org
// directly and returns it.
func (s *Server) SelfClientToken(org, scopes string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[org]
	rt := "1000." + s.token()
	s.refresh[rt] = &grant{org: org, dc: o.DC, scopes: scopes}
	return rt
}

// ApproveDevice plays a user of org (its first admin) entering userCode
// at the verification page and consenting.
func (s *Server) ApproveDevice(userCode, org string) error {
	return s.ApproveDeviceAs(userCode, org, "")
}

// ApproveDeviceAs plays the user of org with this email (empty: the org's
// first admin) signing in at the verification page, entering userCode and
// consenting: the token the device gets is that user's
// (users?type=CurrentUser answers them).
func (s *Server) ApproveDeviceAs(userCode, org, email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.approveDevice(userCode, org, email)
}

// approveDevice is ApproveDeviceAs with s.mu held.
func (s *Server) approveDevice(userCode, org, email string) error {
	d := s.byUser[userCode]
	if d == nil || !s.now().Before(d.expires) {
		return fmt.Errorf("zohosim: no device code %q", userCode)
	}
	o := s.orgs[org]
	if o == nil {
		return fmt.Errorf("zohosim: no org %q", org)
	}
	u, found := orgUser(o, email)
	if !found && email != "" {
		return fmt.Errorf("zohosim: no user %q in org %s", email, org)
	}
	d.org, d.approver = org, u.ID
	return nil
}

// orgUser finds a user of o by email (case-insensitive); empty: the first
// admin, else the first user.
func orgUser(o *Org, email string) (User, bool) {
	for _, u := range o.Users {
		if email != "" && strings.EqualFold(u.Email, email) {
			return u, true
		}
	}
	if email != "" {
		return User{}, false
	}
	for _, u := range o.Users {
		if u.Admin {
			return u, true
		}
	}
	if len(o.Users) > 0 {
		return o.Users[0], true
	}
	return User{}, false
}

// DenyDevice plays the user refusing consent.
func (s *Server) DenyDevice(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUser[userCode]
	if d == nil {
		return fmt.Errorf("zohosim: no device code %q", userCode)
	}
	d.denied = true
	return nil
}

// ExpireDevice makes a device code expire.
func (s *Server) ExpireDevice(userCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.byUser[userCode]; d != nil {
		d.expires = s.now().Add(-time.Second)
	}
}

// DeviceUserCodes returns the user codes issued, oldest first.
func (s *Server) DeviceUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for u := range s.byUser {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// ClickToDial plays a Zoho user clicking a number: it calls the
// click-to-dial URL registered for zohouser with tonumber, the custom
// clicktodialparam entries and the authorizationparam credential (as a
// form parameter), and returns the HTTP status.
func (s *Server) ClickToDial(ctx context.Context, org, zohouser, tonumber string) (int, error) {
	s.mu.Lock()
	o := s.orgs[org]
	var reg url.Values
	if o != nil {
		reg = o.ClickToDial[zohouser]
	}
	s.mu.Unlock()
	if reg == nil {
		return 0, fmt.Errorf("zohosim: no click-to-dial registration for %s/%s", org, zohouser)
	}
	form := url.Values{"tonumber": {tonumber}, "zohouser": {zohouser}}
	for _, p := range []string{"authorizationparam"} {
		var nv struct{ Name, Value string }
		if json.Unmarshal([]byte(reg.Get(p)), &nv) == nil && nv.Name != "" {
			form.Set(nv.Name, nv.Value)
		}
	}
	var extra []struct{ Name, Value string }
	_ = json.Unmarshal([]byte(reg.Get("clicktodialparam")), &extra)
	for _, e := range extra {
		form.Set(e.Name, strings.ReplaceAll(e.Value, "{to}", tonumber))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, reg.Get("clicktodialuri"), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ServeHTTP routes /accounts/<dc>/… and /api/<dc>/….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	kind, dc, rest := parts[0], parts[1], "/"+parts[2]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := Request{Method: r.Method, Path: rest, DC: dc, Header: r.Header.Clone(), Query: r.URL.Query()}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		rec.Form, _ = url.ParseQuery(string(body))
	} else {
		rec.Body = body
	}
	rw := &recorder{ResponseWriter: w, status: 200}

	s.mu.Lock()
	f := s.fault(r.Method+" "+rest, rec.Form)
	s.mu.Unlock()
	if f != nil && !f.After {
		rec.Fault = faultName(f)
		s.record(rec, f.Status)
		s.fail(w, r, f)
		return
	}
	var out response
	switch kind {
	case "accounts":
		out = s.accounts(dc, rest, r, rec)
	case "api":
		out = s.api(dc, rest, r, &rec)
	default:
		out = errResp(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
	}
	if f != nil {
		rec.Fault = faultName(f)
		s.record(rec, f.Status)
		s.fail(w, r, f)
		return
	}
	s.record(rec, out.status)
	out.write(rw)
}

// formHas reports whether form carries every value of want.
func formHas(form, want url.Values) bool {
	for k, vs := range want {
		for _, v := range vs {
			if form.Get(k) != v {
				return false
			}
		}
	}
	return true
}

func faultName(f *Fault) string {
	n := strconv.Itoa(f.Status)
	if f.Hang {
		n = "hang"
	}
	if f.After {
		n += "-after"
	}
	return n
}

// fail answers a fault: a 5xx/429 error body, or no answer until the
// client gives up.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	code := "INTERNAL_ERROR"
	if f.Status == 429 {
		code = "TOO_MANY_REQUESTS"
	}
	errResp(f.Status, code, http.StatusText(f.Status)).write(w)
}

// fault returns the next matching fault, counting it. Caller holds s.mu.
func (s *Server) fault(key string, form url.Values) *Fault {
	for _, f := range s.faults {
		if f.hit < f.Count && strings.HasPrefix(key, f.Match) && formHas(form, f.Form) {
			f.hit++
			return f
		}
	}
	return nil
}

func (s *Server) record(r Request, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r.Seq = s.seq
	r.Status = status
	s.requests = append(s.requests, r)
}

type recorder struct {
	http.ResponseWriter
	status int
}

// response is what a handler answers.
type response struct {
	status int
	body   any    // JSON-encoded; nil: no body
	raw    []byte // sent as is instead (the consent page)
	header map[string]string
}

func (o response) write(w http.ResponseWriter) {
	for k, v := range o.header {
		w.Header().Set(k, v)
	}
	if o.raw != nil {
		w.WriteHeader(o.status)
		_, _ = w.Write(o.raw)
		return
	}
	if o.body == nil {
		w.WriteHeader(o.status)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(o.status)
	_ = json.NewEncoder(w).Encode(o.body)
}

func ok(body any) response { return response{status: 200, body: body} }

func errResp(status int, code, msg string) response {
	return response{status: status, body: map[string]any{"code": code, "details": map[string]any{}, "message": msg, "status": "error"}}
}

func errDetails(status int, code, msg string, details map[string]any) response {
	return response{status: status, body: map[string]any{"code": code, "details": details, "message": msg, "status": "error"}}
}

// newID returns a 19-digit record id. Caller holds s.mu.
func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("48768760%011d", s.seq)
}

// token returns a random token body.
func (s *Server) token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:8]) + "." + hex.EncodeToString(b[8:])
}
