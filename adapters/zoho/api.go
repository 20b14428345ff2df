package zoho

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ringside/ringside/pkg/fault"
)

// ---- PhoneBridge v3 (spec §1) ----

// Integrate turns the PhoneBridge integration of the tenant's org on
// (POST /integrate) or off (DELETE). Calling it again is harmless.
func (c *Client) Integrate(ctx context.Context, tenant string, on bool) error {
	m := http.MethodPost
	if !on {
		m = http.MethodDelete
	}
	_, err := c.do(ctx, tenant, call{api: "phonebridge", method: m, path: "/phonebridge/v3/integrate", idempotent: true})
	return wrap(err, "integrate "+tenant)
}

// PBUser is a PhoneBridge user (GET /phonebridge/v3/users).
type PBUser struct {
	ZohoUser string `json:"zohouser"`
	Email    string `json:"email"`
	Name     string `json:"username"`
}

// PhoneBridgeUsers lists the org's PhoneBridge users (every page).
func (c *Client) PhoneBridgeUsers(ctx context.Context, tenant string) ([]PBUser, error) {
	var out []PBUser
	for page := 1; page <= 50; page++ {
		res, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodGet, path: "/phonebridge/v3/users",
			query: url.Values{"page": {strconv.Itoa(page)}, "perPage": {"200"}}.Encode(), idempotent: true})
		if err != nil {
			return nil, wrap(err, "phonebridge users of "+tenant)
		}
		var b struct {
			Users []PBUser `json:"users"`
		}
		if res.status == http.StatusNoContent || json.Unmarshal(res.body, &b) != nil || len(b.Users) == 0 {
			break
		}
		out = append(out, b.Users...)
		if len(b.Users) < 200 {
			break
		}
	}
	return out, nil
}

// CRMUser is a CRM user (GET /crm/v8/users).
type CRMUser struct {
	ID     string `json:"id"`
	Name   string `json:"full_name"`
	Email  string `json:"email"`
	Status string `json:"status"`
	ZUID   string `json:"zuid"`
	// TimeZone is the zone the CRM shows the user's dates in
	// ("Europe/Berlin").
	TimeZone string `json:"time_zone"`
}

// CRMUsers lists the org's active CRM users.
func (c *Client) CRMUsers(ctx context.Context, tenant string) ([]CRMUser, error) {
	var out []CRMUser
	for page := 1; page <= 50; page++ {
		res, err := c.do(ctx, tenant, call{api: "crm", method: http.MethodGet, path: "/crm/v8/users",
			query:      url.Values{"type": {"ActiveUsers"}, "page": {strconv.Itoa(page)}, "per_page": {"200"}}.Encode(),
			idempotent: true, credits: 1, kind: "read"})
		if err != nil {
			return nil, wrap(err, "crm users of "+tenant)
		}
		var b struct {
			Users []CRMUser `json:"users"`
			Info  struct {
				More bool `json:"more_records"`
			} `json:"info"`
		}
		if res.status == http.StatusNoContent || json.Unmarshal(res.body, &b) != nil {
			break
		}
		out = append(out, b.Users...)
		if !b.Info.More {
			break
		}
	}
	return out, nil
}

// User is a Zoho user as the admin links it: the PhoneBridge zohouser id
// and the CRM user id, joined by email (they are different ids, spec
// §1.5).
type User struct {
	ZohoUser  string // PhoneBridge id (empty when PhoneBridge is not available)
	CRMUserID string // CRM user id (Calls Owner)
	Email     string
	Name      string
}

// Users lists the org's users for `ringside zoho users`: CRM users joined
// with PhoneBridge users by email (case-insensitive). PhoneBridge being
// unavailable (a REST-mode tenant, an unregistered provider) is not an
// error: ZohoUser stays empty.
func (c *Client) Users(ctx context.Context, tenant string) ([]User, error) {
	crm, err := c.CRMUsers(ctx, tenant)
	if err != nil {
		return nil, err
	}
	pb, pbErr := c.PhoneBridgeUsers(ctx, tenant)
	if pbErr != nil && !fault.IsPermanent(pbErr) {
		return nil, pbErr
	}
	byEmail := map[string]PBUser{}
	for _, u := range pb {
		byEmail[strings.ToLower(u.Email)] = u
	}
	out := make([]User, 0, len(crm))
	for _, u := range crm {
		p := byEmail[strings.ToLower(u.Email)]
		delete(byEmail, strings.ToLower(u.Email))
		out = append(out, User{ZohoUser: p.ZohoUser, CRMUserID: u.ID, Email: u.Email, Name: u.Name})
	}
	for _, p := range pb { // PhoneBridge users without a CRM user
		if _, left := byEmail[strings.ToLower(p.Email)]; left {
			out = append(out, User{ZohoUser: p.ZohoUser, Email: p.Email, Name: p.Name})
		}
	}
	return out, nil
}

