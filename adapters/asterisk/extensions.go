package asterisk

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// Extension discovery: the PBX users (extensions) this Asterisk has, so that
// admins link extensions that exist.
//
// GET /endpoints lists every endpoint Asterisk knows, phones and trunks
// alike, as {technology, resource, state, channel_ids} (max_channels only
// when set): no context, no name (main/stasis_endpoints.c
// ast_endpoint_snapshot_to_json; testdata/captures/rest-endpoints.json). An
// endpoint is an extension by the rules that say whether a channel's
// endpoint is one (Parties.extensionOf): a phone technology, not listed in
// Trunks, a name matching Extension — whose group is the number, so that
// "acme-1001" is extension 1001 as its channels are — and not configured
// in a TrunkContext. Everything else (trunks, helpers) is left out.
//
// For each PJSIP candidate, GET /asterisk/config/dynamic/res_pjsip/endpoint/
// {id} gives its configuration as [{"attribute","value"}] (Asterisk source,
// looked up because the fact sheet does not cover it:
// res/ari/resource_asterisk.c ast_ari_asterisk_get_object, which answers
// ast_sorcery_objectset_create, i.e. list handlers preferred). The adapter
// reads three things of it:
//   - "context", where the phone's calls start: the dialplan context its
//     channels carry, so the context_prefix rule and TrunkContext read it as
//     they read a channel's;
//   - one tuple per set_var, named after the variable (set_var_to_vl), which
//     the variable rule reads as it reads a channel's channelvars (set_var
//     puts it on every channel of the endpoint);
//   - "callerid", the display name: `"Name" <number>`, `Name`, `number` or
//     `<unknown>` (caller_id_to_str → ast_callerid_merge).
//
// A 404 (the endpoint went away meanwhile, or is not a sorcery object) keeps
// the extension without name or context; any other failure fails the
// listing, so that a half-answered listing never moves an extension to the
// default tenant. The requests are the adapter's own REST calls (timeout,
// 8 MiB answers), at most configWorkers at once, all within
// discoveryTimeout unless ctx says otherwise.
//
// The listing needs no event WebSocket: it is plain REST, like the
// commands, and works whether or not Run is connected; when Asterisk cannot
// be reached the error says so (retryable).

// configWorkers bounds the configuration requests in flight.
const configWorkers = 8

// discoveryTimeout bounds a listing whose context has no deadline.
const discoveryTimeout = time.Minute

// Endpoint is one endpoint of GET /endpoints.
type Endpoint struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

// Discovery counts what a listing found and left out, by reason.
type Discovery struct {
	Endpoints  int // rows Asterisk listed
	Extensions int // extensions returned
	// Malformed rows are not endpoints (not an object, no technology or
	// resource, a number no store would take): skipped.
	Malformed  int
	Technology int // not a phone technology (DAHDI, …)
	Trunks     int // in Trunks, or configured in a TrunkContext
	Pattern    int // names Extension does not match (trunks by name, …)
	// Duplicates are endpoints with the tenant and number of another
	// (acme-1001 and globex-1001 under a rule that cannot tell them apart):
	// the first by name is kept.
	Duplicates int
	// NoConfig counts PJSIP extensions Asterisk had no configuration for
	// (404): listed without name, context or variables.
	NoConfig int
}

// Extensions lists the PBX users (extensions) the PBX knows, with the tenant
// each belongs to by the adapter's tenant rule ("" when the rule cannot
// tell: the caller then uses pbx.default_tenant).
func (a *Adapter) Extensions(ctx context.Context) ([]store.Extension, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, discoveryTimeout)
		defer cancel()
	}
	var rows []json.RawMessage
	if err := a.rest.do(ctx, "list_endpoints", http.MethodGet, "/endpoints", nil, nil, &rows); err != nil {
		return nil, fmt.Errorf("asterisk: extensions: %w", err)
	}
	eps, malformed := decodeEndpoints(rows)
	conf, err := a.endpointConfigs(ctx, pjsipCandidates(eps, &a.o.Parties))
	if err != nil {
		return nil, fmt.Errorf("asterisk: extensions: %w", err)
	}
	exts, d := extensionsFrom(eps, conf, &a.o.Parties, Tenants{Rule: a.o.PBX.Tenant})
	d.Endpoints += malformed
	d.Malformed += malformed
	a.m.discovered(d)
	log := a.log.Info
	if d.Malformed > 0 || d.Duplicates > 0 {
		log = a.log.Warn
	}
	log("extensions listed", zap.Int("endpoints", d.Endpoints), zap.Int("extensions", d.Extensions),
		zap.Int("malformed", d.Malformed), zap.Int("duplicates", d.Duplicates), zap.Int("trunks", d.Trunks),
		zap.Int("other_names", d.Pattern), zap.Int("other_technologies", d.Technology), zap.Int("without_config", d.NoConfig))
	return exts, nil
}

