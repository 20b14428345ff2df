package zohosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// phoneFields are the phone-type fields search matches.
var phoneFields = []string{"Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone", "Fax"}

// crm serves /crm/v8/… (spec §2–4) for a token of user (a CRM user id;
// empty: the org's first admin). Caller holds s.mu.
func (s *Server) crm(o *Org, path, method string, q url.Values, raw []byte, data []Record, scopes, user string) response {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "users" && method == http.MethodGet:
		users := o.Users
		if q.Get("type") == "CurrentUser" {
			// The signed-in user alone (spec §4). The users API needs
			// ZohoCRM.users.READ or .ALL; checked here only, so that the
			// narrower Self Client tokens of older tests keep listing users.
			if scopes != "" && !strings.Contains(scopes, "ZohoCRM.users.READ") && !strings.Contains(scopes, "ZohoCRM.users.ALL") {
				return errResp(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")
			}
			users = nil
			for _, u := range o.Users {
				if u.ID == user {
					users = []User{u}
				}
			}
			if u, found := orgUser(o, ""); found && user == "" {
				users = []User{u}
			}
		}
		var us []map[string]any
		for _, u := range users {
			us = append(us, map[string]any{"id": u.ID, "full_name": u.Name, "email": u.Email, "status": "active",
				"zuid": u.ZohoUser, "time_zone": "Europe/Berlin"})
		}
		return ok(map[string]any{"users": us, "info": map[string]any{"per_page": 200, "count": len(us), "page": 1, "more_records": false}})
	case len(parts) == 1 && parts[0] == "coql" && method == http.MethodPost:
		if scopes != "" && !strings.Contains(scopes, "ZohoCRM.coql.READ") && !strings.Contains(scopes, "ZohoCRM.coql.ALL") {
			return errResp(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")
		}
		var b struct {
			Query string `json:"select_query"`
		}
		_ = json.Unmarshal(raw, &b)
		return s.coql(o, b.Query)
	}
	if e := moduleScope(scopes, parts[0], method, len(parts) == 2 && parts[1] == "upsert"); e != nil {
		return *e
	}
	switch {
	case len(parts) == 2 && parts[1] == "search" && method == http.MethodGet:
		return s.search(o, parts[0], q)
	case len(parts) == 2 && parts[1] == "upsert" && method == http.MethodPost:
		return s.upsert(o, parts[0], raw, data)
	case len(parts) == 1 && method == http.MethodPost:
		return s.insert(o, parts[0], data)
	case len(parts) == 1 && method == http.MethodPut:
		return s.update(o, parts[0], "", data)
	case len(parts) == 2 && method == http.MethodPut:
		return s.update(o, parts[0], parts[1], data)
	case len(parts) == 2 && method == http.MethodGet:
		if m := o.Modules[parts[0]]; m != nil {
			if r, found := m[parts[1]]; found {
				return ok(map[string]any{"data": []Record{r}})
			}
			return response{status: 204}
		}
	}
	return errResp(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
}

// results answers a write: 201 (or 200 for updates) when every record
// worked, 207 when mixed, 400 when none did.
func results(rs []map[string]any, success int) response {
	good := 0
	for _, r := range rs {
		if r["status"] == "success" {
			good++
		}
	}
	switch {
	case good == len(rs):
		return response{status: success, body: map[string]any{"data": rs}}
	case good == 0 && len(rs) == 1:
		return response{status: 400, body: map[string]any{"data": rs}}
	}
	return response{status: 207, body: map[string]any{"data": rs}}
}

func recErr(code, msg, field string, i int) map[string]any {
	return map[string]any{"code": code, "message": msg, "status": "error",
		"details": map[string]any{"api_name": field, "json_path": fmt.Sprintf("$.data[%d].%s", i, field)}}
}

func (s *Server) insert(o *Org, module string, data []Record) response {
	m := o.Modules[module]
	if m == nil {
		return errResp(400, "INVALID_MODULE", "the module name given seems to be invalid")
	}
	switch {
	case len(data) == 0:
		return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "data"})
	case len(data) > 100:
		return errDetails(400, "LIMIT_EXCEEDED", "limit exceeded", map[string]any{"limit": 100})
	}
	var rs []map[string]any
	now := s.now().UTC()
	for i, r := range data {
		if e := s.validate(o, module, r, i, nil); e != nil {
			rs = append(rs, e)
			continue
		}
		id := s.newID()
		c := Record{"id": id, "Created_Time": now.Format(time.RFC3339)}
		for k, v := range r {
			c[k] = v
		}
		setFullName(module, c)
		m[id] = c
		rs = append(rs, map[string]any{"code": "SUCCESS", "message": "record added", "status": "success",
			"details": map[string]any{"id": id, "Created_Time": now.Format(time.RFC3339), "Modified_Time": now.Format(time.RFC3339)}})
	}
	return results(rs, 201)
}

