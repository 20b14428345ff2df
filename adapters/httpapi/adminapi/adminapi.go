package adminapi

import (
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
)

// Prefix is where the API is mounted: srv.Handle(adminapi.Prefix, h).
const Prefix = "/api/v1/"

// openAPI is the API's description, served at GET /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the embedded OpenAPI 3.1 document.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// routeOther is the route label of requests no pattern matched: the raw
// path never becomes a label value.
const routeOther = "other"

// Options configure a Handler.
type Options struct {
	// Directory does all the work. The API takes the concrete service
	// rather than an interface: it calls some twenty of its methods, the
	// same ones the CLI and the portal call, and a mirror interface that
	// large would only hide that.
	Directory *directory.Service
	// Live is the live calls board of GET /tenants/{tenant}/calls; nil
	// answers no calls (this server follows none).
	Live Live
	// TokenTTL is the lifetime of a token made by POST /tokens without a
	// ttl (admin.token_ttl); 90 days when zero.
	TokenTTL time.Duration
	// Logger logs refused tokens at debug and internal errors at error
	// level; nil logs nothing.
	Logger *zap.Logger
	// Registerer gets ringside_api_requests_total; nil leaves it
	// unregistered.
	Registerer prometheus.Registerer
	// Now is the clock of the expires_at of new tokens; nil means
	// time.Now.
	Now func() time.Time
}

// Handler serves the API under Prefix. Create it with New.
type Handler struct {
	dir      *directory.Service
	live     Live
	tokenTTL time.Duration
	log      *zap.Logger
	now      func() time.Time
	mux      *http.ServeMux
	routes   []string
	requests *prometheus.CounterVec
}

var _ http.Handler = (*Handler)(nil)

// endpoint is what a route does for an authenticated actor: the status and
// body to send, or the error to map. A nil body sends no content.
type endpoint func(r *http.Request, a directory.Actor) (status int, body any, err error)

// New returns the API handler. It fails if its metric is already
// registered on o.Registerer.
func New(o Options) (*Handler, error) {
	if o.Directory == nil {
		return nil, errors.New("adminapi: Options.Directory is required")
	}
	h := &Handler{dir: o.Directory, live: o.Live, tokenTTL: o.TokenTTL,
		log: o.Logger, now: o.Now, mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside",
			Subsystem: "api",
			Name:      "requests_total",
			Help:      "Admin API requests, by route pattern (\"other\" when none matched) and status code.",
		}, []string{"route", "code"})}
	if h.tokenTTL <= 0 {
		h.tokenTTL = 90 * 24 * time.Hour
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	h.log = h.log.Named("api")
	if h.now == nil {
		h.now = time.Now
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(h.requests); err != nil {
			return nil, fmt.Errorf("adminapi: register metrics: %w", err)
		}
	}
	h.handle("GET /api/v1/openapi.yaml", h.serveOpenAPI)
	for _, rt := range h.table() {
		h.handle(rt.pattern, h.authed(rt.pattern, rt.do))
	}
	return h, nil
}

// route is one authenticated endpoint.
type route struct {
	pattern string
	do      endpoint
}

// table lists the authenticated endpoints; handlers.go has their bodies.
func (h *Handler) table() []route {
	return []route{
		{"GET /api/v1/tenants", h.listTenants},
		{"POST /api/v1/tenants", h.createTenant},
		{"GET /api/v1/tenants/{tenant}", h.getTenant},
		{"PATCH /api/v1/tenants/{tenant}", h.patchTenant},
		{"DELETE /api/v1/tenants/{tenant}", h.deleteTenant},
		{"POST /api/v1/tenants/{tenant}/zoho/enable", h.enableZoho},
		{"POST /api/v1/tenants/{tenant}/zoho/disable", h.disableZoho},
		{"GET /api/v1/tenants/{tenant}/zoho/users", h.zohoUsers},
		{"GET /api/v1/tenants/{tenant}/users", h.listUsers},
		{"GET /api/v1/tenants/{tenant}/users/{ext}", h.getUser},
		{"PUT /api/v1/tenants/{tenant}/users/{ext}/link", h.link},
		{"DELETE /api/v1/tenants/{tenant}/users/{ext}/link", h.unlink},
		{"PATCH /api/v1/tenants/{tenant}/users/{ext}/switches", h.setSwitches},
		{"PUT /api/v1/tenants/{tenant}/users/{ext}/terminal", h.setTerminal},
		{"DELETE /api/v1/tenants/{tenant}/users/{ext}/terminal", h.resetTerminal},
		{"POST /api/v1/tenants/{tenant}/extensions/discover", h.discover},
		{"GET /api/v1/tenants/{tenant}/calls", h.listCalls},
		{"GET /api/v1/tenants/{tenant}/blacklist", h.getBlacklist},
		{"POST /api/v1/tenants/{tenant}/blacklist", h.addBlocked},
		{"DELETE /api/v1/tenants/{tenant}/blacklist", h.removeBlocked},
		{"PUT /api/v1/tenants/{tenant}/blacklist/reason", h.setBlockedReason},
		{"GET /api/v1/tenants/{tenant}/webhooks", h.listWebhooks},
		{"POST /api/v1/tenants/{tenant}/webhooks", h.addWebhook},
		{"DELETE /api/v1/tenants/{tenant}/webhooks/{id}", h.removeWebhook},
		{"POST /api/v1/tenants/{tenant}/webhooks/{id}/enable", h.enableWebhook},
		{"GET /api/v1/tenants/{tenant}/webhooks/{id}/deliveries", h.webhookDeliveries},
		{"GET /api/v1/audit", h.audit},
		{"GET /api/v1/accounts", h.listAccounts},
		{"POST /api/v1/accounts", h.createAccount},
		{"DELETE /api/v1/accounts/{username}", h.deleteAccount},
		{"PUT /api/v1/accounts/{username}/password", h.setPassword},
		{"POST /api/v1/tokens", h.createToken},
	}
}

