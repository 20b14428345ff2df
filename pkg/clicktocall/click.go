package clicktocall

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// Users is what the click-to-dial and call-control handlers read from the
// store: the Zoho user's link (extension, secret, switches), the default
// terminal and the extension's own device. store.Store satisfies it.
type Users interface {
	LinkByZohoUser(ctx context.Context, tenant, zohoUser string) (store.Link, error)
	Terminal(ctx context.Context, tenant, extension string) (store.Terminal, error)
	Extension(ctx context.Context, tenant, number string) (store.Extension, error)
}

// Claims de-duplicates double clicks. store.Store satisfies it.
type Claims interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key string) error
}

// Commander sends a command to a node and returns its reply once the node
// accepted (or refused) it: NATS request/reply on subject in the daemon,
// a direct call to Node.HandleCommand in one process.
type Commander interface {
	Command(ctx context.Context, subject string, payload []byte) ([]byte, error)
}

// Names gives a customer's name from the caller-lookup cache, never asking
// the CRM ("" when none is cached): leg A shows it while it rings.
type Names interface {
	CachedName(ctx context.Context, tenant, number string) string
}

// nameWait bounds the cache read for leg A's name: a slow store costs the
// click this much at most, and the phone then shows the number alone.
const nameWait = 50 * time.Millisecond

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Users     Users
	Claims    Claims
	Commander Commander
	Reporter  Reporter // refusals the user should read (switched off, no node); nil: none
	Names     Names    // the customer's name for leg A; nil: the number alone
	// NodeOf names the node that owns the PBX of a tenant (the daemon's own
	// node_id when one Ringside serves one PBX).
	NodeOf func(tenant string) string
	// AuthParam is click_to_call.auth_param: the name of the per-user
	// secret in the form, the query or a header.
	AuthParam string
	// DedupWindow is click_to_call.dedup_window (5s).
	DedupWindow time.Duration
	// CommandTimeout bounds the wait for the node's acceptance (2s).
	CommandTimeout time.Duration
	Logger         *zap.Logger
	Registerer     prometheus.Registerer
	Now            func() time.Time
	NewID          func() string // click ids (random)
}

// Service is the HTTP side of click-to-call: Zoho's clicktodialuri.
// Mount it with
//
//	srv.Handle("GET /zoho/{tenant}/clicktodial", svc)
//	srv.Handle("POST /zoho/{tenant}/clicktodial", svc)
//
// and register <http.public_url>/zoho/<tenant>/clicktodial at Zoho for each
// linked user (ClickToDialURL), with the user's secret as authorizationparam
// named AuthParam.
type Service struct {
	o      ServiceOptions
	log    *zap.Logger
	clicks *prometheus.CounterVec

	mu     sync.Mutex
	closed bool           // Close was called: no more clicks, no more reports
	wg     sync.WaitGroup // reports in flight
}

// NewService checks the options.
func NewService(o ServiceOptions) (*Service, error) {
	if o.Users == nil || o.Claims == nil || o.Commander == nil || o.NodeOf == nil {
		return nil, errors.New("clicktocall: service needs Users, Claims, Commander and NodeOf")
	}
	if o.AuthParam == "" {
		o.AuthParam = "ringside_auth"
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 5 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = newID
	}
	s := &Service{o: o, log: o.Logger.Named("clicktocall")}
	var err error
	if s.clicks, err = counter(o.Registerer, "requests_total",
		"Click-to-dial requests from Zoho by result (accepted, duplicate, unauthorized, disabled, invalid, unavailable).", "result"); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops taking clicks (later ones are answered 503) and waits for the
// refusal reports still being sent to Zoho. It is safe while requests are
// being served: the daemon calls it when it stops its intake, before the
// HTTP server stops.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ClickToDialURL is the clicktodialuri to register for a tenant's users.
func ClickToDialURL(publicURL, tenant string) string {
	return strings.TrimRight(publicURL, "/") + "/zoho/" + tenant + "/clicktodial"
}

// maxForm bounds a Zoho request body.
const maxForm = 64 << 10

// params reads a Zoho callback's parameters: form body (POST) and query.
func params(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	return r.ParseForm()
}

// secretOf finds the per-user secret: parameter or header named name, or
// the JSON authorizationparam echoed as is.
func secretOf(r *http.Request, name string) string {
	if v := r.Form.Get(name); v != "" {
		return v
	}
	if v := r.Header.Get(name); v != "" {
		return v
	}
	if ap := r.Form.Get("authorizationparam"); ap != "" {
		var nv struct{ Name, Value string }
		if json.Unmarshal([]byte(ap), &nv) == nil && nv.Name == name {
			return nv.Value
		}
	}
	return ""
}

// authenticate finds the link of the Zoho user of a callback and checks
// its secret in constant time. It answers 401 itself on failure (unknown
// user and wrong secret look the same), 503 when the store fails.
func authenticate(ctx context.Context, w http.ResponseWriter, r *http.Request, users Users, param, tenant, zohoUser string, log *zap.Logger) (store.Link, bool) {
	given := secretOf(r, param)
	if !events.ValidToken(tenant) || zohoUser == "" || given == "" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return store.Link{}, false
	}
	l, err := users.LinkByZohoUser(ctx, tenant, zohoUser)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn("click-to-call: store lookup failed", zap.String("tenant", tenant), zap.Error(err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return store.Link{}, false
	}
	// Compare digests so the time taken says nothing about the length.
	want := sha256.Sum256([]byte(l.Secret))
	got := sha256.Sum256([]byte(given))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || err != nil || l.Secret == "" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return store.Link{}, false
	}
	return l, true
}

