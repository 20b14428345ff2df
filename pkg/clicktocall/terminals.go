package clicktocall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// TerminalStore is what Terminals writes and reads. store.Store satisfies
// it.
type TerminalStore interface {
	SetTerminal(ctx context.Context, t store.Terminal) (store.Terminal, error)
	Terminal(ctx context.Context, tenant, extension string) (store.Terminal, error)
	ResetTerminal(ctx context.Context, tenant, extension string) error
}

// ExtensionStore lists and creates extensions: a feature code dialled from
// an extension the store does not know yet registers it. store.Store
// satisfies it.
type ExtensionStore interface {
	ListExtensions(ctx context.Context, tenant string, p store.Page) ([]store.Extension, int, error)
	UpsertExtension(ctx context.Context, e store.Extension) (store.Extension, error)
	Extension(ctx context.Context, tenant, number string) (store.Extension, error)
}

// Terminals keeps the default terminals: Handle consumes terminal_set call
// events (*037 from a desk phone or softphone, 3037 from a mobile seat);
// List, Show and Reset are for the CLI and the admin API.
type Terminals struct {
	st   TerminalStore
	exts ExtensionStore
	log  *zap.Logger
	set  *prometheus.CounterVec
}

// NewTerminals returns the default-terminal service; reg may be nil.
func NewTerminals(st TerminalStore, exts ExtensionStore, log *zap.Logger, reg prometheus.Registerer) (*Terminals, error) {
	if st == nil || exts == nil {
		return nil, errors.New("clicktocall: terminals need a store")
	}
	if log == nil {
		log = zap.NewNop()
	}
	c, err := counter(reg, "terminals_set_total", "Default terminals stored from *037/3037, by kind (desk, mobile) and result (ok, error).", "kind", "result")
	if err != nil {
		return nil, err
	}
	return &Terminals{st: st, exts: exts, log: log.Named("terminals"), set: c}, nil
}

// Feature codes.
const (
	CodeDesk   = "*037"
	CodeMobile = "3037"
)

// TerminalOf is the default terminal a terminal_set event registers: 3037
// with a mobile number is a mobile terminal, anything else the device it
// was dialled from.
func TerminalOf(ev events.Call) (store.Terminal, error) {
	t := ev.Terminal
	if ev.Type != events.TerminalSet || t == nil || t.Extension == "" {
		return store.Terminal{}, errors.New("not a terminal_set event")
	}
	out := store.Terminal{Tenant: ev.Tenant, Extension: t.Extension, Kind: store.Desk, Device: t.Device}
	if t.Code == CodeMobile && t.Mobile != "" {
		n, ok := NormalizeNumber(t.Mobile)
		if !ok {
			return store.Terminal{}, fmt.Errorf("mobile %q is not a phone number", t.Mobile)
		}
		out = store.Terminal{Tenant: ev.Tenant, Extension: t.Extension, Kind: store.Mobile, Mobile: n}
	}
	if out.Kind == store.Desk && out.Device == "" {
		return store.Terminal{}, errors.New("desk terminal without a device")
	}
	return out, nil
}

// Handle stores the terminal of a terminal_set event (other events are
// ignored). It is idempotent: a redelivery stores the same terminal again.
// Errors: fault.Permanent for an event that cannot be stored (dead-letter
// it), others are the store failing (retry).
func (t *Terminals) Handle(ctx context.Context, ev events.Call) error {
	if ev.Type != events.TerminalSet {
		return nil
	}
	term, err := TerminalOf(ev)
	if err != nil {
		t.set.WithLabelValues("desk", "error").Inc()
		return fault.Permanent(fmt.Errorf("terminals: %s: %w", ev.ID, err))
	}
	kind := string(term.Kind)
	_, err = t.st.SetTerminal(ctx, term)
	if errors.Is(err, store.ErrNotFound) {
		// The extension is not known yet: register it with the device it
		// dialled from, then store the terminal.
		dev := ev.Terminal.Device
		if _, err = t.exts.UpsertExtension(ctx, store.Extension{Tenant: term.Tenant, Number: term.Extension, Device: dev}); err == nil {
			_, err = t.st.SetTerminal(ctx, term)
		}
	}
	if err != nil {
		t.set.WithLabelValues(kind, "error").Inc()
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			return fault.Permanent(fmt.Errorf("terminals: %s/%s: %w", term.Tenant, term.Extension, err))
		}
		return fmt.Errorf("terminals: %s/%s: %w", term.Tenant, term.Extension, err)
	}
	t.set.WithLabelValues(kind, "ok").Inc()
	t.log.Info("default terminal set", zap.String("tenant", term.Tenant), zap.String("extension", term.Extension),
		zap.String("kind", kind), zap.String("code", ev.Terminal.Code))
	return nil
}

// HandleMessage decodes a call event (a NATS message body) and handles it.
func (t *Terminals) HandleMessage(ctx context.Context, data []byte) error {
	var ev events.Call
	if err := json.Unmarshal(data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("terminals: undecodable event: %w", err))
	}
	return t.Handle(ctx, ev)
}

// Show returns the default terminal of an extension; without one it is the
// extension itself (Kind empty, Device the extension's device if known).
func (t *Terminals) Show(ctx context.Context, tenant, extension string) (store.Terminal, error) {
	term, err := t.st.Terminal(ctx, tenant, extension)
	if errors.Is(err, store.ErrNotFound) {
		e, err := t.exts.Extension(ctx, tenant, extension)
		if err != nil {
			return store.Terminal{}, err
		}
		return store.Terminal{Tenant: tenant, Extension: extension, Device: e.Device}, nil
	}
	return term, err
}

// Reset forgets the default terminal: click-to-call rings the extension
// itself again.
func (t *Terminals) Reset(ctx context.Context, tenant, extension string) error {
	return t.st.ResetTerminal(ctx, tenant, extension)
}

// List returns the default terminal of every extension of a tenant that
// has one, ordered by extension.
func (t *Terminals) List(ctx context.Context, tenant string) ([]store.Terminal, error) {
	var out []store.Terminal
	for off := 0; ; {
		exts, total, err := t.exts.ListExtensions(ctx, tenant, store.Page{Offset: off, Limit: store.MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, e := range exts {
			term, err := t.st.Terminal(ctx, tenant, e.Number)
			switch {
			case err == nil:
				out = append(out, term)
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
		off += len(exts)
		if len(exts) == 0 || off >= total {
			return out, nil
		}
	}
}

// Describe is a one-line description of a terminal for the CLI.
func Describe(t store.Terminal) string {
	switch t.Kind {
	case store.Mobile:
		return "mobile " + t.Mobile
	case store.Desk:
		return "desk " + t.Device
	}
	return strings.TrimSpace("extension itself " + t.Device)
}