// handle mounts fn on pattern, counting its answers under the pattern.
func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		defer func() { h.count(pattern, cw.status) }()
		fn(cw, r)
	}))
}

// Routes returns the patterns the handler serves ("GET
// /api/v1/tenants/{tenant}"), in registration order: the OpenAPI test
// checks them against the document.
func (h *Handler) Routes() []string { return slices.Clone(h.routes) }

// ServeHTTP serves a request under Prefix. A path no route matches gets a
// JSON 404, a known path with another method a JSON 405 with Allow.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.unmatched(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// unmatched answers what the mux would (404, or 405 with Allow) in the
// API's JSON error shape.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	mh, _ := h.mux.Handler(r)
	probe := &statusProbe{header: http.Header{}}
	mh.ServeHTTP(probe, r)
	status := http.StatusNotFound
	e := apiError{status: status, code: codeNotFound, msg: "no such endpoint; see GET /api/v1/openapi.yaml"}
	if probe.status == http.StatusMethodNotAllowed {
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		e = apiError{status: http.StatusMethodNotAllowed, code: codeInvalid, msg: "method not allowed on this path"}
	}
	writeError(w, e)
	h.count(routeOther, e.status)
}

// count adds one to the route's counter.
func (h *Handler) count(route string, status int) {
	if status == 0 {
		status = http.StatusOK
	}
	h.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// serveOpenAPI serves the embedded document; it needs no token.
func (h *Handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(openAPI)
	}
}

// authed authenticates the bearer token, runs do and writes its answer.
func (h *Handler) authed(pattern string, do endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := h.authenticate(r)
		if err != nil {
			h.fail(w, pattern, "", err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		status, body, err := do(r, a)
		if err != nil {
			h.fail(w, pattern, a.Username, err)
			return
		}
		writeJSON(w, status, body)
	}
}

// authenticate returns the actor of the request's bearer token.
func (h *Handler) authenticate(r *http.Request) (directory.Actor, error) {
	tok, ok := bearer(r.Header.Values("Authorization"))
	if !ok {
		return directory.Actor{}, errNoToken
	}
	a, err := h.dir.Authenticate(r.Context(), tok, directory.ViaAPI)
	if err != nil {
		return directory.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	return a, nil
}

// errNoToken: no usable Authorization header.
var errNoToken = fmt.Errorf("missing or malformed Authorization header, want \"Bearer <token>\": %w", directory.ErrUnauthorized)

// bearer returns the token of the one Authorization header, which must be
// "Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// fail maps err to its status and writes the error; internal errors are
// logged (with the route and actor, never the path or body) and their text
// is not sent.
func (h *Handler) fail(w http.ResponseWriter, pattern, actor string, err error) {
	e := classify(err)
	switch {
	case e.status == http.StatusUnauthorized:
		// The challenge of RFC 6750 §3: no error code when no token came.
		challenge := `Bearer realm="ringside"`
		if !errors.Is(err, errNoToken) {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		h.log.Debug("request refused: not authenticated", zap.String("route", pattern), zap.Error(err))
	case e.status >= 500 && e.code == codeInternal:
		h.log.Error("request failed", zap.String("route", pattern), zap.String("actor", actor), zap.Error(err))
	}
	writeError(w, e)
}

// countingWriter remembers the status sent.
type countingWriter struct {
	http.ResponseWriter
	status int
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController and http.MaxBytesReader reach the
// server's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// statusProbe records what the mux's own 404/405 handler would send.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
