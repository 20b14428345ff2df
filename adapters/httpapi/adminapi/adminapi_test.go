package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// panicStore satisfies store.Store for handlers that must not reach the
// store: any call panics (the embedded interface is nil).
type panicStore struct{ store.Store }

// newTestHandler returns a handler whose service has no usable store: good
// for everything decided before the service is called.
func newTestHandler(t *testing.T, reg prometheus.Registerer) *Handler {
	t.Helper()
	dir, err := directory.New(directory.Options{Store: panicStore{},
		URLs:      func(string) (string, map[string]string) { return "", nil },
		NewSecret: func() string { return "s" }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Directory: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// loadDoc parses the embedded OpenAPI document.
func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

// at walks doc along keys (maps only).
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("openapi.yaml: %s: not a mapping", strings.Join(keys, "."))
		}
		v = m[k]
	}
	return v
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// TestOpenAPIMatchesRoutes keeps the document and the handler in step: every
// route registered is documented and every documented operation is
// registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDoc(t)
	if v := at(t, doc, "openapi"); v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	servers, _ := at(t, doc, "servers").([]any)
	if len(servers) != 1 || at(t, servers[0], "url") != strings.TrimSuffix(Prefix, "/") {
		t.Fatalf("servers = %v, want one with url %s", servers, strings.TrimSuffix(Prefix, "/"))
	}
	var documented []string
	for path, item := range at(t, doc, "paths").(map[string]any) {
		for _, m := range httpMethods {
			if at(t, item, m) != nil {
				documented = append(documented, strings.ToUpper(m)+" "+strings.TrimSuffix(Prefix, "/")+path)
			}
		}
	}
	registered := newTestHandler(t, nil).Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is registered but not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("operation %q is in openapi.yaml but not registered", d)
		}
	}
	if len(registered) != len(slices.Compact(slices.Clone(registered))) {
		t.Errorf("a route is registered twice: %v", registered)
	}
}

// TestOpenAPIOperations checks what every operation must say: a unique
// operationId, its path parameters, 401 unless it needs no token, and an
// Error body for every error status.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadDoc(t)
	ids := map[string]string{}
	wild := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range at(t, doc, "paths").(map[string]any) {
		for _, m := range httpMethods {
			op, _ := at(t, item, m).(map[string]any)
			if op == nil {
				continue
			}
			name := strings.ToUpper(m) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q missing or already used by %s", name, id, ids[id])
			}
			ids[id] = name

			declared := map[string]bool{}
			params, _ := at(t, item, "parameters").([]any)
			ops, _ := op["parameters"].([]any)
			for _, p := range append(params, ops...) {
				p = resolve(t, doc, p)
				if at(t, p, "in") == "path" {
					declared[at(t, p, "name").(string)] = true
				}
			}
			for _, w := range wild.FindAllStringSubmatch(path, -1) {
				if !declared[w[1]] {
					t.Errorf("%s: path parameter %s not declared", name, w[1])
				}
			}

			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", name)
			}
			sec, explicit := op["security"].([]any)
			public := explicit && len(sec) == 0
			if _, ok := responses["401"]; !ok && !public {
				t.Errorf("%s: needs a token but documents no 401", name)
			}
			if _, ok := responses["500"]; !ok && !public {
				t.Errorf("%s: documents no 500", name)
			}
			for code, resp := range responses {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				schema := at(t, resolve(t, doc, resp), "content", "application/json", "schema")
				if ref, _ := at(t, schema, "$ref").(string); ref != "#/components/schemas/Error" {
					t.Errorf("%s: response %s is not the Error shape", name, code)
				}
			}
		}
	}
	scheme := at(t, doc, "components", "securitySchemes", "bearer")
	if at(t, scheme, "type") != "http" || at(t, scheme, "scheme") != "bearer" {
		t.Errorf("securitySchemes.bearer = %v, want type http, scheme bearer", scheme)
	}
	global, _ := at(t, doc, "security").([]any)
	if len(global) != 1 || at(t, global[0], "bearer") == nil {
		t.Errorf("security = %v, want [bearer]", global)
	}
	var codes []string
	for _, c := range at(t, doc, "components", "schemas", "Error", "properties", "error", "properties", "code", "enum").([]any) {
		codes = append(codes, c.(string))
	}
	want := []string{codeNotFound, codeConflict, codeInvalid, codeForbidden, codeUnauthorized, codeNotConnected, codeNoPBX, codeZoho, codeInternal}
	slices.Sort(codes)
	slices.Sort(want)
	if !slices.Equal(codes, want) {
		t.Errorf("Error.code enum = %v, want %v", codes, want)
	}
	checkRefs(t, doc, doc, "")
}

// resolve follows a local $ref.
func resolve(t *testing.T, doc, v any) any {
	t.Helper()
	ref, _ := at(t, v, "$ref").(string)
	if ref == "" {
		return v
	}
	keys := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	r := at(t, doc, keys...)
	if r == nil {
		t.Fatalf("$ref %s does not resolve", ref)
	}
	return r
}

