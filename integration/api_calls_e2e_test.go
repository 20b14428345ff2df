package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPILiveCallsOnTheBinary: a real call of the simulated PBX (PBX →
// pipeline → NATS → the API's live board) shows in GET
// /api/v1/tenants/acme/calls answered, then ended; globex's board stays
// empty, and a company admin of acme may not read globex's.
func TestAPILiveCallsOnTheBinary(t *testing.T) {
	w := newPortalWorld(t, "")
	// A portal login is a session token, which the API takes as a bearer
	// token as it takes those of `ringside tokens create`.
	bearer := func(username string) string {
		cookie := newPortalClient(t, w.base).login(t, username, portalPassword)
		v, _, _ := strings.Cut(strings.TrimPrefix(cookie, "ringside_session="), ";")
		return v
	}
	olga, adam := bearer("olga"), bearer("adam")
	type call struct {
		CallID                                         string `json:"call_id"`
		State, Direction, External, Agent, Disposition string
		AnsweredSince                                  *time.Time `json:"answered_since"`
	}
	calls := func(token, tenant string, want int) []call {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, w.base+"/api/v1/tenants/"+tenant+"/calls", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("GET calls of %s: %d %s, want %d", tenant, resp.StatusCode, b, want)
		}
		var body struct {
			Calls []call `json:"calls"`
			Now   time.Time
		}
		if want == http.StatusOK && (json.Unmarshal(b, &body) != nil || body.Calls == nil || body.Now.IsZero()) {
			t.Fatalf("GET calls of %s: %s", tenant, b)
		}
		return body.Calls
	}
	if got := calls(olga, "acme", http.StatusOK); len(got) != 0 {
		t.Fatalf("calls before any call: %+v", got)
	}
	trunk, agent, bridge := w.ari.StartInbound("1001")
	var got []call
	eventually(t, 20*time.Second, "the call answered on the API's board", func() bool {
		got = calls(adam, "acme", http.StatusOK)
		return len(got) == 1 && got[0].State == "answered"
	})
	if c := got[0]; c.Direction != "inbound" || c.External != "+4930123456" || c.Agent != "1001" || c.AnsweredSince == nil || c.CallID == "" {
		t.Errorf("the answered call: %+v", c)
	}
	w.ari.EndCall(bridge, trunk, agent)
	eventually(t, 20*time.Second, "the call ended on the API's board", func() bool {
		got = calls(olga, "acme", http.StatusOK)
		return len(got) == 1 && got[0].State == "ended"
	})
	if got[0].Disposition != "answered" {
		t.Errorf("the ended call: %+v", got[0])
	}
	if g := calls(olga, "globex", http.StatusOK); len(g) != 0 {
		t.Errorf("globex sees acme's calls: %+v", g)
	}
	calls(adam, "globex", http.StatusForbidden)
}
