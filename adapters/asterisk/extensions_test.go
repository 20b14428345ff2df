package asterisk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/store"
)

func TestCallerIDName(t *testing.T) {
	for in, want := range map[string]string{
		`"Ana García" <1001>`:   "Ana García",
		`"Ana \"A\" G" <1001>`:  `Ana "A" G`,
		`"Back\\slash" <1001>`:  `Back\slash`,
		`Ana García`:            "Ana García",
		`1001`:                  "",
		`+4930123456`:           "",
		`<unknown>`:             "",
		``:                      "",
		`Ana <1001>`:            "Ana",
		`"" <1001>`:             "",
		`"Quote" <1001> extra`:  `"Quote" <1001> extra`,
		`  "Spaced" <1001>  `:   "Spaced",
		`"No number" <>`:        "No number",
		`"Unterminated <1001>`:  "Unterminated",
		`"Ends in quote" <100>`: "Ends in quote",
	} {
		if got := callerIDName(in); got != want {
			t.Errorf("callerIDName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEndpointsCaptureHasNoExtensions: the real GET /endpoints of the
// capture PBX lists two PJSIP endpoints named uas and sipp — user agents of
// the test rig, not extensions by the default pattern.
func TestEndpointsCaptureHasNoExtensions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "captures", "rest-endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	eps, malformed := decodeEndpoints(rows)
	if malformed != 0 || len(eps) != 2 || eps[0].Technology != "PJSIP" || eps[0].Resource != "uas" || eps[0].State != "online" || eps[0].ChannelIDs == nil {
		t.Fatalf("decoded %+v, %d malformed", eps, malformed)
	}
	p := Parties{}
	p.defaults()
	exts, d := extensionsFrom(eps, nil, &p, Tenants{})
	if len(exts) != 0 || d.Pattern != 2 || d.Endpoints != 2 {
		t.Fatalf("extensions %+v, discovery %+v", exts, d)
	}
	if ids := pjsipCandidates(eps, &p); len(ids) != 0 {
		t.Fatalf("configuration requested for %v", ids)
	}
}

func TestMalformedEndpointRowsAreSkipped(t *testing.T) {
	var rows []json.RawMessage
	if err := json.Unmarshal([]byte(`[
		{"technology":"PJSIP","resource":"1001","state":"online","channel_ids":[]},
		5, "PJSIP/1002", null, {}, {"technology":"PJSIP"}, {"resource":"1003"},
		{"technology":1,"resource":"1004"}, {"technology":"PJSIP","resource":"1005","channel_ids":"x"},
		{"technology":"PJSIP","resource":"1006","state":"offline","channel_ids":["1795247194.1"],"max_channels":1}
	]`), &rows); err != nil {
		t.Fatal(err)
	}
	eps, malformed := decodeEndpoints(rows)
	if malformed != 8 || len(eps) != 2 || eps[0].Resource != "1001" || eps[1].Resource != "1006" {
		t.Fatalf("decoded %+v, %d malformed", eps, malformed)
	}
	eps, malformed = decodeEndpoints(nil)
	if len(eps) != 0 || malformed != 0 {
		t.Fatalf("empty: %+v, %d", eps, malformed)
	}
	p := Parties{}
	p.defaults()
	exts, d := extensionsFrom(nil, nil, &p, Tenants{})
	if exts == nil || len(exts) != 0 || d != (Discovery{}) {
		t.Fatalf("no endpoints: %#v %+v", exts, d)
	}
}

// TestExtensionsFrom: the channel rules decide (Parties, Tenants), on the
// endpoint name and its configured context and set_var variables.
func TestExtensionsFrom(t *testing.T) {
	eps := []Endpoint{
		{Technology: "PJSIP", Resource: "acme-1001"},
		{Technology: "PJSIP", Resource: "globex-1001"},
		{Technology: "PJSIP", Resource: "acme-1002"},
		{Technology: "PJSIP", Resource: "acme-1003"},  // no configuration (404)
		{Technology: "PJSIP", Resource: "acme-2000"},  // configured in a trunk context
		{Technology: "PJSIP", Resource: "acme-9999"},  // listed trunk
		{Technology: "PJSIP", Resource: "acme-trunk"}, // not an extension by name
		{Technology: "IAX2", Resource: "acme-1004"},   // no configuration to read
		{Technology: "DAHDI", Resource: "acme-1005"},  // not a phone technology
		{Technology: "PJSIP", Resource: "bad.tenant-1006"},
	}
	conf := map[string]map[string]string{
		"acme-1001":       {"context": "acme-internal", "callerid": `"Ana García" <1001>`, "TENANT": "acme"},
		"globex-1001":     {"context": "globex-internal", "callerid": `"Gil" <1001>`, "TENANT": "globex"},
		"acme-1002":       {"context": "acme-internal", "callerid": "1002", "TENANT": "acme"},
		"acme-2000":       {"context": "acme-from-trunk", "callerid": `"Line" <2000>`},
		"bad.tenant-1006": {"context": "bad.tenant-internal", "callerid": "Dot", "TENANT": "bad.tenant"},
	}
	p := Parties{Extension: regexp.MustCompile(`^[a-z.]+-([0-9]{2,6})$`), Trunks: []string{"acme-9999"},
		TrunkContext: regexp.MustCompile(`-from-trunk$`)}
	p.defaults()

	exts, d := extensionsFrom(eps, conf, &p, Tenants{Rule: config.TenantRule{From: config.TenantContextPrefix, Separator: "-"}})
	want := []store.Extension{
		{Number: "1003", Device: "PJSIP/acme-1003"},
		{Number: "1004", Device: "IAX2/acme-1004"},
		{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "PJSIP/acme-1001"},
		{Tenant: "acme", Number: "1002", Device: "PJSIP/acme-1002"},
		{Tenant: "bad_tenant", Number: "1006", Name: "Dot", Device: "PJSIP/bad.tenant-1006"}, // dots become underscores
		{Tenant: "globex", Number: "1001", Name: "Gil", Device: "PJSIP/globex-1001"},
	}
	check(t, "context_prefix", exts, want)
	if d != (Discovery{Endpoints: 10, Extensions: 6, Technology: 1, Trunks: 2, Pattern: 1, NoConfig: 1}) {
		t.Errorf("context_prefix: %+v", d)
	}

	exts, _ = extensionsFrom(eps, conf, &p, Tenants{Rule: config.TenantRule{From: config.TenantVariable, Variable: "TENANT"}})
	check(t, "variable", exts, want)

	// A rule that cannot tell the tenants apart: globex-1001 is a second
	// 1001 of the default tenant.
	exts, d = extensionsFrom(eps, conf, &p, Tenants{Rule: config.TenantRule{From: config.TenantFixed}})
	check(t, "fixed", exts, []store.Extension{
		{Number: "1001", Name: "Ana García", Device: "PJSIP/acme-1001"},
		{Number: "1002", Device: "PJSIP/acme-1002"},
		{Number: "1003", Device: "PJSIP/acme-1003"},
		{Number: "1004", Device: "IAX2/acme-1004"},
		{Number: "1006", Name: "Dot", Device: "PJSIP/bad.tenant-1006"},
	})
	if d.Duplicates != 1 || d.Extensions != 5 {
		t.Errorf("fixed: %+v", d)
	}
}

// TestExtensionNumbersAsChannels: the default pattern takes the whole name,
// and a name too long for the store is malformed, not an extension.
func TestExtensionNumbersAsChannels(t *testing.T) {
	p := Parties{Extension: regexp.MustCompile(`^(.+)$`)}
	p.defaults()
	long := make([]byte, 200)
	for i := range long {
		long[i] = '1'
	}
	exts, d := extensionsFrom([]Endpoint{{Technology: "SIP", Resource: "1001"}, {Technology: "SIP", Resource: string(long)}}, nil, &p, Tenants{})
	check(t, "sip", exts, []store.Extension{{Number: "1001", Device: "SIP/1001"}})
	if d.Malformed != 1 {
		t.Errorf("%+v", d)
	}
	// The number of an endpoint is the one its channels get.
	num, ok := p.extensionOf("SIP", "1001", "")
	party, chNum := p.classify("SIP", "1001", &Channel{})
	if !ok || num != "1001" || party != callstate.PartyExtension || chNum != "1001" {
		t.Errorf("extensionOf %q %v, classify %v %q", num, ok, party, chNum)
	}
}

func check(t *testing.T, what string, got, want []store.Extension) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: [%d] = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestDiscoveryAgreesWithCalls: an extension is listed with the tenant and
// number a call from its phone gets, whichever the rule.
func TestDiscoveryAgreesWithCalls(t *testing.T) {
	p := Parties{Extension: regexp.MustCompile(`^[a-z]+-([0-9]{2,6})$`)}
	p.defaults()
	conf := map[string]map[string]string{"acme-1001": {"context": "acme-internal", "callerid": `"Ana" <1001>`, "TENANT": "acme"}}
	call := `{"type":"ChannelCreated","timestamp":"2026-11-21T10:00:00.000+0000","channel":{"id":"a","name":"PJSIP/acme-1001-00000001",` +
		`"state":"Ring","caller":{"name":"Ana","number":"1001"},"dialplan":{"context":"acme-internal","exten":"+4930123456"},` +
		`"creationtime":"2026-11-21T10:00:00.000+0000","channelvars":{"TENANT":"acme"}}}`
	for _, rule := range []config.TenantRule{
		{From: config.TenantContextPrefix, Separator: "-"},
		{From: config.TenantVariable, Variable: "TENANT"},
		{From: config.TenantFixed},
	} {
		tn := Tenants{Rule: rule}
		sigs := feed(t, NewTranslator(TranslatorOptions{Parties: p, Tenants: tn}), call)
		exts, _ := extensionsFrom([]Endpoint{{Technology: "PJSIP", Resource: "acme-1001"}}, conf, &p, tn)
		if len(sigs) != 1 || len(exts) != 1 || sigs[0].Party != callstate.PartyExtension ||
			sigs[0].Tenant != exts[0].Tenant || sigs[0].Number != exts[0].Number || exts[0].Number != "1001" {
			t.Errorf("%+v: call %+v, listing %+v", rule, sigs, exts)
		}
	}
}