// Registration is what Zoho calls for one user: the click-to-dial URL and
// the call-control URLs, and the per-user secret Zoho echoes back as the
// parameter named ParamName (authorizationparam).
type Registration struct {
	ZohoUser      string
	ClickToDial   string
	CallControl   map[string]string // answeruri, hungupuri, muteuri, unmuteuri, holduri, unholduri, keypressuri
	ParamName     string            // default "ringside_auth"
	Secret        string            // NewSecret
	ClickToDialEx map[string]string // extra static clicktodialparam entries (e.g. "extension": "1001")
}

// NewSecret returns a random per-user authorizationparam secret.
func NewSecret() string { return randomHex(24) }

// RegisterUser registers a user's click-to-dial and call-control URLs
// with the per-user secret (spec §1.6, §1.7).
func (c *Client) RegisterUser(ctx context.Context, tenant string, r Registration) error {
	if r.ParamName == "" {
		r.ParamName = "ringside_auth"
	}
	ap, _ := json.Marshal(map[string]string{"name": r.ParamName, "value": r.Secret})
	form := map[string][]string{"clicktodialuri": {r.ClickToDial}, "zohouser": {r.ZohoUser}, "authorizationparam": {string(ap)}}
	if len(r.ClickToDialEx) > 0 {
		var ps []map[string]string
		for k, v := range r.ClickToDialEx {
			ps = append(ps, map[string]string{"name": k, "value": v})
		}
		b, _ := json.Marshal(ps)
		form["clicktodialparam"] = []string{string(b)}
	}
	if _, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodPost, path: "/phonebridge/v3/clicktodial", form: form, idempotent: true}); err != nil {
		return wrap(err, "register click-to-dial of "+r.ZohoUser)
	}
	if len(r.CallControl) == 0 {
		return nil
	}
	cc := map[string][]string{"zohouser": {r.ZohoUser}, "authorizationparam": {string(ap)}}
	for k, v := range r.CallControl {
		cc[k] = []string{v}
	}
	_, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodPost, path: "/phonebridge/v3/callcontrol", form: cc, idempotent: true})
	return wrap(err, "register call control of "+r.ZohoUser)
}

// UnregisterUser removes a user's registrations (on unlink).
func (c *Client) UnregisterUser(ctx context.Context, tenant, zohoUser string) error {
	for _, p := range []string{"/phonebridge/v3/clicktodial", "/phonebridge/v3/callcontrol"} {
		_, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodDelete, path: p,
			query: url.Values{"zohouser": {zohoUser}}.Encode(), form: map[string][]string{"zohouser": {zohoUser}}, idempotent: true})
		if err != nil {
			return wrap(err, "unregister "+zohoUser)
		}
	}
	return nil
}

// Notify is one callnotify request (spec §1.8); empty fields are not sent.
type Notify struct {
	Type              string // received | dialed
	State             string
	ID                string
	From, To          string // E.164 with +
	ZohoUser          string
	TransferredCallID string
	StartTime         string // yyyy-MM-dd HH:mm:ss UTC
	Duration          string // seconds
	VoiceURI          string
}

func (n Notify) form() map[string][]string {
	f := map[string][]string{}
	for k, v := range map[string]string{"type": n.Type, "state": n.State, "id": n.ID, "from": n.From, "to": n.To,
		"zohouser": n.ZohoUser, "transferredcallid": n.TransferredCallID, "start_time": n.StartTime,
		"duration": n.Duration, "voiceuri": n.VoiceURI} {
		if v != "" {
			f[k] = []string{v}
		}
	}
	return f
}

// CallNotify sends one call event to PhoneBridge. Non-terminal states are
// retried at once; a terminal state is not (its caller decides).
func (c *Client) CallNotify(ctx context.Context, tenant string, n Notify) error {
	terminal := n.State != "ringing" && n.State != "answered"
	_, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodPost, path: "/phonebridge/v3/callnotify",
		form: n.form(), idempotent: !terminal})
	return wrap(err, "callnotify "+n.State+" "+n.ID)
}

// ClickToDialError reports a failed click-to-call to the user (spec §1.9):
// code is busy, invalid, blocked, notavailable, noanswer or rejected.
func (c *Client) ClickToDialError(ctx context.Context, tenant, zohoUser, code, from, to, message string) error {
	f := map[string][]string{"code": {code}, "from": {from}, "to": {to}}
	if zohoUser != "" {
		f["zohouser"] = []string{zohoUser}
	}
	if message != "" {
		f["message"] = []string{message}
	}
	_, err := c.do(ctx, tenant, call{api: "phonebridge", method: http.MethodPost, path: "/phonebridge/v3/clicktodialerror", form: f, idempotent: true})
	return wrap(err, "clicktodialerror "+zohoUser)
}

// ---- CRM v8 (spec §2–3) ----

// RecordResult is the outcome of one record of a bulk write.
type RecordResult struct {
	ID  string // the record id, on success
	Err error  // nil on success; fault.Permanent for a record Zoho rejected
	// Action is what an upsert did: "insert" or "update" ("" otherwise).
	Action string
}