func (s *Server) update(o *Org, module, id string, data []Record) response {
	m := o.Modules[module]
	if m == nil {
		return errResp(400, "INVALID_MODULE", "the module name given seems to be invalid")
	}
	if len(data) == 0 || len(data) > 100 {
		return errDetails(400, "LIMIT_EXCEEDED", "limit exceeded", map[string]any{"limit": 100})
	}
	var rs []map[string]any
	for i, r := range data {
		rid := id
		if rid == "" {
			rid, _ = r["id"].(string)
		}
		old, found := m[rid]
		if !found {
			rs = append(rs, recErr("INVALID_DATA", "the related id given seems to be invalid", "id", i))
			continue
		}
		if e := s.validate(o, module, r, i, old); e != nil {
			rs = append(rs, e)
			continue
		}
		for k, v := range r {
			old[k] = v
		}
		setFullName(module, old)
		rs = append(rs, map[string]any{"code": "SUCCESS", "message": "record updated", "status": "success",
			"details": map[string]any{"id": rid}})
	}
	return results(rs, 200)
}

var durationRE = regexp.MustCompile(`^[0-9]{1,3}:[0-5][0-9]$`)

// validate checks a record as Zoho does (spec §2.2, Kaizen #38); old is the
// stored record on update.
func (s *Server) validate(o *Org, module string, r Record, i int, old Record) map[string]any {
	str := func(k string) (string, bool) {
		v, found := r[k]
		if !found {
			return "", false
		}
		sv, _ := v.(string)
		return sv, true
	}
	// Company is mandatory in the default Leads layout (spec §2.7).
	mandatory := map[string][]string{"Calls": {"Subject", "Call_Type", "Call_Start_Time"}, "Leads": {"Last_Name", "Company"},
		"Contacts": {"Last_Name"}, "Accounts": {"Account_Name"}, "Tasks": {"Subject"}}
	if old == nil {
		for _, f := range mandatory[module] {
			if v, _ := str(f); v == "" {
				return recErr("MANDATORY_NOT_FOUND", "required field not found", f, i)
			}
		}
	}
	if v, found := r["Owner"]; found {
		id := lookupID(v)
		if !slices.ContainsFunc(o.Users, func(u User) bool { return u.ID == id }) {
			return recErr("INVALID_DATA", "invalid data", "Owner", i)
		}
		if old != nil && module == "Calls" && lookupID(old["Owner"]) != id {
			return recErr("INVALID_DATA", "invalid data", "Owner", i)
		}
	}
	if module == "Tasks" {
		return s.validateTask(o, r, i)
	}
	if module != "Calls" {
		return nil
	}
	ct, hasType := str("Call_Type")
	if hasType {
		if !slices.Contains([]string{"Inbound", "Outbound", "Missed"}, ct) {
			return recErr("INVALID_DATA", "invalid data", "Call_Type", i)
		}
		if old != nil && old["Call_Type"] != ct {
			return recErr("INVALID_DATA", "invalid data", "Call_Type", i)
		}
	} else if old != nil {
		ct, _ = old["Call_Type"].(string)
	}
	if st, found := str("Call_Start_Time"); found {
		t, err := time.Parse("2006-01-02T15:04:05-07:00", st)
		if err != nil || (!s.o.AcceptZ && strings.HasSuffix(st, "Z")) {
			return recErr("INVALID_DATA", "invalid data", "Call_Start_Time", i)
		}
		if t.After(s.now().Add(time.Minute)) {
			return recErr("INVALID_DATA", "invalid data", "Call_Start_Time", i)
		}
	}
	d, hasDur := str("Call_Duration")
	if hasDur && !durationRE.MatchString(d) {
		return recErr("INVALID_DATA", "invalid data", "Call_Duration", i)
	}
	if old == nil && ct != "Missed" && !hasDur {
		return recErr("MANDATORY_NOT_FOUND", "required field not found", "Call_Duration", i)
	}
	if v, found := str("Outgoing_Call_Status"); found && !slices.Contains([]string{"Scheduled", "Completed", "Overdue", "Cancelled"}, v) {
		return recErr("INVALID_DATA", "invalid data", "Outgoing_Call_Status", i)
	}
	return related(o, r, i)
}

// related checks an activity's links: Who_Id a Contact, What_Id a record
// of $se_module (spec §2.2, §2.6).
func related(o *Org, r Record, i int) map[string]any {
	if v, found := r["Who_Id"]; found {
		if _, exists := o.Modules["Contacts"][lookupID(v)]; !exists {
			return recErr("INVALID_DATA", "invalid data", "Who_Id", i)
		}
	}
	if v, found := r["What_Id"]; found {
		mod, _ := r["$se_module"].(string)
		if _, exists := o.Modules[mod][lookupID(v)]; mod == "" || !exists {
			return recErr("INVALID_DATA", "invalid data", "What_Id", i)
		}
	}
	return nil
}

func lookupID(v any) string {
	if m, isMap := v.(map[string]any); isMap {
		id, _ := m["id"].(string)
		return id
	}
	return ""
}

var criterion = regexp.MustCompile(`\(([A-Za-z_]+):(equals|starts_with):((?:[^()\\]|\\.)*)\)`)

