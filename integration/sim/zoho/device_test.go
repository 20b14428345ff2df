package zohosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestVerificationPageApprovesAsTheUserChosen: a browser enters the code
// and approves as Ben; the device's token is Ben's, with no refresh token
// for online access, and users?type=CurrentUser answers Ben alone.
func TestVerificationPageApprovesAsTheUserChosen(t *testing.T) {
	s := New(Options{DeviceInterval: 100 * time.Millisecond})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddOrg("org-acme", "eu", User{ID: "9001", ZohoUser: "pb-1", Email: "ana@acme.example", Name: "Ana", Admin: true},
		User{ID: "9002", ZohoUser: "pb-2", Email: "ben@acme.example", Name: "Ben"})
	post := func(u string, form url.Values) (int, string) {
		t.Helper()
		resp, err := http.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	accounts := s.AccountsURL("eu")
	_, body := post(accounts+"/oauth/v3/device/code", url.Values{"client_id": {s.ClientID()}, "grant_type": {"device_request"},
		"scope": {"ZohoCRM.users.READ"}, "access_type": {"online"}})
	var dc struct {
		UserCode        string `json:"user_code"`
		DeviceCode      string `json:"device_code"`
		VerificationURL string `json:"verification_url"`
	}
	if err := json.Unmarshal([]byte(body), &dc); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(dc.VerificationURL + "?code=" + dc.UserCode)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`value="` + dc.UserCode + `"`, `id="approve-org-acme-9002"`, `id="deny"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the verification page lacks %s", want)
		}
	}
	if status, _ := post(dc.VerificationURL, url.Values{"user_code": {"SIM-9999"}, "approve": {"org-acme/ben@acme.example"}}); status != 400 {
		t.Errorf("an unknown code: %d", status)
	}
	if status, body := post(dc.VerificationURL, url.Values{"user_code": {dc.UserCode}, "approve": {"org-acme/ben@acme.example"}}); status != 200 || !strings.Contains(body, "Approved as ben@acme.example") {
		t.Fatalf("approve: %d %s", status, body)
	}
	_, body = post(accounts+"/oauth/v3/device/token", url.Values{"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"grant_type": {"device_token"}, "code": {dc.DeviceCode}})
	var tok map[string]any
	_ = json.Unmarshal([]byte(body), &tok)
	if tok["access_token"] == nil || tok["refresh_token"] != nil {
		t.Fatalf("token answer %s: want an access token alone (online access)", body)
	}
	req, _ := http.NewRequest("GET", s.APIDomain("eu")+"/crm/v8/users?type=CurrentUser", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok["access_token"].(string))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var us struct {
		Users []struct{ ID, Email string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&us)
	resp.Body.Close()
	if len(us.Users) != 1 || us.Users[0].ID != "9002" || us.Users[0].Email != "ben@acme.example" {
		t.Errorf("CurrentUser: %+v", us)
	}
}
