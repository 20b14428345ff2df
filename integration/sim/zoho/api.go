package zohosim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// api serves the API domain of data centre dc: PhoneBridge v3 and CRM v8.
func (s *Server) api(dc, path string, r *http.Request, rec *Request) response {
	auth := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(auth, "Zoho-oauthtoken ")
	pb := strings.HasPrefix(path, "/phonebridge/v3/")
	if !found {
		if b, isBearer := strings.CutPrefix(auth, "Bearer "); isBearer && !(pb && s.o.RejectBearer) {
			tok, found = b, true
		}
	}
	s.mu.Lock()
	a := s.access[tok]
	var o *Org
	switch {
	case !found || a == nil || a.revoked || a.dc != dc:
		s.mu.Unlock()
		return errResp(401, "INVALID_TOKEN", "invalid oauth token")
	case !s.now().Before(a.expires):
		s.mu.Unlock()
		return errResp(401, "INVALID_TOKEN", "invalid oauth token")
	}
	o = s.orgs[a.org]
	rec.Org = o.ID
	if pb {
		defer s.mu.Unlock()
		return s.phonebridge(o, strings.TrimPrefix(path, "/phonebridge/v3"), r.Method, rec.Form)
	}
	if !strings.HasPrefix(path, "/crm/v8/") {
		s.mu.Unlock()
		return errResp(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
	}
	if o.Concurrency > 0 && o.inflight >= o.Concurrency {
		s.mu.Unlock()
		return errResp(429, "TOO_MANY_REQUESTS", "concurrency limit exceeded")
	}
	o.inflight++
	s.mu.Unlock()
	if s.o.Latency > 0 {
		time.Sleep(s.o.Latency)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o.inflight--
	cost := 1
	var body struct {
		Data []Record `json:"data"`
	}
	_ = json.Unmarshal(rec.Body, &body)
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if len(body.Data) > 0 && !strings.HasSuffix(path, "/coql") {
			cost = (len(body.Data) + 9) / 10
		}
	}
	if o.CreditLimit > 0 && o.Credits+cost > o.CreditLimit {
		return errResp(429, "TOO_MANY_REQUESTS", "API credits exhausted")
	}
	o.Credits += cost
	out := s.crm(o, strings.TrimPrefix(path, "/crm/v8"), r.Method, rec.Query, rec.Body, body.Data, a.scopes, a.user)
	if o.CreditLimit > 0 && o.Credits*2 >= o.CreditLimit {
		out.header = map[string]string{"X-API-CREDITS-REMAINING": strconv.Itoa(o.CreditLimit - o.Credits)}
	}
	return out
}

var pbSuccess = map[string]any{"status": "success", "code": "SUCCESS"}

// phonebridge serves /phonebridge/v3/… (spec §1). Caller holds s.mu.
func (s *Server) phonebridge(o *Org, path, method string, f url.Values) response {
	if f == nil {
		f = url.Values{}
	}
	if path != "/integrate" && s.o.RequireIntegrate && !o.Integrated {
		return errResp(400, "PBX_NOT_INTEGRATED", "integrate first")
	}
	user := func() (string, bool) {
		zu := f.Get("zohouser")
		if zu == "" {
			return "", true
		}
		for _, u := range o.Users {
			if u.ZohoUser == zu {
				return zu, true
			}
		}
		return zu, false
	}
	switch path {
	case "/integrate":
		switch method {
		case http.MethodPost:
			o.Integrated = true
			return ok(map[string]any{"status": "success", "code": "SUCCESS", "message": "Ringside Integration is successful"})
		case http.MethodDelete:
			o.Integrated = false
			return ok(map[string]any{"status": "success", "code": "SUCCESS", "message": "Ringside Integration has been successfully removed"})
		}
	case "/users":
		if method == http.MethodGet {
			var us []map[string]string
			for _, u := range o.Users {
				us = append(us, map[string]string{"zohouser": u.ZohoUser, "email": u.Email, "username": u.Name})
			}
			return ok(map[string]any{"users": us, "paging": map[string]any{"perPage": 200, "page": 1},
				"navigation": map[string]any{"firstPage": "", "lastPage": ""}})
		}
	case "/clicktodial", "/callcontrol":
		zu, good := user()
		if !good {
			return errResp(400, "INVALID_USER", "Please check the user configuration")
		}
		regs := o.ClickToDial
		need := "clicktodialuri"
		if path == "/callcontrol" {
			regs, need = o.CallControl, "answeruri"
		}
		switch method {
		case http.MethodPost:
			if f.Get(need) == "" {
				return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": need})
			}
			if ap := f.Get("authorizationparam"); ap != "" && !json.Valid([]byte(ap)) {
				return errDetails(400, "INVALID_DATA", "invalid authorizationparam", map[string]any{"param": "authorizationparam"})
			}
			regs[zu] = f
			return ok(pbSuccess)
		case http.MethodDelete:
			delete(regs, zu)
			return ok(pbSuccess)
		}
	case "/callnotify":
		if method == http.MethodPost {
			return s.callnotify(o, f, user)
		}
	case "/clicktodialerror":
		if method == http.MethodPost {
			for _, p := range []string{"code", "from", "to"} {
				if f.Get(p) == "" {
					return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": p})
				}
			}
			if !slices.Contains(unattended, f.Get("code")) {
				return errDetails(400, "INVALID_DATA", "invalid code", map[string]any{"param": "code"})
			}
			o.DialErrors = append(o.DialErrors, f)
			return ok(pbSuccess)
		}
	}
	return errResp(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
}

var unattended = []string{"busy", "invalid", "blocked", "notavailable", "noanswer", "rejected"}

// StartTimeLayout is PhoneBridge's start_time format (UTC).
const StartTimeLayout = "2006-01-02 15:04:05"

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// callnotify validates a call event (spec §1.8) and logs a Calls record on
// a terminal state, as Zoho does.
func (s *Server) callnotify(o *Org, f url.Values, user func() (string, bool)) response {
	for _, p := range []string{"type", "state", "id", "from", "to"} {
		if f.Get(p) == "" {
			return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": p})
		}
	}
	typ, state := f.Get("type"), f.Get("state")
	var valid []string
	switch typ {
	case "received":
		valid = []string{"ringing", "answered", "missed", "ended"}
	case "dialed":
		valid = append([]string{"ringing", "answered", "ended"}, unattended...)
	default:
		return errDetails(400, "INVALID_DATA", "invalid type", map[string]any{"param": "type"})
	}
	if !slices.Contains(valid, state) {
		return errDetails(400, "INVALID_DATA", "invalid state", map[string]any{"param": "state"})
	}
	if s.o.StrictStates && state != "ringing" && state != "answered" && state != "ended" {
		return errDetails(400, "INVALID_DATA", "invalid state", map[string]any{"param": "state"})
	}
	if _, good := user(); !good {
		return errResp(400, "INVALID_USER", "Please check the user configuration")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(f.Get("id")) {
		return errDetails(400, "INVALID_DATA", "invalid id", map[string]any{"param": "id"})
	}
	// The customer's number must be E.164 (a "+" sent unencoded arrives as
	// a space and fails here).
	customer := f.Get("from")
	if typ == "dialed" {
		customer = f.Get("to")
	}
	if !e164.MatchString(customer) {
		return errDetails(400, "INVALID_DATA", "invalid number", map[string]any{"param": "from/to"})
	}
	terminal := state != "ringing" && state != "answered"
	if terminal {
		st := f.Get("start_time")
		if st == "" {
			return errDetails(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "start_time"})
		}
		if _, err := time.Parse(StartTimeLayout, st); err != nil {
			return errDetails(400, "INVALID_DATA", "invalid start_time", map[string]any{"param": "start_time"})
		}
		if d := f.Get("duration"); state == "ended" && d != "" {
			if _, err := strconv.Atoi(d); err != nil {
				return errDetails(400, "INVALID_DATA", "invalid duration", map[string]any{"param": "duration"})
			}
		}
	}
	o.Notifications = append(o.Notifications, f)
	if terminal && s.o.DedupeNotify {
		for _, r := range o.Modules["Calls"] {
			if r["PhoneBridge_Id"] == f.Get("id") {
				return ok(pbSuccess)
			}
		}
	}
	if terminal {
		// Zoho logs the call itself: one Calls record per terminal state.
		t, _ := time.Parse(StartTimeLayout, f.Get("start_time"))
		ct := "Inbound"
		switch {
		case typ == "dialed":
			ct = "Outbound"
		case state == "missed":
			ct = "Missed"
		}
		dur, _ := strconv.Atoi(f.Get("duration"))
		id := s.newID()
		o.Modules["Calls"][id] = Record{"id": id, "Subject": "PhoneBridge " + typ + " " + state, "Call_Type": ct,
			"Call_Start_Time": t.UTC().Format(time.RFC3339), "Call_Duration": mmss(dur), "PhoneBridge_Id": f.Get("id"),
			"PhoneBridge_User": f.Get("zohouser"), "PhoneBridge_State": state, "Voice_Recording__s": f.Get("voiceuri"),
			"Created_Time": s.now().UTC().Format(time.RFC3339)}
	}
	return ok(pbSuccess)
}

func mmss(sec int) string { return pad2(sec/60) + ":" + pad2(sec%60) }

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