// search answers GET /<module>/search with phone= or criteria= (equals and
// starts_with on any field, combined with or/and), 204 when nothing
// matches (spec §3.1).
func (s *Server) search(o *Org, module string, q url.Values) response {
	m := o.Modules[module]
	if m == nil {
		return errResp(400, "INVALID_MODULE", "the module name given seems to be invalid")
	}
	type cond struct{ field, op, value string }
	var conds []cond
	and := false
	switch {
	case q.Get("phone") != "":
		for _, f := range phoneFields {
			conds = append(conds, cond{f, "equals", q.Get("phone")})
		}
	case q.Get("criteria") != "":
		c := q.Get("criteria")
		for _, sm := range criterion.FindAllStringSubmatch(c, -1) {
			v := strings.NewReplacer(`\(`, "(", `\)`, ")", `\,`, ",").Replace(sm[3])
			conds = append(conds, cond{sm[1], sm[2], v})
		}
		if len(conds) == 0 {
			return errDetails(400, "INVALID_QUERY", "invalid query formed", map[string]any{"param": "criteria"})
		}
		if len(conds) > 10 {
			return errDetails(400, "LIMIT_EXCEEDED", "limit exceeded", map[string]any{"limit": 10})
		}
		and = strings.Contains(c, ")and(")
	default:
		return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "criteria"})
	}
	now := s.now()
	var out []Record
	for _, r := range sorted(m) {
		if s.o.SearchLag > 0 {
			if ct, err := time.Parse(time.RFC3339, fmt.Sprint(r["Created_Time"])); err == nil && now.Sub(ct) < s.o.SearchLag {
				continue
			}
		}
		hits := 0
		for _, c := range conds {
			v := fmt.Sprint(r[c.field])
			if r[c.field] != nil && (c.op == "equals" && v == c.value || c.op == "starts_with" && strings.HasPrefix(v, c.value)) {
				hits++
			}
		}
		if and && hits == len(conds) || !and && hits > 0 {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return response{status: 204}
	}
	return ok(map[string]any{"data": out, "info": map[string]any{"per_page": 200, "count": len(out), "page": 1, "more_records": false}})
}

func sorted(m map[string]Record) []Record {
	var out []Record
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return out
}

var (
	coqlRE     = regexp.MustCompile(`(?is)^\s*select\s+(.+?)\s+from\s+([A-Za-z_]+)\s+where\s+(.+?)(?:\s+limit\s+(?:\d+\s*,\s*)?(\d+)(?:\s+offset\s+\d+)?)?\s*$`)
	coqlAtomRE = regexp.MustCompile(`([A-Za-z_]+)\s*(=|like)\s*'((?:[^'\\]|\\.)*)'`)
)

// coql answers a COQL query of the shape Ringside sends: select fields
// from a module where comparisons (= or like with % wildcards) joined by or
// (or and), 204 when empty unless COQLEmpty200 (spec §3.2).
func (s *Server) coql(o *Org, query string) response {
	sm := coqlRE.FindStringSubmatch(query)
	if sm == nil {
		return errDetails(400, "SYNTAX_ERROR", "error in query", map[string]any{"reason": "syntax"})
	}
	m := o.Modules[sm[2]]
	if m == nil {
		return errDetails(400, "INVALID_QUERY", "invalid query formed", map[string]any{"column_name": sm[2], "reason": "invalid module"})
	}
	atoms := coqlAtomRE.FindAllStringSubmatch(sm[3], -1)
	if len(atoms) == 0 || len(atoms) > 25 {
		return errDetails(400, "INVALID_QUERY", "invalid query formed", map[string]any{"reason": "criteria"})
	}
	and := regexp.MustCompile(`(?i)\)\s*and\s*\(`).MatchString(sm[3]) || regexp.MustCompile(`(?i)'\s+and\s+`).MatchString(sm[3])
	fields := strings.Split(sm[1], ",")
	var out []Record
	for _, r := range sorted(m) {
		hits := 0
		for _, a := range atoms {
			v, present := r[a[1]]
			if !present || v == nil {
				continue
			}
			sv := fmt.Sprint(v)
			want := strings.ReplaceAll(a[3], `\'`, "'")
			if a[2] == "=" && sv == want || a[2] == "like" && like(sv, want) {
				hits++
			}
		}
		if and && hits == len(atoms) || !and && hits > 0 {
			sel := Record{"id": r["id"]}
			for _, f := range fields {
				if f = strings.TrimSpace(f); r[f] != nil {
					sel[f] = r[f]
				}
			}
			out = append(out, sel)
		}
	}
	if len(out) == 0 {
		if s.o.COQLEmpty200 {
			return ok(map[string]any{"data": []Record{}, "info": map[string]any{"count": 0, "more_records": false}})
		}
		return response{status: 204}
	}
	return ok(map[string]any{"data": out, "info": map[string]any{"count": len(out), "more_records": false}})
}

// like matches SQL LIKE with % wildcards.
func like(s, pattern string) bool {
	parts := strings.Split(pattern, "%")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return s == ""
}