// ServeHTTP handles one click (GET query or POST form): zohouser, tonumber
// (or number, to) and the secret. Answers: 200 "ok" once the node accepted
// the call (or the click was a duplicate), 400 for a number that is not
// one, 401 for an unknown user or a wrong secret, 403 when click-to-call
// is off for the user, 503 when no node takes the call.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.isClosed() {
		s.clicks.WithLabelValues(clickUnavailable).Inc()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if err := params(w, r); err != nil {
		s.clicks.WithLabelValues(clickInvalid).Inc()
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	tenant, zohoUser := r.PathValue("tenant"), r.Form.Get("zohouser")
	link, ok := authenticate(ctx, w, r, s.o.Users, s.o.AuthParam, tenant, zohoUser, s.log)
	if !ok {
		s.clicks.WithLabelValues(clickUnauthorized).Inc()
		s.log.Info("click-to-call: refused unauthenticated click", zap.String("tenant", tenant), zap.String("zoho_user", zohoUser))
		return
	}
	log := s.log.With(zap.String("tenant", tenant), zap.String("zoho_user", zohoUser), zap.String("extension", link.Extension))
	raw := firstOf(r, "tonumber", "number", "to")
	number, valid := NormalizeNumber(raw)
	if !valid {
		s.clicks.WithLabelValues(clickInvalid).Inc()
		s.reportAsync(tenant, zohoUser, CodeInvalid, link.Extension, raw, "Ringside cannot dial \""+raw+"\": not a phone number.")
		http.Error(w, "not a phone number", http.StatusBadRequest)
		return
	}
	if !link.Switches.ClickToCall {
		s.clicks.WithLabelValues(clickDisabled).Inc()
		log.Info("click-to-call: switched off for this user")
		s.reportAsync(tenant, zohoUser, CodeBlocked, link.Extension, number,
			"Click-to-call is switched off for you in Ringside; ask your administrator to switch it on.")
		http.Error(w, "click-to-call is switched off for this user", http.StatusForbidden)
		return
	}
	key := "c2c/" + tenant + "/" + zohoUser + "/" + number
	got, err := s.o.Claims.Claim(ctx, key, s.o.DedupWindow)
	if err != nil {
		s.clicks.WithLabelValues(clickUnavailable).Inc()
		log.Warn("click-to-call: claim failed", zap.Error(err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if !got {
		s.clicks.WithLabelValues(clickDuplicate).Inc()
		log.Info("click-to-call: double click ignored")
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	cmd := events.Originate{V: events.Version, ID: s.o.NewID(), Tenant: tenant, Extension: link.Extension, ZohoUser: zohoUser,
		Customer: number, CustomerName: s.name(ctx, tenant, number), RequestedAt: s.o.Now().UTC()}
	s.terminal(ctx, &cmd, log)
	if err := s.send(ctx, cmd); err != nil {
		_ = s.o.Claims.Release(context.WithoutCancel(ctx), key)
		s.clicks.WithLabelValues(clickUnavailable).Inc()
		log.Warn("click-to-call: no node took the call", zap.Error(err))
		s.reportAsync(tenant, zohoUser, CodeNotAvailable, link.Extension, number, "The phone system is not reachable; please try again.")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	s.clicks.WithLabelValues(clickAccepted).Inc()
	log.Info("click-to-call: originate sent", zap.String("click_id", cmd.ID), zap.String("terminal", cmd.TerminalKind))
	_, _ = w.Write([]byte("ok\n"))
}

// terminal fills in leg A: the registered default terminal, else the
// extension's own device (else the node's desk rule).
func (s *Service) terminal(ctx context.Context, c *events.Originate, log *zap.Logger) {
	t, err := s.o.Users.Terminal(ctx, c.Tenant, c.Extension)
	switch {
	case err == nil && t.Kind == store.Mobile && t.Mobile != "":
		c.TerminalKind, c.Mobile = events.TerminalMobile, t.Mobile
		return
	case err == nil && t.Kind == store.Desk && t.Device != "":
		c.TerminalKind, c.Device = events.TerminalDesk, t.Device
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		log.Warn("click-to-call: default terminal unknown, ringing the extension", zap.Error(err))
	}
	c.TerminalKind = events.TerminalExtension
	if e, err := s.o.Users.Extension(ctx, c.Tenant, c.Extension); err == nil {
		c.Device = e.Device
	}
}

func (s *Service) send(ctx context.Context, c events.Originate) error {
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.CommandTimeout)
	defer cancel()
	out, err := s.o.Commander.Command(ctx, events.CommandSubject(s.o.NodeOf(c.Tenant), events.CommandOriginate), payload)
	if err != nil {
		return err
	}
	var rep events.CommandReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return errors.New("node answered something that is not a command reply")
	}
	if !rep.OK {
		return errors.New("node refused: " + rep.Code + ": " + rep.Error)
	}
	return nil
}

func (s *Service) reportAsync(tenant, zohoUser, code, from, to, msg string) {
	if s.o.Reporter == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Info("click-to-call: shutting down, clicktodialerror not sent", zap.String("tenant", tenant), zap.String("code", code))
		return
	}
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.o.Reporter.ClickToDialError(ctx, tenant, zohoUser, code, from, to, msg); err != nil {
			s.log.Warn("click-to-call: clicktodialerror not delivered to Zoho", zap.String("tenant", tenant), zap.Error(err))
		}
	})
}

func firstOf(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Form.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// newID is a random click id (16 hex digits).
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// name is the customer's cached name, within nameWait.
func (s *Service) name(ctx context.Context, tenant, number string) string {
	if s.o.Names == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, nameWait)
	defer cancel()
	return s.o.Names.CachedName(ctx, tenant, number)
}