// checkRefs reports every $ref that does not resolve.
func checkRefs(t *testing.T, doc, v any, where string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if !strings.HasPrefix(ref, "#/") || at(t, doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...) == nil {
				t.Errorf("%s: $ref %s does not resolve", where, ref)
			}
		}
		for k, x := range v {
			checkRefs(t, doc, x, where+"/"+k)
		}
	case []any:
		for i, x := range v {
			checkRefs(t, doc, x, fmt.Sprintf("%s/%d", where, i))
		}
	}
}

// TestRefusedBeforeTheService covers what the handler answers without the
// service: the public document, unknown paths and methods, and requests
// without a usable token (the store is never reached: panicStore).
func TestRefusedBeforeTheService(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newTestHandler(t, reg)
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		code, challenge, allow   string
	}{
		{name: "document", method: "GET", path: "/api/v1/openapi.yaml", status: 200},
		{name: "document head", method: "HEAD", path: "/api/v1/openapi.yaml", status: 200},
		{name: "unknown path", method: "GET", path: "/api/v1/nope", status: 404, code: codeNotFound},
		{name: "wrong method", method: "POST", path: "/api/v1/audit", status: 405, code: codeInvalid, allow: "GET, HEAD"},
		{name: "no token", method: "GET", path: "/api/v1/tenants", status: 401, code: codeUnauthorized,
			challenge: `Bearer realm="ringside"`},
		{name: "basic auth", method: "GET", path: "/api/v1/tenants", auth: "Basic YTpi", status: 401, code: codeUnauthorized,
			challenge: `Bearer realm="ringside"`},
		{name: "empty bearer", method: "GET", path: "/api/v1/tenants", auth: "Bearer ", status: 401, code: codeUnauthorized,
			challenge: `Bearer realm="ringside"`},
		{name: "not a ringside token", method: "GET", path: "/api/v1/tenants", auth: "Bearer abc", status: 401,
			code: codeUnauthorized, challenge: `Bearer realm="ringside", error="invalid_token"`},
		{name: "token too long", method: "DELETE", path: "/api/v1/accounts/x", auth: "bearer rsk_" + strings.Repeat("a", 200),
			status: 401, code: codeUnauthorized, challenge: `Bearer realm="ringside", error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			if tc.code == "" {
				if tc.method == "GET" && !bytes.Equal(w.Body.Bytes(), OpenAPI()) {
					t.Error("the document served is not the embedded one")
				}
				return
			}
			var e errorBody
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("body %+v (%v), want code %s", e, err, tc.code)
			}
		})
	}
	for route, want := range map[[2]string]float64{
		{"GET /api/v1/tenants", "401"}:                4,
		{routeOther, "404"}:                           1,
		{routeOther, "405"}:                           1,
		{"GET /api/v1/openapi.yaml", "200"}:           2,
		{"DELETE /api/v1/accounts/{username}", "401"}: 1,
	} {
		if got := testutil.ToFloat64(h.requests.WithLabelValues(route[0], route[1])); got != want {
			t.Errorf("ringside_api_requests_total{route=%q,code=%q} = %v, want %v", route[0], route[1], got, want)
		}
	}
	if _, err := New(Options{Directory: h.dir, Registerer: reg}); err == nil {
		t.Error("a second handler on the same registerer: want an error")
	}
}

func TestDecodeBody(t *testing.T) {
	type body struct {
		A string `json:"a"`
		B *bool  `json:"b"`
	}
	for _, tc := range []struct {
		name, ctype, body string
		need              bool
		status            int // 0: accepted
	}{
		{name: "object", ctype: "application/json", body: `{"a":"x","b":true}`, need: required},
		{name: "charset", ctype: "application/json; charset=UTF-8", body: `{"a":"x"}`, need: required},
		{name: "whitespace around", ctype: "application/json", body: " \n{\"a\":\"x\"}\n ", need: required},
		{name: "absent optional", body: "", need: optional},
		{name: "absent required", body: "", need: required, status: 400},
		{name: "no content type", body: `{"a":"x"}`, need: required, status: 415},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: `a=x`, need: required, status: 415},
		{name: "other charset", ctype: "application/json; charset=latin1", body: `{"a":"x"}`, need: required, status: 415},
		{name: "unknown field", ctype: "application/json", body: `{"a":"x","c":1}`, need: required, status: 400},
		{name: "wrong type", ctype: "application/json", body: `{"a":1}`, need: required, status: 400},
		{name: "malformed", ctype: "application/json", body: `{"a":`, need: required, status: 400},
		{name: "syntax", ctype: "application/json", body: `{"a" "x"}`, need: required, status: 400},
		{name: "trailing garbage", ctype: "application/json", body: `{"a":"x"} xyz`, need: required, status: 400},
		{name: "two objects", ctype: "application/json", body: `{"a":"x"}{"a":"y"}`, need: required, status: 400},
		{name: "null", ctype: "application/json", body: `null`, need: required, status: 400},
		{name: "array", ctype: "application/json", body: `[]`, need: required, status: 400},
		{name: "too large", ctype: "application/json", body: `{"a":"` + strings.Repeat("x", MaxBody) + `"}`, need: required, status: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/x", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
			var v body
			err := decodeBody(r, &v, tc.need)
			status := 0
			if err != nil {
				status = classify(err).status
			}
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, err, tc.status)
			}
			if err != nil && strings.Contains(err.Error(), strings.Repeat("x", 20)) {
				t.Errorf("the error echoes the body: %.80s", err)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	for _, tc := range []struct {
		query   string
		want    store.Page
		invalid bool
	}{
		{query: "", want: store.Page{Offset: 0, Limit: store.DefaultLimit}},
		{query: "offset=5&limit=2", want: store.Page{Offset: 5, Limit: 2}},
		{query: "limit=0", want: store.Page{Limit: store.DefaultLimit}},
		{query: "limit=1000", want: store.Page{Limit: 1000}},
		{query: "limit=1001", invalid: true},
		{query: "offset=-1", invalid: true},
		{query: "limit=ten", invalid: true},
		{query: "offset=1e3", invalid: true},
		{query: "offset=99999999999999999999999", invalid: true},
		{query: "limit=1&limit=2", invalid: true},
		{query: "page=2", invalid: true},
		{query: "limit=%zz", invalid: true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/audit?"+tc.query, nil)
			q, err := query(r, "tenant", "offset", "limit")
			var p store.Page
			if err == nil {
				p, err = page(q)
			}
			if tc.invalid {
				if err == nil || classify(err).status != http.StatusBadRequest {
					t.Fatalf("err %v, want a 400", err)
				}
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("page %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		values []string
		tok    string
	}{
		{[]string{"Bearer rsk_x"}, "rsk_x"},
		{[]string{"bearer rsk_x"}, "rsk_x"},
		{[]string{"BEARER  rsk_x"}, "rsk_x"},
		{nil, ""},
		{[]string{"Bearer"}, ""},
		{[]string{"Bearer rsk_x rsk_y"}, ""},
		{[]string{"Token rsk_x"}, ""},
		{[]string{"Bearer rsk_x", "Bearer rsk_y"}, ""},
	} {
		tok, ok := bearer(tc.values)
		if tok != tc.tok || ok != (tc.tok != "") {
			t.Errorf("bearer(%q) = %q, %v; want %q", tc.values, tok, ok, tc.tok)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", store.ErrNotFound), 404, codeNotFound},
		{fmt.Errorf("x: %w", store.ErrConflict), 409, codeConflict},
		{fmt.Errorf("x: %w", store.ErrInvalid), 400, codeInvalid},
		{fmt.Errorf("x: %w", directory.ErrForbidden), 403, codeForbidden},
		{fmt.Errorf("x: %w", directory.ErrUnauthorized), 401, codeUnauthorized},
		{fmt.Errorf("x: %w", directory.ErrNotConnected), 409, codeNotConnected},
		{directory.ErrNoPBX, 503, codeNoPBX},
		{fmt.Errorf("x: %w: %w", directory.ErrZoho, errors.New("http 400 INVALID_DATA")), 502, codeZoho},
		{errors.New("redis: dial tcp 10.0.0.1:6379: secret-ish detail"), 500, codeInternal},
	} {
		e := classify(tc.err)
		if e.status != tc.status || e.code != tc.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", tc.err, e.status, e.code, tc.status, tc.code)
		}
		if tc.code == codeInternal && strings.Contains(e.msg, "redis") {
			t.Errorf("internal message leaks the cause: %q", e.msg)
		}
	}
}

// TestViewsHoldNoSecrets: what the API sends never carries a link secret,
// a refresh token or a password hash.
func TestViewsHoldNoSecrets(t *testing.T) {
	now := time.Now()
	link := store.Link{Tenant: "acme", Extension: "1001", ZohoUser: "pb-1", Secret: "LINKSECRET", LinkedAt: now}
	for name, v := range map[string]any{
		"link": linkOf(link),
		"user": userOf(directory.User{Link: &link}),
		"tenant": tenantOf(store.Tenant{ID: "acme", Zoho: store.ZohoConnection{Status: store.Connected,
			RefreshToken: []byte("REFRESHTOKEN")}}),
		"account": accountOf(store.Account{Username: "ana", PasswordHash: []byte("PASSWORDHASH"), Role: store.RoleOperator}),
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"LINKSECRET", "REFRESHTOKEN", "UkVGUkVTSFRPS0VO", "PASSWORDHASH", "UEFTU1dPUkRIQVNI", "secret", "hash", "refresh"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s view holds %q: %s", name, secret, b)
			}
		}
	}
}

// TestDocumentServedIsValidYAML reads the document as a client would.
func TestDocumentServedIsValidYAML(t *testing.T) {
	srv := httptest.NewServer(newTestHandler(t, nil))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
}