// decodeEndpoints decodes the rows of GET /endpoints one by one, so that one
// odd row is skipped (and counted) rather than failing the listing.
func decodeEndpoints(rows []json.RawMessage) (eps []Endpoint, malformed int) {
	eps = make([]Endpoint, 0, len(rows))
	for _, r := range rows {
		var e Endpoint
		if err := json.Unmarshal(r, &e); err != nil || e.Technology == "" || e.Resource == "" {
			malformed++
			continue
		}
		eps = append(eps, e)
	}
	return eps, malformed
}

// pjsipCandidates are the PJSIP endpoints that are extensions as far as
// their name tells: the ones whose configuration is worth reading.
func pjsipCandidates(eps []Endpoint, p *Parties) []string {
	var ids []string
	for _, e := range eps {
		if _, ok := p.extensionOf(e.Technology, e.Resource, ""); ok && e.Technology == "PJSIP" {
			ids = append(ids, e.Resource)
		}
	}
	return ids
}

// endpointConfigs reads the configuration of PJSIP endpoints: attribute →
// value, by endpoint id; an endpoint Asterisk does not know (404) has none.
func (a *Adapter) endpointConfigs(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(ids))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(configWorkers)
	for _, id := range ids {
		g.Go(func() error {
			var tuples []struct {
				Attribute string `json:"attribute"`
				Value     string `json:"value"`
			}
			err := a.rest.do(gctx, "endpoint_config", http.MethodGet, "/asterisk/config/dynamic/res_pjsip/endpoint/"+esc(id), nil, nil, &tuples)
			switch {
			case StatusOf(err) == http.StatusNotFound:
				return nil
			case err != nil:
				return fmt.Errorf("configuration of PJSIP/%s: %w", id, err)
			}
			attrs := make(map[string]string, len(tuples))
			for _, t := range tuples {
				if _, dup := attrs[t.Attribute]; t.Attribute != "" && !dup {
					attrs[t.Attribute] = t.Value
				}
			}
			mu.Lock()
			out[id] = attrs
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// extensionsFrom turns the endpoints Asterisk listed, and the configuration
// of the PJSIP ones (conf, by endpoint id), into extensions sorted by tenant
// and number. It is pure: the rules are Parties' and Tenants', the same
// that place a channel.
func extensionsFrom(eps []Endpoint, conf map[string]map[string]string, p *Parties, t Tenants) ([]store.Extension, Discovery) {
	d := Discovery{Endpoints: len(eps)}
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(x, y Endpoint) int {
		return cmp.Or(cmp.Compare(x.Technology, y.Technology), cmp.Compare(x.Resource, y.Resource))
	})
	seen := make(map[[2]string]bool, len(eps))
	out := make([]store.Extension, 0, len(eps))
	for _, e := range eps {
		var attrs map[string]string
		if e.Technology == "PJSIP" {
			attrs = conf[e.Resource]
		}
		dpContext := attrs["context"]
		switch {
		case !phoneTech(e.Technology):
			d.Technology++
			continue
		case p.isTrunk(e.Resource, dpContext):
			d.Trunks++
			continue
		}
		number, ok := p.extensionOf(e.Technology, e.Resource, dpContext)
		if !ok {
			d.Pattern++
			continue
		}
		if store.CheckID("extension", number) != nil {
			d.Malformed++
			continue
		}
		if e.Technology == "PJSIP" && attrs == nil {
			d.NoConfig++
		}
		// The tenant of a call this phone places: its channel starts in the
		// endpoint's context with the endpoint's set_var variables.
		tenant := t.fromChannel(&Channel{Dialplan: Dialplan{Context: dpContext}, ChannelVars: attrs})
		tenant = events.TenantToken(tenant) // as the call machine reads it
		key := [2]string{tenant, number}
		if seen[key] {
			d.Duplicates++
			continue
		}
		seen[key] = true
		out = append(out, store.Extension{Tenant: tenant, Number: number, Name: callerIDName(attrs["callerid"]),
			Device: e.Technology + "/" + e.Resource})
	}
	slices.SortFunc(out, func(x, y store.Extension) int {
		return cmp.Or(cmp.Compare(x.Tenant, y.Tenant), cmp.Compare(x.Number, y.Number))
	})
	d.Extensions = len(out)
	return out, d
}

// callerIDName is the name in an endpoint's callerid as Asterisk prints it
// (ast_callerid_merge): `"Name" <number>`, `Name` alone, a number alone, or
// `<unknown>`. Newer versions escape quotes and backslashes in the name.
func callerIDName(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<unknown>" {
		return ""
	}
	if strings.HasPrefix(v, `"`) && strings.HasSuffix(v, ">") {
		if end := strings.LastIndex(v, `" <`); end > 0 {
			return unquote(v[1:end])
		}
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 && strings.HasSuffix(v, ">") {
		return strings.Trim(strings.TrimSpace(v[:i]), `"`)
	}
	if isPhoneNumber(v) {
		return "" // a number alone
	}
	return v
}

// unquote undoes ast_escape_quoted (\" and \\).
func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
