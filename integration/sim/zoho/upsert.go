package zohosim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// upsertModules are the simulated modules Zoho's upsert accepts (spec §7:
// Leads, Contacts, Accounts among others; never Calls, Tasks or Events).
var upsertModules = []string{"Leads", "Contacts", "Accounts"}

// systemDuplicateFields are checked when a request names none (spec §7).
var systemDuplicateFields = map[string][]string{"Leads": {"Email"}, "Contacts": {"Email"}, "Accounts": {"Account_Name"}}

// upsert answers POST /<module>/upsert (spec §7): each record updates the
// oldest stored record that has the same value in the first of the
// duplicate_check_fields that matches (checked in the order given), or is
// inserted. Per-record results carry "action" (insert or update) and
// "duplicate_field" (the field that matched, null on insert). 201 when
// every record was inserted, 200 when some updated, 207 when mixed, 400
// when the only record failed. Records of one request are applied in
// order under the simulator's lock, so one request (or concurrent ones)
// never inserts a number twice.
func (s *Server) upsert(o *Org, module string, raw []byte, data []Record) response {
	m := o.Modules[module]
	if m == nil || !slices.Contains(upsertModules, module) {
		// The code Zoho answers for a module without upsert: UNCONFIRMED.
		return errResp(400, "INVALID_MODULE", "the module name given seems to be invalid")
	}
	switch {
	case len(data) == 0:
		return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "data"})
	case len(data) > 100:
		return errDetails(400, "LIMIT_EXCEEDED", "limit exceeded", map[string]any{"limit": 100})
	}
	var b struct {
		Fields []string `json:"duplicate_check_fields"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return errDetails(400, "INVALID_DATA", "invalid data", map[string]any{"param": "duplicate_check_fields"})
	}
	fields := b.Fields
	if len(fields) == 0 {
		fields = systemDuplicateFields[module]
	}
	for _, f := range fields {
		if f == "" || f == "id" {
			return errDetails(400, "INVALID_DATA", "invalid data", map[string]any{"param": "duplicate_check_fields"})
		}
	}
	now := s.now().UTC().Format(time.RFC3339)
	var rs []map[string]any
	inserted := 0
	for i, r := range data {
		old, field := duplicateOf(m, r, fields)
		if e := s.validate(o, module, r, i, old); e != nil {
			rs = append(rs, e)
			continue
		}
		if old != nil {
			for k, v := range r {
				old[k] = v
			}
			setFullName(module, old)
			rs = append(rs, map[string]any{"code": "SUCCESS", "action": "update", "duplicate_field": field,
				"message": "record updated", "status": "success",
				"details": map[string]any{"id": old["id"], "Modified_Time": now, "Created_Time": old["Created_Time"]}})
			continue
		}
		id := s.newID()
		c := Record{"id": id, "Created_Time": now}
		for k, v := range r {
			c[k] = v
		}
		setFullName(module, c)
		m[id] = c
		inserted++
		rs = append(rs, map[string]any{"code": "SUCCESS", "action": "insert", "duplicate_field": nil,
			"message": "record added", "status": "success",
			"details": map[string]any{"id": id, "Created_Time": now, "Modified_Time": now}})
	}
	status := http.StatusOK
	if inserted == len(data) {
		status = http.StatusCreated
	}
	return results(rs, status)
}

// duplicateOf returns the oldest record of m with r's value in one of
// fields (the first field that matches wins) and that field.
func duplicateOf(m map[string]Record, r Record, fields []string) (Record, string) {
	recs := sorted(m)
	for _, f := range fields {
		v, found := r[f]
		if !found || v == nil || v == "" {
			continue
		}
		for _, old := range recs {
			if ov, present := old[f]; present && ov == v {
				return old, f
			}
		}
	}
	return nil, ""
}

// setFullName keeps the system field Full_Name of a Lead or Contact as
// Zoho does: First_Name and Last_Name joined.
func setFullName(module string, r Record) {
	if module != "Leads" && module != "Contacts" {
		return
	}
	first, _ := r["First_Name"].(string)
	last, _ := r["Last_Name"].(string)
	if n := strings.TrimSpace(first + " " + last); n != "" {
		r["Full_Name"] = n
	}
}

// Picklist values of Tasks (spec §2.6: the CRM defaults; orgs may change
// them).
var (
	taskStatuses   = []string{"Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"}
	taskPriorities = []string{"High", "Highest", "Low", "Lowest", "Normal"}
)

// validateTask checks a Tasks record (spec §2.6): Due_Date yyyy-MM-dd, the
// default Status and Priority picklists, and its links.
func (s *Server) validateTask(o *Org, r Record, i int) map[string]any {
	if v, found := r["Due_Date"]; found {
		d, _ := v.(string)
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return recErr("INVALID_DATA", "invalid data", "Due_Date", i)
		}
	}
	for f, allowed := range map[string][]string{"Status": taskStatuses, "Priority": taskPriorities} {
		if v, found := r[f]; found {
			if sv, _ := v.(string); !slices.Contains(allowed, sv) {
				return recErr("INVALID_DATA", "invalid data", f, i)
			}
		}
	}
	return related(o, r, i)
}

// moduleScope answers 401 OAUTH_SCOPE_MISMATCH (spec §5.7) when the token's
// scopes (comma- or space-separated; empty: not recorded, anything goes)
// grant neither ZohoCRM.modules.ALL nor ZohoCRM.modules.<module>.ALL nor
// the operation's own scope: READ for GET and search, CREATE for POST,
// UPDATE for PUT, DELETE for DELETE, CREATE and UPDATE for an upsert (the
// simulator's reading: an upsert may do either; UNCONFIRMED).
func moduleScope(scopes, module, method string, upsert bool) *response {
	if scopes == "" {
		return nil
	}
	var ops []string
	switch {
	case upsert:
		ops = []string{"CREATE", "UPDATE"}
	case method == http.MethodGet:
		ops = []string{"READ"}
	case method == http.MethodPost:
		ops = []string{"CREATE"}
	case method == http.MethodPut:
		ops = []string{"UPDATE"}
	case method == http.MethodDelete:
		ops = []string{"DELETE"}
	}
	granted := strings.FieldsFunc(scopes, func(r rune) bool { return r == ',' || r == ' ' })
	has := func(scope string) bool {
		return slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, scope) })
	}
	if has("ZohoCRM.modules.ALL") || has("ZohoCRM.modules."+module+".ALL") {
		return nil
	}
	for _, op := range ops {
		if !has("ZohoCRM.modules." + module + "." + op) {
			e := errResp(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")
			return &e
		}
	}
	return nil
}
