package freeswitch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

const userHeader = "userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number\n"

// vanillaUsers is list_users as the vanilla configuration prints it: every
// user in group default, some again in sales/billing/support (pointers).
const vanillaUsers = userHeader +
	"1000|default|192.0.2.2|default|error/user_not_registered|techsupport|Extension 1000|1000\n" +
	"1001|default|192.0.2.2|default|sofia/internal/sip:1001@192.0.2.11:5060|techsupport|Extension 1001|1001\n" +
	"1000|default|192.0.2.2|sales|error/user_not_registered|techsupport|Extension 1000|1000\n" +
	"1001|default|192.0.2.2|billing|sofia/internal/sip:1001@192.0.2.11:5060|techsupport|Extension 1001|1001\n" +
	"\n+OK\n"

func TestParseUserList(t *testing.T) {
	users, d, err := ParseUserList(vanillaUsers)
	if err != nil {
		t.Fatal(err)
	}
	want := []DirectoryUser{
		{ID: "1000", Context: "default", Domain: "192.0.2.2", Group: "default", Name: "Extension 1000"},
		{ID: "1001", Context: "default", Domain: "192.0.2.2", Group: "default", Name: "Extension 1001"},
	}
	if len(users) != len(want) || users[0] != want[0] || users[1] != want[1] || d.Rows != 4 || d.Malformed != 0 {
		t.Fatalf("users %+v, %+v", users, d)
	}

	// Only the header and +OK: no users, no error.
	for _, empty := range []string{userHeader + "\n+OK\n", userHeader, strings.ReplaceAll(userHeader+"\n+OK\n", "\n", "\r\n")} {
		users, d, err = ParseUserList(empty)
		if err != nil || users == nil || len(users) != 0 || d.Rows != 0 {
			t.Errorf("%q: %+v %+v %v", empty, users, d, err)
		}
	}
}

func TestMalformedUserRowsAreSkipped(t *testing.T) {
	body := userHeader +
		"1001|default|acme|default|error/user_not_registered||Ana García|1001\n" +
		"1002|default|acme|default|error/user_not_registered||Bea | Team|1002\n" + // a "|" in the name
		"1003|default|acme\n" +
		"|default|acme|default|error/user_not_registered|||\n" +
		"10 04|default|acme|default|error/user_not_registered|||\n" +
		"1005|default|ac me|default|error/user_not_registered|||\n" +
		"1006|(null)|acme|(null)|error/user_not_registered|(null)|(null)|(null)\n" + // old releases print NULL so
		"1007|default|acme|default|error/user_not_registered||Ana (null) Gil|1007\n" +
		"\n+OK\n" +
		"1008|default|acme|default|error/user_not_registered|||\n" // after +OK: not a row
	users, d, err := ParseUserList(body)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID+"="+u.Context+"/"+u.Name)
	}
	if strings.Join(ids, ",") != "1001=default/Ana García,1006=/,1007=default/Ana (null) Gil" || d.Rows != 8 || d.Malformed != 5 {
		t.Fatalf("users %v, %+v", ids, d)
	}
}

// TestUserListColumnsByName: a release with one more column still reads.
func TestUserListColumnsByName(t *testing.T) {
	users, d, err := ParseUserList("userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number|extra\n" +
		"1001|default|acme|default|error/user_not_registered||Ana|1001|x\n\n+OK\n")
	if err != nil || len(users) != 1 || users[0].Name != "Ana" || d.Malformed != 0 {
		t.Fatalf("%+v %+v %v", users, d, err)
	}
}

