package asterisk

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
)

// Sink takes the adapter's signals; *pipeline.Pipeline satisfies it. Submit
// may block (back-pressure): the adapter then stops reading the WebSocket.
type Sink interface {
	Submit(ctx context.Context, s callstate.Signal) error
	// LiveLegs lists the legs of calls in progress, for reconciliation.
	LiveLegs() []string
}

// Options configure an Adapter; zero values take the defaults in
// parentheses.
type Options struct {
	// PBX is the pbx section of the configuration: Asterisk (url, username,
	// password, app), Tenant (the tenant rule) and Reconnect (the backoff).
	PBX config.PBX
	// Parties says which channels are extensions and which are trunks.
	Parties Parties
	// RecordingDir is where ARI recordings are stored
	// (/var/spool/asterisk/recording).
	RecordingDir string
	// RequestTimeout bounds each REST request (5s).
	RequestTimeout time.Duration
	// PingInterval is how often an idle WebSocket is pinged to detect a
	// half-open connection (15s); PingTimeout is how long a pong may take
	// (5s). A negative PingInterval disables the watchdog.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// FeatureMedia is played to confirm a feature code (sound:beep).
	FeatureMedia string
	Logger       *zap.Logger
	Registerer   prometheus.Registerer
}

// maxFrame bounds one WebSocket message: ARI events are a few KB; a bigger
// frame is a broken peer, and the connection is dropped.
const maxFrame = 4 << 20

// Adapter connects one Asterisk to Ringside.
type Adapter struct {
	o      Options
	app    string
	wsURL  string
	auth   string
	log    *zap.Logger
	m      *metrics
	rest   *rest
	wsHTTP *http.Client
	expect *expectations
	legs   *clicktocall.LegWatch // click-to-call legs waited for (clicktocall.go)

	mu   sync.Mutex
	down error // why the adapter is not connected; nil while connected

	pbMu      sync.Mutex
	playbacks map[string]chan struct{} // playback id → closed when it finished

	logged  map[string]bool // undecodable kinds already logged (reader goroutine only)
	running atomic.Bool
	actions sync.WaitGroup // feature-code confirmations and screenings in flight

	screener screen.Gate // no screener until SetScreener (screen.go)
	sm       *screen.Metrics
}

// errNotConnected is the readiness answer before the first connection.
var errNotConnected = errors.New("not connected yet")

// New checks the options and returns an adapter; nothing connects before Run.
func New(o Options) (*Adapter, error) {
	ac := o.PBX.Asterisk
	base, err := url.Parse(strings.TrimSuffix(ac.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("asterisk: url %q: want http(s)://host:port/ari", ac.URL)
	}
	if ac.App == "" || ac.Username == "" {
		return nil, errors.New("asterisk: app and username are required")
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 15 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 5 * time.Second
	}
	if o.FeatureMedia == "" {
		o.FeatureMedia = "sound:beep"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	o.Parties.defaults()
	ws := *base
	ws.Scheme = "ws"
	if base.Scheme == "https" {
		ws.Scheme = "wss"
	}
	ws.Path += "/events"
	ws.RawQuery = url.Values{"app": {ac.App}, "subscribeAll": {"true"}}.Encode()
	a := &Adapter{
		o:         o,
		app:       ac.App,
		wsURL:     ws.String(),
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte(ac.Username+":"+ac.Password.Value())),
		log:       o.Logger.With(zap.String("component", "asterisk")),
		m:         newMetrics(o.Registerer),
		sm:        screen.NewMetrics(o.Registerer),
		wsHTTP:    &http.Client{Transport: &http.Transport{Proxy: nil}},
		expect:    newExpectations(),
		legs:      clicktocall.NewLegWatch(),
		down:      errNotConnected,
		playbacks: make(map[string]chan struct{}),
		logged:    make(map[string]bool),
	}
	a.rest = &rest{base: base.String(), user: ac.Username, password: ac.Password.Value(),
		client: newHTTPClient(o.RequestTimeout), timeout: o.RequestTimeout,
		observe: func(op, result string) { a.m.requests.WithLabelValues(op, result).Inc() }}
	return a, nil
}

// Ready says whether the adapter is connected: nil, or "disconnected: <why>".
func (a *Adapter) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down != nil {
		return fmt.Errorf("disconnected: %w", a.down)
	}
	return nil
}

func (a *Adapter) setDown(err error) {
	a.mu.Lock()
	a.down = err
	a.mu.Unlock()
	a.m.connected.Set(0)
}

func (a *Adapter) setUp() {
	a.mu.Lock()
	a.down = nil
	a.mu.Unlock()
	a.m.connected.Set(1)
}

// sessionError says why a connection ended; reason is a metric label.
type sessionError struct {
	reason string
	err    error
}

func (e *sessionError) Error() string { return e.err.Error() }
func (e *sessionError) Unwrap() error { return e.err }

