package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/livecalls"
	"github.com/ringside/ringside/pkg/store"
)

// callsStore knows tenants acme and globex and the sessions of an operator
// and of globex's admin; the rest of store.Store is not used (a call
// panics).
type callsStore struct{ store.Store }

var callsAccounts = map[string]store.Account{
	directory.TokenID("rsk_operator"): {Username: "olga", Role: store.RoleOperator},
	directory.TokenID("rsk_globex"):   {Username: "gil", Role: store.RoleAdmin, Tenant: "globex"},
}

func (callsStore) Tenant(_ context.Context, id string) (store.Tenant, error) {
	if id != "acme" && id != "globex" {
		return store.Tenant{}, store.ErrNotFound
	}
	return store.Tenant{ID: id}, nil
}

func (callsStore) Session(_ context.Context, id string) (store.Session, error) {
	a, ok := callsAccounts[id]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return store.Session{ID: id, Username: a.Username}, nil
}

func (callsStore) Account(_ context.Context, username string) (store.Account, error) {
	for _, a := range callsAccounts {
		if a.Username == username {
			return a, nil
		}
	}
	return store.Account{}, store.ErrNotFound
}

// wireCall mirrors the Call schema of openapi.yaml, to decode strictly.
type wireCall struct {
	CallID        string     `json:"call_id"`
	State         string     `json:"state"`
	Direction     string     `json:"direction"`
	External      string     `json:"external"`
	ExternalName  string     `json:"external_name"`
	Dialed        string     `json:"dialed"`
	Caller        string     `json:"caller"`
	RingingAt     []string   `json:"ringing_at"`
	Agent         string     `json:"agent"`
	Disposition   string     `json:"disposition"`
	Since         time.Time  `json:"since"`
	AnsweredSince *time.Time `json:"answered_since"`
	EndedSince    *time.Time `json:"ended_since"`
	Updated       time.Time  `json:"updated"`
}

func TestLiveCalls(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	board := livecalls.New(livecalls.Options{Now: clock})
	ev := func(tenant, id string, seq uint32, typ events.Type, f func(*events.Call)) {
		e := events.Call{V: 1, ID: events.MsgID(id, seq), Type: typ, CallID: id, Seq: seq, Tenant: tenant,
			Direction: events.Inbound, External: "+4930123456", ExternalName: "Eva Meyer", Dialed: "+4930999000"}
		if f != nil {
			f(&e)
		}
		board.Apply(e)
		now = now.Add(time.Second)
	}
	ev("acme", "c1", 1, events.Started, nil)
	ev("acme", "c1", 2, events.Ringing, func(e *events.Call) { e.Agent = "1001" })
	ev("acme", "c2", 1, events.Started, nil)
	ev("acme", "c2", 2, events.Answered, func(e *events.Call) { e.Agent, e.AnsweredBy = "1002", "1002" })
	ev("acme", "c2", 3, events.Ended, func(e *events.Call) { e.AnsweredBy, e.Disposition = "1002", events.DispositionAnswered })
	ev("globex", "g1", 1, events.Started, nil)

	dir, err := directory.New(directory.Options{Store: callsStore{},
		URLs:      func(string) (string, map[string]string) { return "", nil },
		NewSecret: func() string { return "s" }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(h *Handler, token, path string) (int, []byte) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		return w.Code, b
	}
	h, err := New(Options{Directory: dir, Live: board, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(h, "rsk_operator", "/api/v1/tenants/acme/calls")
	var got struct {
		Calls []wireCall `json:"calls"`
		Now   time.Time  `json:"now"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if code != http.StatusOK || dec.Decode(&got) != nil {
		t.Fatalf("%d %s", code, body)
	}
	if len(got.Calls) != 2 || !got.Now.Equal(now) {
		t.Fatalf("acme's board: %s", body)
	}
	ringing, ended := got.Calls[0], got.Calls[1]
	if ringing.CallID != "c1" || ringing.State != "ringing" || ringing.Direction != "inbound" || ringing.External != "+4930123456" ||
		ringing.ExternalName != "Eva Meyer" || len(ringing.RingingAt) != 1 || ringing.RingingAt[0] != "1001" ||
		ringing.AnsweredSince != nil || ringing.EndedSince != nil || ringing.Disposition != "" || ringing.Since.IsZero() {
		t.Errorf("the ringing call: %+v", ringing)
	}
	if ended.CallID != "c2" || ended.State != "ended" || ended.Agent != "1002" || ended.Disposition != "answered" ||
		ended.AnsweredSince == nil || ended.EndedSince == nil || ended.RingingAt == nil {
		t.Errorf("the ended call: %+v (ringing_at must be [] rather than null)", ended)
	}

	for _, c := range []struct {
		token, path string
		want        int
	}{
		{"rsk_globex", "/api/v1/tenants/acme/calls", http.StatusForbidden},
		{"rsk_operator", "/api/v1/tenants/initech/calls", http.StatusNotFound},
		{"rsk_operator", "/api/v1/tenants/acme/calls?state=ringing", http.StatusBadRequest},
		{"rsk_nobody", "/api/v1/tenants/acme/calls", http.StatusUnauthorized},
	} {
		if code, body := get(h, c.token, c.path); code != c.want {
			t.Errorf("GET %s as %s: %d %s, want %d", c.path, c.token, code, body, c.want)
		}
	}
	if code, body := get(h, "rsk_globex", "/api/v1/tenants/globex/calls"); code != http.StatusOK || !bytes.Contains(body, []byte(`"call_id":"g1"`)) ||
		bytes.Contains(body, []byte(`"c1"`)) {
		t.Errorf("globex's admin sees %d %s", code, body)
	}

	// A server that follows no calls answers none.
	quiet, err := New(Options{Directory: dir, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(quiet, "rsk_operator", "/api/v1/tenants/acme/calls"); code != http.StatusOK || !bytes.HasPrefix(body, []byte(`{"calls":[],"now":`)) {
		t.Errorf("without a board: %d %s", code, body)
	}
}