func TestNotAUserList(t *testing.T) {
	for _, body := range []string{"", "\n\n", "-ERR list_users Command not found!\n", "-USAGE: [group <group>] [domain <domain>] [user <user>] [context <context>]\n",
		"id|context\n1001|default\n"} {
		if _, _, err := ParseUserList(body); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

// TestUserTenants: the tenant is the rule's, on what a call from the phone
// carries.
func TestUserTenants(t *testing.T) {
	users := []DirectoryUser{
		{ID: "1001", Context: "acme-internal", Domain: "acme", Name: "Ana"},
		{ID: "1001", Context: "globex-internal", Domain: "globex", Name: "Gil"},
		{ID: "1002", Context: "default", Domain: "acme.example.com", Name: "Dot"},
	}
	vars := map[[2]string]string{{"1001", "acme"}: "acme", {"1001", "globex"}: "globex", {"1002", "acme.example.com"}: "dotcom"}
	tr := func(rule config.TenantRule) *Translator {
		return NewTranslator(TranslateOptions{DefaultTenant: "default", Tenant: rule})
	}
	for _, tc := range []struct {
		name string
		rule config.TenantRule
		vars map[[2]string]string
		want []store.Extension
		dups int
	}{
		{"domain_name", config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}, nil, []store.Extension{
			{Tenant: "acme", Number: "1001", Name: "Ana", Device: "user/1001@acme"},
			{Tenant: "acme_example_com", Number: "1002", Name: "Dot", Device: "user/1002@acme.example.com"}, // a domain names a tenant
			{Tenant: "globex", Number: "1001", Name: "Gil", Device: "user/1001@globex"},
		}, 0},
		{"directory variable", config.TenantRule{From: config.TenantVariable, Variable: "ringside_tenant"}, vars, []store.Extension{
			{Tenant: "acme", Number: "1001", Name: "Ana", Device: "user/1001@acme"},
			{Tenant: "dotcom", Number: "1002", Name: "Dot", Device: "user/1002@acme.example.com"},
			{Tenant: "globex", Number: "1001", Name: "Gil", Device: "user/1001@globex"},
		}, 0},
		{"variable not set", config.TenantRule{From: config.TenantVariable, Variable: "ringside_tenant"}, nil, []store.Extension{
			{Number: "1001", Name: "Ana", Device: "user/1001@acme"},
			{Number: "1002", Name: "Dot", Device: "user/1002@acme.example.com"},
		}, 1},
		{"context_prefix", config.TenantRule{From: config.TenantContextPrefix, Separator: "-"}, nil, []store.Extension{
			{Number: "1002", Name: "Dot", Device: "user/1002@acme.example.com"},
			{Tenant: "acme", Number: "1001", Name: "Ana", Device: "user/1001@acme"},
			{Tenant: "globex", Number: "1001", Name: "Gil", Device: "user/1001@globex"},
		}, 0},
		{"fixed", config.TenantRule{From: config.TenantFixed}, nil, []store.Extension{
			{Tenant: "default", Number: "1001", Name: "Ana", Device: "user/1001@acme"},
			{Tenant: "default", Number: "1002", Name: "Dot", Device: "user/1002@acme.example.com"},
		}, 1},
	} {
		got, dups := extensionsFrom(users, tc.vars, tr(tc.rule))
		if dups != tc.dups || len(got) != len(tc.want) {
			t.Errorf("%s: %+v (%d duplicates)", tc.name, got, dups)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: [%d] %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	if got, _ := extensionsFrom(nil, nil, tr(config.TenantRule{})); got == nil || len(got) != 0 {
		t.Errorf("no users: %#v", got)
	}
	if got, _ := extensionsFrom([]DirectoryUser{{ID: "1001"}}, nil, tr(config.TenantRule{})); len(got) != 1 || got[0].Device != "user/1001" {
		t.Errorf("no domain: %+v", got)
	}
}

func TestExtensionsNeedTheEventSocket(t *testing.T) {
	a, err := New(Options{FreeSWITCH: config.FreeSWITCH{Address: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Extensions(context.Background())
	if !errors.Is(err, ErrNotConnected) || fault.IsPermanent(err) || err.Error() != "freeswitch: list_users: not connected" {
		t.Fatalf("%v", err)
	}
}

// TestDiscoveryAgreesWithCalls: a user is listed with the tenant and number
// a call from its phone gets (CHANNEL_CREATE of an inbound leg on the
// internal profile, as sofia sends it after the phone authenticated).
func TestDiscoveryAgreesWithCalls(t *testing.T) {
	create := ParseEvent("Event-Name: CHANNEL_CREATE\nUnique-ID: u1\nCall-Direction: inbound\n" +
		"Channel-Name: sofia/internal/1001@192.0.2.11:5060\nCaller-Username: 1001\nCaller-Caller-ID-Number: 1001\n" +
		"Caller-Caller-ID-Name: Ana\nCaller-Destination-Number: %2B4930123456\nCaller-Context: acme-internal\n" +
		"variable_domain_name: acme\nvariable_user_name: 1001\nvariable_user_context: acme-internal\n" +
		"variable_ringside_tenant: acme\n\n")
	user := DirectoryUser{ID: "1001", Context: "acme-internal", Domain: "acme", Name: "Ana"}
	for _, rule := range []config.TenantRule{
		{From: config.TenantVariable, Variable: "domain_name"},
		{From: config.TenantVariable, Variable: "ringside_tenant"},
		{From: config.TenantContextPrefix, Separator: "-"},
		{From: config.TenantFixed},
	} {
		tr := NewTranslator(TranslateOptions{DefaultTenant: "default", Tenant: rule})
		sigs := tr.Translate(&create, time.Time{}, nil)
		exts, _ := extensionsFrom([]DirectoryUser{user}, map[[2]string]string{{"1001", "acme"}: "acme"}, tr)
		if len(sigs) != 1 || len(exts) != 1 || sigs[0].Party != callstate.PartyExtension ||
			sigs[0].Tenant != exts[0].Tenant || sigs[0].Number != exts[0].Number || exts[0].Number != "1001" {
			t.Errorf("%+v: call %+v, listing %+v", rule, sigs, exts)
		}
	}
}