// writeRecords inserts (POST) or updates (PUT) up to 100 records of a
// module in one request: 1 credit per 10 records.
func (c *Client) writeRecords(ctx context.Context, tenant, method, module string, recs []map[string]any) ([]RecordResult, error) {
	return c.write(ctx, tenant, method, module, "/crm/v8/"+module, map[string]any{"data": recs, "trigger": []string{}}, recs)
}

// UpsertRecords inserts up to 100 records into module, or updates the
// record that already has the same value in the first of dupFields that
// matches (spec §7: POST /crm/v8/<module>/upsert with
// duplicate_check_fields; Leads, Contacts, Accounts…, not Calls or Tasks):
// 1 credit per 10 records. Each result's Action says which happened.
func (c *Client) UpsertRecords(ctx context.Context, tenant, module string, recs []map[string]any, dupFields []string) ([]RecordResult, error) {
	return c.write(ctx, tenant, http.MethodPost, module, "/crm/v8/"+module+"/upsert",
		map[string]any{"data": recs, "duplicate_check_fields": dupFields, "trigger": []string{}}, recs)
}

// write sends one bulk write of recs and returns the per-record results.
func (c *Client) write(ctx context.Context, tenant, method, module, path string, body map[string]any, recs []map[string]any) ([]RecordResult, error) {
	res, err := c.do(ctx, tenant, call{api: "crm", method: method, path: path,
		json: body, credits: (len(recs) + 9) / 10, kind: "write"})
	if err != nil && (res.status != http.StatusBadRequest || len(recs) == 0) {
		return nil, wrap(err, strings.ToLower(method)+" "+module)
	}
	var b struct {
		Data []struct {
			Code    string         `json:"code"`
			Status  string         `json:"status"`
			Message string         `json:"message"`
			Action  string         `json:"action"`
			Details map[string]any `json:"details"`
		} `json:"data"`
	}
	if json.Unmarshal(res.body, &b) != nil || len(b.Data) != len(recs) {
		if err != nil {
			return nil, wrap(err, strings.ToLower(method)+" "+module)
		}
		return nil, fault.Retryable(fmt.Errorf("zoho: %s %s: %d results for %d records", method, module, len(b.Data), len(recs)), 0)
	}
	out := make([]RecordResult, len(recs))
	for i, d := range b.Data {
		if d.Status == "success" {
			out[i].ID, _ = d.Details["id"].(string)
			out[i].Action = d.Action
			continue
		}
		out[i].Err = fault.Permanent(&APIError{Status: res.status, Code: d.Code, Message: d.Message, Details: d.Details})
	}
	return out, nil
}

// InsertRecords inserts up to 100 records into module.
func (c *Client) InsertRecords(ctx context.Context, tenant, module string, recs []map[string]any) ([]RecordResult, error) {
	return c.writeRecords(ctx, tenant, http.MethodPost, module, recs)
}

// UpdateRecords updates up to 100 records of module (each with its "id").
func (c *Client) UpdateRecords(ctx context.Context, tenant, module string, recs []map[string]any) ([]RecordResult, error) {
	return c.writeRecords(ctx, tenant, http.MethodPut, module, recs)
}

// Search runs GET /crm/v8/<module>/search?criteria=… (1 credit); no match
// (204) is an empty result.
func (c *Client) Search(ctx context.Context, tenant, module, criteria, fields string) ([]map[string]any, error) {
	q := url.Values{"criteria": {criteria}, "per_page": {"10"}}
	if fields != "" {
		q.Set("fields", fields)
	}
	res, err := c.do(ctx, tenant, call{api: "crm", method: http.MethodGet, path: "/crm/v8/" + module + "/search",
		query: q.Encode(), idempotent: true, credits: 1, kind: "search"})
	if err != nil {
		return nil, wrap(err, "search "+module)
	}
	return records(res)
}

// COQL runs a COQL query (1 credit); no match (204, or 200 with no data:
// both are seen) is an empty result.
func (c *Client) COQL(ctx context.Context, tenant, query string) ([]map[string]any, error) {
	res, err := c.do(ctx, tenant, call{api: "crm", method: http.MethodPost, path: "/crm/v8/coql",
		json: map[string]string{"select_query": query}, idempotent: true, credits: 1, kind: "coql"})
	if err != nil {
		return nil, wrap(err, "coql")
	}
	return records(res)
}

func records(res result) ([]map[string]any, error) {
	if res.status == http.StatusNoContent || len(strings.TrimSpace(string(res.body))) == 0 {
		return nil, nil
	}
	var b struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(res.body, &b); err != nil {
		return nil, fault.Retryable(fmt.Errorf("zoho: decode records: %w", err), 0)
	}
	return b.Data, nil
}

// wrap adds context and keeps the classification (fault wraps survive %w).
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
