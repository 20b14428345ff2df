package freeswitch

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// eventLabels is the allow-list of event_name label values; any other
// event counts as "other" (CUSTOM subclasses included).
var eventLabels = [...]string{
	"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
	"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
	"RECORD_START", "RECORD_STOP", "BACKGROUND_JOB", "HEARTBEAT", "CUSTOM", "other",
}

func eventLabel(name string) string {
	for _, l := range eventLabels {
		if l == name {
			return l
		}
	}
	return "other"
}

// Values of the command label of commands_total, and of its result label.
var commandLabels = [...]string{"originate", "uuid_kill", "uuid_setvar", "uuid_transfer", "uuid_getvar", "uuid_break",
	"show", "list_users", "user_data", "other"}

const (
	resultOK      = "ok"
	resultRefused = "refused" // -ERR: FreeSWITCH said no
	resultError   = "error"   // no answer: timeout or connection lost
)

// metrics of one Adapter. Labels are bounded: event names from the
// allow-list, command names and results from the lists above.
type metrics struct {
	connected      prometheus.Gauge
	reconnects     prometheus.Counter
	events         *prometheus.CounterVec
	framesInvalid  prometheus.Counter
	watchdog       prometheus.Counter
	reconciled     *prometheus.CounterVec
	commands       *prometheus.CounterVec
	extensions     *prometheus.CounterVec // result: listed, malformed, duplicate
	lastHeartbeat  atomic.Int64           // unix nanoseconds; 0: none yet
	heartbeatGauge prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, now func() time.Time) (*metrics, error) {
	const ns, sub = "ringside", "freeswitch"
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "connected",
			Help: "1 while the event socket is connected, authenticated and reconciled, else 0.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "reconnects_total",
			Help: "Connections to the event socket after the first one.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_received_total",
			Help: "Events read from the event socket and handled, by Event-Name (allow-listed, else other).",
		}, []string{"name"}),
		framesInvalid: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "frames_invalid_total",
			Help: "Malformed or oversized frames and unexpected replies; a framing error reconnects.",
		}),
		watchdog: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "heartbeat_timeouts_total",
			Help: "Reconnections because nothing (not even a HEARTBEAT) arrived in time.",
		}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "reconciled_legs_total",
			Help: "Legs fixed up after a (re)connect: adopted (live, unknown) or lost (ended while disconnected).",
		}, []string{"action"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "api/bgapi commands sent, by command and result (ok, refused, error).",
		}, []string{"command", "result"}),
	}
	m.extensions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "users_discovered_total",
		Help: "Directory users read by extension discovery (list_users): listed as extensions, or left out as malformed or duplicate.",
	}, []string{"result"})
	m.heartbeatGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "heartbeat_age_seconds",
		Help: "Seconds since the last HEARTBEAT event (0 before the first).",
	}, func() float64 {
		last := m.lastHeartbeat.Load()
		if last == 0 {
			return 0
		}
		return now().Sub(time.Unix(0, last)).Seconds()
	})
	for _, l := range eventLabels {
		m.events.WithLabelValues(l)
	}
	for _, a := range []string{"adopted", "lost"} {
		m.reconciled.WithLabelValues(a)
	}
	for _, r := range []string{"listed", "malformed", "duplicate"} {
		m.extensions.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.reconnects, m.events, m.framesInvalid,
		m.watchdog, m.reconciled, m.commands, m.extensions, m.heartbeatGauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("freeswitch: metrics: %w", err)
		}
	}
	return m, nil
}

func commandLabel(cmd string) string {
	for _, l := range commandLabels {
		if l == cmd {
			return l
		}
	}
	return "other"
}
