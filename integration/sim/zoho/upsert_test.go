package zohosim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
)

// crmClient is a bare HTTP client of the simulator's CRM API with a token
// of the given scopes.
type crmClient struct {
	t   *testing.T
	sim *zohosim.Server
	tok string
}

func newCRM(t *testing.T, scopes string) *crmClient {
	t.Helper()
	sim := zohosim.New(zohosim.Options{})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddOrg("org", "eu", zohosim.User{ID: "9001", ZohoUser: "pb-1", Email: "ana@acme.example", Name: "Ana", Admin: true})
	rt := sim.SelfClientToken("org", scopes)
	res, err := http.PostForm(sim.AccountsURL("eu")+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {rt}, "client_id": {sim.ClientID()}, "client_secret": {sim.ClientSecret()}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %+v", err, tok)
	}
	return &crmClient{t: t, sim: sim, tok: tok.AccessToken}
}

// post sends body to /crm/v8/<path> and returns the status and decoded
// answer.
func (c *crmClient) post(path string, body any) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.sim.APIDomain("eu")+"/crm/v8/"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Zoho-oauthtoken "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// first is the first per-record result of a write.
func first(out map[string]any) map[string]any {
	d, _ := out["data"].([]any)
	if len(d) == 0 {
		return nil
	}
	r, _ := d[0].(map[string]any)
	return r
}

func TestUpsertOnPhone(t *testing.T) {
	c := newCRM(t, "ZohoCRM.modules.ALL")
	lead := map[string]any{"Last_Name": "Unknown caller +4930111", "Company": "Unknown", "Phone": "+4930111111"}
	status, out := c.post("Leads/upsert", map[string]any{"data": []any{lead}, "duplicate_check_fields": []string{"Phone"}})
	r := first(out)
	if status != 201 || r["action"] != "insert" || r["duplicate_field"] != nil || r["status"] != "success" {
		t.Fatalf("first upsert: %d %v", status, out)
	}
	id := r["details"].(map[string]any)["id"]
	lead["Lead_Source"] = "Phone call"
	status, out = c.post("Leads/upsert", map[string]any{"data": []any{lead}, "duplicate_check_fields": []string{"Phone"}})
	r = first(out)
	if status != 200 || r["action"] != "update" || r["duplicate_field"] != "Phone" || r["details"].(map[string]any)["id"] != id {
		t.Fatalf("second upsert: %d %v", status, out)
	}
	recs := c.sim.Records("org", "Leads")
	if len(recs) != 1 || recs[0]["Lead_Source"] != "Phone call" || recs[0]["Full_Name"] != "Unknown caller +4930111" {
		t.Fatalf("leads %v", recs)
	}

	// Concurrent upserts of one number insert it once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.post("Contacts/upsert", map[string]any{"data": []any{map[string]any{"Last_Name": "X", "Phone": "+4930222222"}},
				"duplicate_check_fields": []string{"Phone"}})
		}()
	}
	wg.Wait()
	if n := len(c.sim.Records("org", "Contacts")); n != 1 {
		t.Fatalf("%d contacts after concurrent upserts", n)
	}

	// Without duplicate_check_fields the system field (Leads: Email) decides.
	_, out = c.post("Leads/upsert", map[string]any{"data": []any{map[string]any{"Last_Name": "Y", "Company": "C", "Phone": "+4930111111"}}})
	if r := first(out); r["action"] != "insert" {
		t.Errorf("upsert without Email matched on Phone: %v", out)
	}

	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"calls cannot be upserted", "Calls/upsert", map[string]any{"data": []any{map[string]any{"Subject": "s"}}}, 400, "INVALID_MODULE"},
		{"tasks cannot be upserted", "Tasks/upsert", map[string]any{"data": []any{map[string]any{"Subject": "s"}}}, 400, "INVALID_MODULE"},
		{"lead without company", "Leads/upsert", map[string]any{"data": []any{map[string]any{"Last_Name": "Z", "Phone": "+4930333"}},
			"duplicate_check_fields": []string{"Phone"}}, 400, "MANDATORY_NOT_FOUND"},
		{"lead insert without company", "Leads", map[string]any{"data": []any{map[string]any{"Last_Name": "Z"}}}, 400, "MANDATORY_NOT_FOUND"},
	} {
		status, out := c.post(tc.path, tc.body)
		code, _ := out["code"].(string)
		if r := first(out); r != nil {
			code, _ = r["code"].(string)
		}
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, out, tc.status, tc.code)
		}
	}
}

func TestTasksValidated(t *testing.T) {
	c := newCRM(t, "")
	contact := c.sim.AddRecord("org", "Contacts", zohosim.Record{"Last_Name": "Meyer"})
	good := map[string]any{"Subject": "Call back +4930111111", "Due_Date": "2025-06-01", "Status": "Not Started",
		"Priority": "High", "Owner": map[string]any{"id": "9001"}, "Who_Id": map[string]any{"id": contact}}
	if status, out := c.post("Tasks", map[string]any{"data": []any{good}}); status != 201 {
		t.Fatalf("good task: %d %v", status, out)
	}
	for field, bad := range map[string]any{"Due_Date": "01.06.2025", "Status": "Open", "Priority": "Urgent",
		"Who_Id": map[string]any{"id": "1"}, "What_Id": map[string]any{"id": contact}, "Owner": map[string]any{"id": "1"}} {
		task := map[string]any{}
		for k, v := range good {
			task[k] = v
		}
		task[field] = bad
		status, out := c.post("Tasks", map[string]any{"data": []any{task}})
		r := first(out)
		details, _ := r["details"].(map[string]any)
		if status != 400 || r["code"] != "INVALID_DATA" || details["api_name"] != field {
			t.Errorf("task with bad %s: %d %v", field, status, out)
		}
	}
	if n := len(c.sim.Records("org", "Tasks")); n != 1 {
		t.Errorf("%d tasks stored, want 1", n)
	}
}

func TestModuleScopes(t *testing.T) {
	c := newCRM(t, "ZohoCRM.modules.calls.ALL,ZohoCRM.modules.leads.CREATE")
	for _, tc := range []struct {
		path   string
		body   any
		status int
	}{
		{"Calls", map[string]any{"data": []any{map[string]any{"Subject": "s", "Call_Type": "Missed",
			"Call_Start_Time": "2025-06-01T10:00:00+00:00"}}}, 201},
		{"Leads", map[string]any{"data": []any{map[string]any{"Last_Name": "L", "Company": "C"}}}, 201},
		{"Leads/upsert", map[string]any{"data": []any{map[string]any{"Last_Name": "L", "Company": "C"}}}, 401}, // no UPDATE
		{"Tasks", map[string]any{"data": []any{map[string]any{"Subject": "s"}}}, 401},
		{"Contacts", map[string]any{"data": []any{map[string]any{"Last_Name": "L"}}}, 401},
	} {
		status, out := c.post(tc.path, tc.body)
		if status != tc.status || status == 401 && out["code"] != "OAUTH_SCOPE_MISMATCH" {
			t.Errorf("POST %s: %d %v, want %d", tc.path, status, out, tc.status)
		}
	}
	if n := len(c.sim.Records("org", "Tasks")); n != 0 || !strings.Contains(c.sim.Requests("POST /crm/v8/Tasks")[0].Path, "Tasks") {
		t.Errorf("a task was stored without the scope")
	}
}