// sinkError is a Submit failure: the pipeline is closed, Run stops.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return "submit: " + e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// stableAfter is how long a connection must last for the backoff to start
// over: a socket that drops right after connecting keeps backing off.
const stableAfter = 30 * time.Second

// Run connects to ARI and feeds sink until ctx ends, reconnecting forever
// with the configured backoff; it returns nil when ctx ends, and an error
// only when the sink refuses a signal (the pipeline was closed). It never
// waits for Asterisk to start: meanwhile Ready says why it is not connected.
func (a *Adapter) Run(ctx context.Context, sink Sink) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("asterisk: Run called twice")
	}
	defer a.actions.Wait()
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := a.session(ctx, sink)
		if ctx.Err() != nil {
			a.setDown(errors.New("stopped"))
			return nil
		}
		var se *sinkError
		if errors.As(err, &se) {
			a.setDown(err)
			return fmt.Errorf("asterisk: %w", err)
		}
		a.setDown(err)
		reason := "read"
		var sess *sessionError
		if errors.As(err, &sess) {
			reason = sess.reason
		}
		a.m.disconnects.WithLabelValues(reason).Inc()
		if time.Since(start) > stableAfter {
			attempt = 0
		}
		delay := a.o.PBX.Reconnect.Delay(attempt)
		a.log.Warn("ARI connection lost or refused, reconnecting", zap.String("url", a.wsURL),
			zap.String("reason", reason), zap.Error(err), zap.Int("attempt", attempt+1), zap.Duration("retry_in", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			a.setDown(errors.New("stopped"))
			return nil
		case <-t.C:
		}
		a.m.reconnects.Inc()
	}
}

// session runs one connection: dial, reconcile, read until it breaks.
func (a *Adapter) session(ctx context.Context, sink Sink) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dctx, dcancel := context.WithTimeout(sctx, a.o.RequestTimeout+5*time.Second)
	conn, resp, err := websocket.Dial(dctx, a.wsURL, &websocket.DialOptions{
		HTTPClient: a.wsHTTP,
		HTTPHeader: http.Header{"Authorization": {a.auth}},
	})
	dcancel()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return &sessionError{"unauthorized", errors.New("unauthorized: check pbx.asterisk.username and password")}
		}
		return &sessionError{"connect", fmt.Errorf("connect: %w", err)}
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxFrame)

	// Reconcile before reading: events that happen meanwhile wait in the
	// socket and are read afterwards (known channels are not announced
	// twice).
	tr := newTranslator(TranslatorOptions{Parties: a.o.Parties, Tenants: Tenants{Rule: a.o.PBX.Tenant},
		RecordingDir: a.o.RecordingDir}, a.expect)
	if err := a.reconcile(sctx, tr, sink); err != nil {
		return err
	}
	a.setUp()
	a.log.Info("connected to ARI", zap.String("url", a.wsURL), zap.String("app", a.app))

	var reading atomic.Bool
	var frames atomic.Uint64
	var watchdogFired atomic.Bool
	var wg sync.WaitGroup
	if a.o.PingInterval > 0 {
		wg.Go(func() { a.watchdog(sctx, conn, &reading, &frames, &watchdogFired) })
	}
	err = a.read(ctx, sctx, conn, tr, sink, &reading, &frames)
	cancel()
	wg.Wait()
	if watchdogFired.Load() {
		return &sessionError{"watchdog", fmt.Errorf("no answer to a WebSocket ping within %v (half-open connection?)", a.o.PingTimeout)}
	}
	return err
}

// reconcile brings the machine in line with what Asterisk has now.
func (a *Adapter) reconcile(ctx context.Context, tr *Translator, sink Sink) error {
	chans, err := a.rest.channels(ctx)
	if err != nil {
		return &sessionError{"reconcile", fmt.Errorf("reconcile: %w", err)}
	}
	bridges, err := a.rest.bridges(ctx)
	if err != nil {
		return &sessionError{"reconcile", fmt.Errorf("reconcile: %w", err)}
	}
	sigs := tr.Adopt(chans, bridges, sink.LiveLegs(), time.Now(), nil)
	a.releaseWaiting(ctx, chans)
	var adopted, lost int
	for _, s := range sigs {
		switch {
		case s.Kind == callstate.LegCreated:
			adopted++
		case s.Kind == callstate.Hangup && s.Cause == callstate.CauseLost:
			lost++
		}
		if err := a.submit(ctx, sink, s); err != nil {
			return err
		}
	}
	a.m.reconciled.WithLabelValues("adopted").Add(float64(adopted))
	a.m.reconciled.WithLabelValues("lost").Add(float64(lost))
	if adopted > 0 || lost > 0 {
		a.log.Info("reconciled with Asterisk", zap.Int("channels", len(chans)),
			zap.Int("adopted_legs", adopted), zap.Int("lost_legs", lost))
	}
	return nil
}

func (a *Adapter) submit(ctx context.Context, sink Sink, s callstate.Signal) error {
	if err := sink.Submit(ctx, s); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sinkError{err}
	}
	a.m.signal(s.Kind)
	return nil
}

// read reads, translates and submits events until the connection breaks.
// One goroutine, one event at a time: a slow sink slows the reading, and no
// event is ever dropped here.
func (a *Adapter) read(runCtx, ctx context.Context, conn *websocket.Conn, tr *Translator, sink Sink, reading *atomic.Bool, frames *atomic.Uint64) error {
	var buf bytes.Buffer
	out := make([]callstate.Signal, 0, 16)
	for {
		reading.Store(true)
		typ, r, err := conn.Reader(ctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		reading.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &sessionError{"read", fmt.Errorf("read: %w", err)}
		}
		frames.Add(1)
		if typ != websocket.MessageText {
			continue
		}
		var evType string
		var act Action
		out, evType, act, err = tr.Translate(buf.Bytes(), time.Now(), out[:0])
		if err != nil {
			a.undecodable(buf.Bytes(), err)
			continue
		}
		a.m.event(evType)
		observeLeg(a.legs, evType, buf.Bytes())
		for _, s := range out {
			if err := a.submit(ctx, sink, s); err != nil {
				return err
			}
		}
		switch act.Kind {
		case ActionFeature:
			a.actions.Go(func() { a.confirmFeature(runCtx, act.Channel) })
		case ActionScreen:
			start := time.Now()
			a.actions.Go(func() { a.screen(runCtx, act.Screen, start) })
		case ActionPlaybackDone:
			a.playbackDone(act.ID)
		case ActionReplaced:
			a.log.Error("another connection registered the ARI application; this one receives nothing more",
				zap.String("app", a.app))
			return &sessionError{"replaced", fmt.Errorf("application %s replaced by another connection", a.app)}
		}
	}
}

// undecodable counts a frame that is not an ARI event and logs each kind of
// problem once per process.
func (a *Adapter) undecodable(frame []byte, err error) {
	a.m.undecodable.Inc()
	kind := "malformed"
	if strings.HasSuffix(err.Error(), "no type") {
		kind = "untyped"
	}
	if a.logged[kind] {
		return
	}
	a.logged[kind] = true
	sample := frame
	if len(sample) > 200 {
		sample = sample[:200]
	}
	a.log.Warn("skipping WebSocket frames that are not ARI events (logged once; see ringside_asterisk_events_undecodable_total)",
		zap.String("kind", kind), zap.Error(err), zap.ByteString("sample", sample))
}

// watchdog pings an idle connection and closes it when no pong comes back:
// a half-open TCP connection (host gone, NAT timeout) would otherwise block
// the reader forever. While the reader waits on the sink it cannot read the
// pong, so the check is skipped then, and a connection that delivered frames
// during the ping is alive whatever became of the pong.
func (a *Adapter) watchdog(ctx context.Context, conn *websocket.Conn, reading *atomic.Bool, frames *atomic.Uint64, fired *atomic.Bool) {
	t := time.NewTicker(a.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !reading.Load() {
			continue
		}
		before := frames.Load()
		pctx, cancel := context.WithTimeout(ctx, a.o.PingTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err == nil || ctx.Err() != nil || frames.Load() != before || !reading.Load() {
			continue
		}
		a.log.Warn("ARI WebSocket did not answer a ping; closing it", zap.Duration("timeout", a.o.PingTimeout), zap.Error(err))
		fired.Store(true)
		conn.CloseNow()
		return
	}
}

// confirmFeature answers a feature-code channel, plays the confirmation and
// lets it continue in the dialplan (whose next priority hangs up).
func (a *Adapter) confirmFeature(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 3*a.o.RequestTimeout)
	defer cancel()
	log := a.log.With(zap.String("channel_id", id))
	if err := a.Answer(ctx, id); err != nil {
		log.Warn("feature code: answer failed", zap.Error(err))
	}
	pb := id + "-confirm"
	done := a.awaitPlayback(pb)
	if err := a.Play(ctx, id, pb, a.o.FeatureMedia); err != nil {
		log.Warn("feature code: confirmation not played", zap.Error(err))
		a.playbackDone(pb)
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	if err := a.Continue(context.WithoutCancel(ctx), id, "", "", 0); err != nil && StatusOf(err) != http.StatusNotFound {
		log.Warn("feature code: continue failed, hanging up", zap.Error(err))
		if err := a.Hangup(context.WithoutCancel(ctx), id, "normal"); err != nil && StatusOf(err) != http.StatusNotFound {
			log.Warn("feature code: hangup failed", zap.Error(err))
		}
	}
}

func (a *Adapter) awaitPlayback(id string) <-chan struct{} {
	a.pbMu.Lock()
	defer a.pbMu.Unlock()
	ch := make(chan struct{})
	a.playbacks[id] = ch
	return ch
}

func (a *Adapter) playbackDone(id string) {
	a.pbMu.Lock()
	defer a.pbMu.Unlock()
	if ch, ok := a.playbacks[id]; ok {
		close(ch)
		delete(a.playbacks, id)
	}
}
