package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/natskv"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// adminWorld is a configuration for the admin commands: tenant acme's
// Zoho org (e2eOrg) in the Zoho simulator, and either the embedded store
// with no daemon running (each command opens the store itself, one after
// the other) or Redis beside a running daemon on the ARI simulator.
type adminWorld struct {
	t      *testing.T
	sim    *zohosim.Server
	dir    string
	cfg    string
	env    []string
	prefix string // the Redis key prefix; "" on the embedded store
	daemon *process
	// actor is who the commands act as in the audit log.
	actor string
}

// The extensions of tenant acme, as the PBX has them; none is linked at
// first.
var adminExtensions = []store.Extension{
	{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "PJSIP/1001"},
	{Tenant: "acme", Number: "1002", Name: "Ben Berg", Device: "PJSIP/1002"},
	{Tenant: "acme", Number: "1003", Name: "Cleo", Device: "PJSIP/1003"},
	{Tenant: "acme", Number: "1010", Name: "Dora Door", Device: "PJSIP/1010"},
}

func newAdminWorld(t *testing.T, onRedis bool) *adminWorld {
	t.Helper()
	w := &adminWorld{t: t, dir: t.TempDir()}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	w.actor = "cli:" + u.Username
	w.sim = zohosim.New(zohosim.Options{})
	if err := w.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.sim.AddOrg(e2eOrg, "eu", e2eUsers...)
	key := filepath.Join(w.dir, "token.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "node_id: pbx-01\ndata_dir: " + w.dir + "/state\nhttp:\n  listen: 127.0.0.1:0\n" +
		"zoho:\n  accounts_url: " + w.sim.AccountsURL("us") + "\n  api_url: " + w.sim.APIDomain("us") + "\n" +
		"  client_id: " + w.sim.ClientID() + "\n  token_key_file: " + key + "\n  timeout: 2s\n"
	pbx := "pbx:\n  kind: asterisk\n  default_tenant: acme\n"
	if onRedis {
		eps := []arisim.Endpoint{{Resource: "trunk", Context: "acme-from-trunk", Vars: map[string]string{"TENANT": "acme"}}}
		for _, e := range adminExtensions {
			eps = append(eps, arisim.Endpoint{Resource: e.Number, Context: "acme-internal", CallerIDName: e.Name,
				CallerIDNumber: e.Number, Vars: map[string]string{"TENANT": "acme"}})
		}
		ari := arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
			ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside", Endpoints: eps})
		if err := ari.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ari.Close)
		pbx += "  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: " + ari.URL() + "\n"
		yaml += "admin:\n  discovery_interval: 1s\n"
		w.prefix = teststore.Prefix(t)
		yaml += "redis:\n  addr: " + teststore.RedisAddr + "\n  prefix: \"" + w.prefix + "\"\n"
	}
	w.cfg = filepath.Join(w.dir, "ringside.yaml")
	if err := os.WriteFile(w.cfg, []byte(yaml+pbx), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"RINGSIDE_LOG_FORMAT=json", "RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret",
		"RINGSIDE_ZOHO_CLIENT_SECRET=" + w.sim.ClientSecret()}
	return w
}

// ringside runs a command of the built binary on the world's
// configuration, with stdin, and returns its output; the exit code must be
// want.
func (w *adminWorld) ringside(want int, stdin string, args ...string) string {
	w.t.Helper()
	code, out := runIn(w.t, w.env, stdin, append(args, "-config", w.cfg)...)
	if code != want {
		w.t.Fatalf("ringside %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

// refuse runs a command that must fail with exit code want, saying msg.
func (w *adminWorld) refuse(want int, msg string, args ...string) {
	w.t.Helper()
	if out := w.ringside(want, "", args...); !strings.Contains(out, msg) {
		w.t.Errorf("ringside %s: output lacks %q:\n%s", strings.Join(args, " "), msg, out)
	}
}

// stdoutOf runs a command that must succeed and returns its stdout alone
// (what -json prints, without the log on stderr).
func (w *adminWorld) stdoutOf(args ...string) []byte {
	w.t.Helper()
	bin, err := buildRingside()
	if err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, "-config", w.cfg)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.t.TempDir()}, w.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("ringside %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes()
}

// decodeJSON decodes what a -json command printed into v.
func (w *adminWorld) decodeJSON(v any, args ...string) string {
	w.t.Helper()
	out := w.stdoutOf(args...)
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		w.t.Fatalf("ringside %s printed no single JSON value of the API's shape (%v):\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// connectZoho connects tenant acme in phonebridge mode, as an admin would:
// a Self Client refresh token of the EU data centre.
func (w *adminWorld) connectZoho() {
	w.t.Helper()
	rt := w.sim.SelfClientToken(e2eOrg, "ZohoCRM.modules.ALL,ZohoCRM.users.READ,PhoneBridge.call.log")
	out := w.ringside(0, rt+"\n", "zoho", "connect", "-import-token", "-", "-accounts-url", w.sim.AccountsURL("eu"),
		"-mode", "phonebridge", "-region", "de")
	if !regexp.MustCompile(`status\s+connected`).MatchString(out) {
		w.t.Fatalf("zoho connect:\n%s", out)
	}
}

// seedEmbedded stores the extensions in the embedded store, opened by the
// test while no ringside process runs: the tests of the embedded store
// run no daemon, so nothing discovers them.
func (w *adminWorld) seedEmbedded() {
	w.t.Helper()
	cfg, err := config.Load(w.cfg, w.env)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx := context.Background()
	b, err := natsbus.Open(ctx, natsbus.Options{DataDir: cfg.DataDir + "/nats", Name: "admin-test", Stream: cfg.NATS.Stream,
		Subjects: []string{events.CallSubjects}, Replicas: 1, MaxAge: cfg.NATS.MaxAge, DuplicateWindow: cfg.NATS.DuplicateWindow})
	if err != nil {
		w.t.Fatal(err)
	}
	defer b.Close()
	js, err := jetstream.New(b.Conn())
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := natskv.New(ctx, js, "ringside")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range adminExtensions {
		if _, err := st.UpsertExtension(ctx, e); err != nil {
			w.t.Fatal(err)
		}
	}
}

// serve starts the daemon and waits until it is ready.
func (w *adminWorld) serve() {
	w.t.Helper()
	w.daemon = start(w.t, w.env, "serve", "-config", w.cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	var base string
	eventually(w.t, 60*time.Second, "the http address in the log", func() bool {
		if m := re.FindStringSubmatch(w.daemon.errOut()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	})
	eventually(w.t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(w.t, base+"/readyz"); return code == 200 })
}

// registered reports whether the Zoho user has click-to-dial and call
// control URLs registered at Zoho.
func (w *adminWorld) registered(zohoUser string) bool {
	var click, control bool
	w.sim.Org(e2eOrg, func(o *zohosim.Org) {
		_, click = o.ClickToDial[zohoUser]
		_, control = o.CallControl[zohoUser]
	})
	return click && control
}

// row matches a table row of these cells, aligned by any whitespace.
func row(cells ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + cellsRe(cells) + `\s*$`)
}

// auditRow matches an audit log row of these cells after its time.
func auditRow(cells ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\S+Z\s+` + cellsRe(cells) + `\s*$`)
}

func cellsRe(cells []string) string {
	q := make([]string, len(cells))
	for i, c := range cells {
		q[i] = regexp.QuoteMeta(c)
	}
	return strings.Join(q, `\s+`)
}

// wantRows checks that out has every row and the footer (if any).
func (w *adminWorld) wantRows(what, out string, rows [][]string, footer string) {
	w.t.Helper()
	for _, r := range rows {
		if !row(r...).MatchString(out) {
			w.t.Errorf("%s lacks the row %q:\n%s", what, r, out)
		}
	}
	if footer != "" && !strings.Contains(out, footer) {
		w.t.Errorf("%s lacks %q:\n%s", what, footer, out)
	}
}

// The users table while 1001 and 1002 are linked with both switches on.
var twoLinked = [][]string{
	{"1001", "Ana García", "ana@acme.example", "Ana", "on", "on", "on", "-"},
	{"1002", "Ben Berg", "ben@acme.example", "Ben", "on", "on", "on", "-"},
	{"1003", "Cleo", "-", "-", "off", "-", "-", "-"},
	{"1010", "Dora Door", "-", "-", "off", "-", "-", "-"},
}

// TestAdminAccountsAndTokens: accounts and API tokens from the command
// line on the embedded store with no daemon running.
func TestAdminAccountsAndTokens(t *testing.T) {
	w := newAdminWorld(t, false)
	w.ringside(0, "", "tenants", "add", "-id", "acme")

	// Passwords come from stdin or a file, never from the command line.
	if out := w.ringside(0, "correct horse battery\n", "accounts", "add", "-username", "alice", "-role", "operator"); !strings.Contains(out, "Account alice added: operator") {
		t.Errorf("accounts add:\n%s", out)
	}
	pwFile := filepath.Join(w.dir, "pw")
	if err := os.WriteFile(pwFile, []byte("bobs long password\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := w.ringside(0, "", "accounts", "add", "-username", "bob", "-role", "admin", "-password-file", pwFile); !strings.Contains(out, "admin of tenant acme") {
		t.Errorf("accounts add (admin of the default tenant):\n%s", out)
	}
	accounts := func() string { return w.ringside(0, "", "accounts", "list") }
	before := accounts()
	w.wantRows("accounts list", before, [][]string{{"USERNAME", "ROLE", "TENANT", "CREATED"}}, "")
	if !regexp.MustCompile(`(?m)^alice\s+operator\s+-\s+\S+Z$`).MatchString(before) || !regexp.MustCompile(`(?m)^bob\s+admin\s+acme\s+\S+Z$`).MatchString(before) {
		t.Errorf("accounts list:\n%s", before)
	}

	// Bad input changes nothing.
	if out := w.ringside(1, "short\n", "accounts", "add", "-username", "carol", "-role", "operator"); !strings.Contains(out, "password shorter than 10 characters") {
		t.Errorf("short password:\n%s", out)
	}
	w.refuse(1, "no password on stdin", "accounts", "add", "-username", "carol", "-role", "operator")
	if out := w.ringside(1, "another long password\n", "accounts", "add", "-username", "alice", "-role", "operator"); !strings.Contains(out, "account alice exists already") {
		t.Errorf("duplicate account:\n%s", out)
	}
	if out := w.ringside(1, "another long password\n", "accounts", "add", "-username", "carol", "-role", "admin", "-tenant", "globex"); !strings.Contains(out, "tenant globex does not exist") {
		t.Errorf("admin of an unknown tenant:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"accounts", "add", "-username", "carol", "-role", "boss"}, `-role must be operator or admin, got "boss"`},
		{[]string{"accounts", "add", "-username", "carol", "-role", "operator", "-tenant", "acme"}, "-tenant is for admins"},
		{[]string{"accounts", "add", "-role", "operator"}, "-username is required"},
		{[]string{"accounts", "add", "-username", "carol", "-role", "operator", "-password", "x"}, "flag provided but not defined: -password"},
		{[]string{"tokens", "create"}, "-username is required"},
		{[]string{"tokens", "create", "-username", "alice", "-ttl", "soon"}, `invalid value "soon" for flag -ttl`},
	} {
		if out := w.ringside(2, "long enough password\n", tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
	if after := accounts(); after != before {
		t.Errorf("refused commands changed the accounts:\n%s\nwas\n%s", after, before)
	}

	// A token is printed once, alone on stdout.
	out := w.ringside(0, "", "tokens", "create", "-username", "alice", "-ttl", "720h")
	if !regexp.MustCompile(`(?m)^rsk_[A-Za-z0-9_-]{43}$`).MatchString(out) || !strings.Contains(out, "cannot be shown again") ||
		!strings.Contains(out, "valid for 30d") {
		t.Errorf("tokens create:\n%s", out)
	}
	if out := w.ringside(0, "", "tokens", "create", "-username", "bob"); !strings.Contains(out, "valid for 90d") { // admin.token_ttl
		t.Errorf("tokens create with the default lifetime:\n%s", out)
	}
	w.refuse(1, "no account nobody", "tokens", "create", "-username", "nobody")

	// Passwords change from stdin; a short one changes nothing.
	w.ringside(1, "short\n", "accounts", "passwd", "-username", "bob")
	if out := w.ringside(0, "a new long password\n", "accounts", "passwd", "-username", "bob"); !strings.Contains(out, "Password of bob changed") {
		t.Errorf("accounts passwd:\n%s", out)
	}
	if out := w.ringside(1, "long enough password\n", "accounts", "passwd", "-username", "nobody"); !strings.Contains(out, "no account nobody") {
		t.Errorf("passwd of an unknown account:\n%s", out)
	}

	if out := w.ringside(0, "", "accounts", "delete", "-username", "bob"); !strings.Contains(out, "Account bob deleted") {
		t.Errorf("accounts delete:\n%s", out)
	}
	w.refuse(1, "no account bob", "accounts", "delete", "-username", "bob")
	if out := accounts(); strings.Contains(out, "bob") || !strings.Contains(out, "alice") {
		t.Errorf("accounts list after delete:\n%s", out)
	}

	audit := w.ringside(0, "", "audit")
	for _, r := range [][]string{
		{w.actor, "cli", "-", "account.create", "alice", "operator", "ok"},
		{w.actor, "cli", "acme", "account.create", "bob", "admin", "ok"},
		{w.actor, "cli", "-", "account.create", "carol", "operator", "refused: password shorter than 10 characters: invalid"},
		{w.actor, "cli", "-", "token.create", "alice", "valid 720h0m0s", "ok"},
		{w.actor, "cli", "acme", "account.password", "bob", "-", "ok"},
		{w.actor, "cli", "acme", "account.delete", "bob", "-", "ok"},
	} {
		if !auditRow(r...).MatchString(audit) {
			t.Errorf("audit lacks %q:\n%s", r, audit)
		}
	}
}

// TestAdminTenantsAndUsers: tenants, the users table, links, switches,
// terminals and the audit log from the command line on the embedded store
// with no daemon running; every refused command changes nothing.
func TestAdminTenantsAndUsers(t *testing.T) {
	w := newAdminWorld(t, false)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tenants"}, "Usage: ringside tenants <command>"},
		{[]string{"users", "frob"}, `unknown command "frob"`},
		{[]string{"tenants", "add"}, "-id is required"},
		{[]string{"tenants", "set"}, "nothing to change"},
		{[]string{"tenants", "set", "-mode", "sip"}, `-mode must be rest or phonebridge, got "sip"`},
		{[]string{"tenants", "set", "-feature", "missed_call_task=maybe"}, `want name=on or name=off, got "missed_call_task=maybe"`},
		{[]string{"tenants", "delete", "-yes"}, "-tenant is required"},
		{[]string{"users", "link", "-extension", "1001"}, "-zoho-user is required"},
		{[]string{"users", "set", "-extension", "1001"}, "nothing to change"},
		{[]string{"users", "set", "-extension", "1001", "-notifications", "maybe"}, `want on or off, got "maybe"`},
		{[]string{"users", "list", "-linked", "-unlinked"}, "exclude each other"},
		{[]string{"users", "list", "-limit", "0"}, "-limit at least 1"},
		{[]string{"users", "list", "-tenant", "a.b"}, `invalid tenant "a.b"`},
		{[]string{"audit", "-offset", "-1"}, "-offset must be at least 0"},
	} {
		if out := w.ringside(2, "", tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}

	// Tenants.
	if out := w.ringside(0, "", "tenants", "list"); !strings.Contains(out, "No tenants yet") {
		t.Errorf("tenants list of none:\n%s", out)
	}
	if out := w.ringside(0, "", "tenants", "add", "-id", "acme", "-name", "Acme GmbH"); !strings.Contains(out, "Tenant acme (Acme GmbH) added") {
		t.Errorf("tenants add:\n%s", out)
	}
	w.ringside(0, "", "tenants", "add", "-id", "globex")
	w.refuse(1, "tenant acme exists already", "tenants", "add", "-id", "acme", "-name", "Other")
	w.refuse(1, `tenant id "a b"`, "tenants", "add", "-id", "a b")
	w.refuse(1, "tenant initech does not exist", "users", "list", "-tenant", "initech")
	tenants := w.ringside(0, "", "tenants", "list")
	w.wantRows("tenants list", tenants, [][]string{{"ID", "NAME", "MODE", "REGION", "ZOHO", "CREATED"}}, "")
	if !regexp.MustCompile(`(?m)^acme\s+Acme GmbH\s+-\s+-\s+disconnected\s+\S+Z$`).MatchString(tenants) ||
		!regexp.MustCompile(`(?m)^globex\s+globex\s+-\s+-\s+disconnected\s+\S+Z$`).MatchString(tenants) || strings.Contains(tenants, "Other") {
		t.Errorf("tenants list:\n%s", tenants)
	}

	// Linking needs Zoho connected, and extensions (from the PBX).
	w.seedEmbedded()
	w.refuse(1, "connect it with `ringside zoho connect -tenant acme`", "users", "link", "-extension", "1001", "-zoho-user", "ana@acme.example")
	w.connectZoho()
	users := func(args ...string) string { return w.ringside(0, "", append([]string{"users", "list"}, args...)...) }
	none := [][]string{
		{"EXTENSION", "NAME", "ZOHO LOGIN", "ZOHO NAME", "LINKED", "NOTIFICATIONS", "CLICK-TO-CALL", "TERMINAL"},
		{"1001", "Ana García", "-", "-", "off", "-", "-", "-"},
		{"1010", "Dora Door", "-", "-", "off", "-", "-", "-"},
	}
	w.wantRows("users list", users(), none, "showing 1–4 of 4")

	if out := w.ringside(0, "", "users", "link", "-extension", "1001", "-zoho-user", "ANA@acme.example"); !strings.Contains(out, "Extension 1001 linked to ana@acme.example (Ana)") ||
		!strings.Contains(out, "registered at Zoho") {
		t.Errorf("users link by email:\n%s", out)
	}
	w.ringside(0, "", "users", "link", "-extension", "1002", "-zoho-user", "pb-1002") // by PhoneBridge id
	if !w.registered("pb-1001") || !w.registered("pb-1002") {
		t.Error("linked users are not registered at Zoho")
	}
	before := users()
	w.wantRows("users list", before, twoLinked, "showing 1–4 of 4")

	// Bad input changes nothing.
	w.refuse(1, "extension 1001 is already linked to ana@acme.example", "users", "link", "-extension", "1001", "-zoho-user", "cleo@acme.example")
	w.refuse(1, "Zoho user ana@acme.example is already linked to extension 1001", "users", "link", "-extension", "1003", "-zoho-user", "ana@acme.example")
	w.refuse(1, "extension 1009 does not exist in tenant acme (extensions come from the PBX; check `ringside users list -tenant acme`)",
		"users", "link", "-extension", "1009", "-zoho-user", "cleo@acme.example")
	w.refuse(1, `no user "nobody@acme.example" in the Zoho org of tenant acme`, "users", "link", "-extension", "1003", "-zoho-user", "nobody@acme.example")
	w.refuse(1, "click-to-call requires call notifications", "users", "set", "-extension", "1001", "-notifications", "off", "-click-to-call", "on")
	w.refuse(1, "extension 1003 of tenant acme is not linked", "users", "set", "-extension", "1003", "-notifications", "on")
	w.refuse(1, "extension 1009 does not exist in tenant acme", "users", "set", "-extension", "1009", "-notifications", "on")
	w.refuse(1, "extension 1003 of tenant acme is not linked", "users", "unlink", "-extension", "1003")
	w.refuse(1, "extension 1009 does not exist in tenant acme", "users", "unlink", "-extension", "1009")
	if after := users(); after != before {
		t.Errorf("refused commands changed the users table:\n%s\nwas\n%s", after, before)
	}
	if w.registered("pb-1003") {
		t.Error("a refused link registered Cleo at Zoho")
	}

	// Search and paging.
	w.wantRows("users list -linked", users("-linked"), twoLinked[:2], "showing 1–2 of 2")
	w.wantRows("users list -unlinked -offset 1 -limit 1", users("-unlinked", "-offset", "1", "-limit", "1"), twoLinked[3:], "showing 2–2 of 2")
	if out := users("-unlinked", "-offset", "1", "-limit", "1"); strings.Contains(out, "Cleo") {
		t.Errorf("a page of one shows two rows:\n%s", out)
	}
	w.wantRows("users list -search BEN", users("-search", "BEN"), twoLinked[1:2], "showing 1–1 of 1")
	w.wantRows("users list -search dora", users("-search", "dora"), twoLinked[3:], "showing 1–1 of 1")
	if out := users("-search", "nobody"); !strings.Contains(out, "showing 0 of 0") {
		t.Errorf("users list -search nobody:\n%s", out)
	}

	// Switches: notifications off turns click-to-call off.
	if out := w.ringside(0, "", "users", "set", "-extension", "1001", "-click-to-call", "off"); !strings.Contains(out, "notifications on, click-to-call off") {
		t.Errorf("users set -click-to-call off:\n%s", out)
	}
	w.ringside(0, "", "users", "set", "-extension", "1002", "-notifications", "off")
	w.wantRows("users list", users(), [][]string{
		{"1001", "Ana García", "ana@acme.example", "Ana", "on", "on", "off", "-"},
		{"1002", "Ben Berg", "ben@acme.example", "Ben", "on", "off", "off", "-"},
	}, "")
	w.ringside(0, "", "users", "set", "-extension", "1002", "-notifications", "on", "-click-to-call", "on")

	// Tenant settings; the default user must be a user of the org.
	if out := w.ringside(0, "", "tenants", "set", "-default-user", "boss@acme.example", "-region", "at", "-feature", "missed_call_task=on",
		"-feature", "other=off", "-name", "Acme AG"); !strings.Contains(out, "Tenant acme changed") {
		t.Errorf("tenants set:\n%s", out)
	}
	show := w.ringside(0, "", "tenants", "show")
	w.wantRows("tenants show", show, [][]string{{"tenant", "acme"}, {"name", "Acme AG"}, {"mode", "phonebridge"}, {"region", "AT"},
		{"default user", "9009"}, {"features on", "missed_call_task"}, {"zoho", "connected"}, {"zoho location", "eu"},
		{"users", "4 extensions, 2 linked"}}, "")
	// -json prints what the JSON API answers, without secrets.
	var tj struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Settings json.RawMessage `json:"settings"`
		Zoho     struct {
			Status   string `json:"status"`
			Location string `json:"location"`
		} `json:"zoho"`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	if raw := w.stdoutOf("tenants", "show", "-json"); json.Unmarshal(raw, &tj) != nil || tj.ID != "acme" || tj.Name != "Acme AG" ||
		tj.Zoho.Status != "connected" || tj.Zoho.Location != "eu" || !strings.Contains(string(tj.Settings), `"default_user":"9009"`) ||
		!strings.Contains(string(tj.Settings), `"region":"AT"`) || tj.CreatedAt.IsZero() || strings.Contains(string(raw), "refresh") {
		t.Errorf("tenants show -json:\n%s", raw)
	}
	var uj struct {
		Users []struct {
			Tenant, Number, Name, Device string
			UpdatedAt                    time.Time `json:"updated_at"`
			Link                         *struct {
				Tenant, Extension, Email, Name string
				ZohoUser                       string    `json:"zoho_user"`
				CRMUser                        string    `json:"crm_user"`
				LinkedAt                       time.Time `json:"linked_at"`
				Switches                       struct {
					Notifications bool `json:"notifications"`
					ClickToCall   bool `json:"click_to_call"`
				} `json:"switches"`
			} `json:"link"`
			Terminal *json.RawMessage `json:"terminal"`
		} `json:"users"`
		Total, Offset, Limit int
	}
	raw := w.decodeJSON(&uj, "users", "list", "-linked", "-json")
	if len(uj.Users) != 2 || uj.Total != 2 || uj.Offset != 0 || uj.Limit != store.DefaultLimit || uj.Users[0].Link == nil ||
		uj.Users[0].Number != "1001" || uj.Users[0].Link.Email != "ana@acme.example" || uj.Users[0].Link.Switches.ClickToCall ||
		uj.Users[1].Link == nil || uj.Users[1].Link.ZohoUser != "pb-1002" || !uj.Users[1].Link.Switches.ClickToCall || strings.Contains(raw, "secret") {
		t.Errorf("users list -linked -json:\n%s", raw)
	}
	w.refuse(1, `no user "nobody@acme.example" in the Zoho org of tenant acme`, "tenants", "set", "-default-user", "nobody@acme.example")
	w.refuse(1, `region "GERMANY": want two upper-case letters`, "tenants", "set", "-region", "Germany", "-name", "Changed")
	if after := w.ringside(0, "", "tenants", "show"); after != show {
		t.Errorf("refused tenant changes changed it:\n%s\nwas\n%s", after, show)
	}

	// Unlinking unregisters the user at Zoho.
	if out := w.ringside(0, "", "users", "unlink", "-extension", "1002"); !strings.Contains(out, "Extension 1002 unlinked from ben@acme.example") ||
		strings.Contains(out, "warning") {
		t.Errorf("users unlink:\n%s", out)
	}
	if w.registered("pb-1002") || !w.registered("pb-1001") {
		t.Error("unlinking 1002 did not unregister Ben alone")
	}
	w.wantRows("users list", users(), [][]string{{"1002", "Ben Berg", "-", "-", "off", "-", "-", "-"}}, "showing 1–4 of 4")

	// Terminals go through the same service (and its audit log).
	if out := w.ringside(0, "", "terminals", "list"); !strings.Contains(out, "No default terminal set in tenant acme") {
		t.Errorf("terminals list:\n%s", out)
	}
	if out := w.ringside(0, "", "terminals", "show", "-extension", "1001"); !strings.Contains(out, "1001\textension itself PJSIP/1001 (no default terminal set)") {
		t.Errorf("terminals show:\n%s", out)
	}
	w.ringside(0, "", "terminals", "reset", "-extension", "1001")
	w.refuse(1, "tenant acme has no extension 4711", "terminals", "reset", "-extension", "4711")

	// The audit log says who did what, through which surface, and what
	// was refused.
	audit := w.ringside(0, "", "audit")
	for _, r := range [][]string{
		{w.actor, "cli", "-", "tenant.create", "acme", "Acme GmbH", "ok"},
		{w.actor, "cli", "-", "tenant.create", "acme", "Other", "refused: natskv: create tenant acme: exists: conflict"},
		{w.actor, "cli", "acme", "user.link", "1001", "ANA@acme.example", "ok"},
		{w.actor, "cli", "acme", "user.link", "1003", "nobody@acme.example", `refused: no user "nobody@acme.example" in the Zoho org of tenant acme: not found`},
		{w.actor, "cli", "acme", "user.switches", "1001", "notifications=off click_to_call=on", "refused: natskv: set switches of acme/1001: click-to-call requires notifications: invalid"},
		{w.actor, "cli", "acme", "user.switches", "1001", "click_to_call=off", "ok"},
		{w.actor, "cli", "acme", "tenant.update", "acme", "name=Acme AG region=at default_user=boss@acme.example missed_call_task=true other=false", "ok"},
		{w.actor, "cli", "acme", "user.unlink", "1002", "ben@acme.example", "ok"},
		{w.actor, "cli", "acme", "terminal.reset", "1001", "-", "ok"},
	} {
		if !auditRow(r...).MatchString(audit) {
			t.Errorf("audit lacks %q:\n%s", r, audit)
		}
	}
	if out := w.ringside(0, "", "audit", "-tenant", "acme", "-limit", "2"); strings.Count(out, w.actor) != 2 || !strings.Contains(out, "showing 1–2 of ") ||
		strings.Contains(out, "tenant.create") {
		t.Errorf("audit -tenant acme -limit 2:\n%s", out)
	}
	var aj struct {
		Entries []struct {
			Time                                              time.Time
			Actor, Via, Tenant, Action, Target, Detail, Error string
		} `json:"entries"`
		Total, Offset, Limit int
	}
	if raw := w.decodeJSON(&aj, "audit", "-tenant", "acme", "-limit", "2", "-json"); len(aj.Entries) != 2 || aj.Total < 10 || aj.Limit != 2 ||
		aj.Entries[0].Action != "terminal.reset" || aj.Entries[0].Actor != w.actor || aj.Entries[0].Via != "cli" || aj.Entries[0].Time.IsZero() {
		t.Errorf("audit -json:\n%s", raw)
	}

	// Deleting a tenant says what it does first, then unlinks everyone.
	w.refuse(1, "not deleted without -yes: deleting tenant acme unlinks its 1 linked users", "tenants", "delete", "-tenant", "acme")
	w.wantRows("users list", users(), [][]string{{"1001", "Ana García", "ana@acme.example", "Ana", "on", "on", "off", "-"}}, "")
	if out := w.ringside(0, "", "tenants", "delete", "-tenant", "acme", "-yes"); !strings.Contains(out, "Tenant acme deleted; 1 users were unlinked") {
		t.Errorf("tenants delete:\n%s", out)
	}
	if w.registered("pb-1001") {
		t.Error("deleting the tenant left Ana registered at Zoho")
	}
	if out := w.ringside(0, "", "tenants", "list"); strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Errorf("tenants list after delete:\n%s", out)
	}
	w.refuse(1, "tenant acme does not exist (see `ringside tenants list`)", "users", "list")
}

// TestAdminCommandsBesideTheDaemon: on Redis the admin commands run beside
// a running daemon (on the ARI simulator) and share its store: accounts and
// tokens, the users table, a link registered at Zoho, switches, unlink and
// the audit log.
func TestAdminCommandsBesideTheDaemon(t *testing.T) {
	w := newAdminWorld(t, true)
	w.serve()
	w.connectZoho()

	// The daemon discovers the extensions at the ARI simulator's endpoints
	// (the trunk is not one).
	eventually(t, 30*time.Second, "the discovered extensions", func() bool {
		code, out := runIn(t, w.env, "", "users", "list", "-config", w.cfg)
		return code == 0 && strings.Contains(out, "showing 1–4 of 4")
	})

	w.ringside(0, "operator password\n", "accounts", "add", "-username", "ops", "-role", "operator")
	if out := w.ringside(0, "", "tokens", "create", "-username", "ops"); !regexp.MustCompile(`(?m)^rsk_[A-Za-z0-9_-]{43}$`).MatchString(out) {
		t.Errorf("tokens create:\n%s", out)
	}
	w.refuse(1, "password shorter than 10 characters", "accounts", "passwd", "-username", "ops", "-password-file", "/dev/null")

	users := func(args ...string) string { return w.ringside(0, "", append([]string{"users", "list"}, args...)...) }
	w.wantRows("users list", users(), [][]string{{"1001", "Ana García", "-", "-", "off", "-", "-", "-"}}, "showing 1–4 of 4")
	w.ringside(0, "", "users", "link", "-extension", "1001", "-zoho-user", "ana@acme.example")
	w.ringside(0, "", "users", "link", "-extension", "1002", "-zoho-user", "9002") // by CRM user id
	if !w.registered("pb-1001") || !w.registered("pb-1002") {
		t.Error("linked users are not registered at Zoho")
	}
	before := users()
	w.wantRows("users list", before, twoLinked, "showing 1–4 of 4")
	w.refuse(1, "extension 1002 is already linked to ben@acme.example", "users", "link", "-extension", "1002", "-zoho-user", "cleo@acme.example")
	w.refuse(1, "Zoho user ben@acme.example is already linked to extension 1002", "users", "link", "-extension", "1003", "-zoho-user", "pb-1002")
	w.refuse(1, "extension 1009 does not exist in tenant acme", "users", "link", "-extension", "1009", "-zoho-user", "cleo@acme.example")
	w.refuse(1, `no user "9999" in the Zoho org of tenant acme`, "users", "link", "-extension", "1003", "-zoho-user", "9999")
	w.refuse(1, "click-to-call requires call notifications", "users", "set", "-extension", "1002", "-notifications", "off", "-click-to-call", "on")
	if after := users(); after != before {
		t.Errorf("refused commands changed the users table:\n%s\nwas\n%s", after, before)
	}

	w.ringside(0, "", "users", "set", "-extension", "1002", "-notifications", "off")
	w.wantRows("users list -linked", users("-linked"), [][]string{{"1002", "Ben Berg", "ben@acme.example", "Ben", "on", "off", "off", "-"}}, "showing 1–2 of 2")
	w.ringside(0, "", "users", "unlink", "-extension", "1002")
	if w.registered("pb-1002") {
		t.Error("unlinking did not unregister Ben at Zoho")
	}

	audit := w.ringside(0, "", "audit", "-tenant", "acme")
	for _, r := range [][]string{
		{w.actor, "cli", "acme", "user.link", "1001", "ana@acme.example", "ok"},
		{w.actor, "cli", "acme", "user.link", "1002", "9002", "ok"},
		{w.actor, "cli", "acme", "user.switches", "1002", "notifications=off", "ok"},
		{w.actor, "cli", "acme", "user.unlink", "1002", "ben@acme.example", "ok"},
	} {
		if !auditRow(r...).MatchString(audit) {
			t.Errorf("audit lacks %q:\n%s", r, audit)
		}
	}
	if !strings.Contains(audit, "refused: no user \"9999\" in the Zoho org of tenant acme") {
		t.Errorf("audit lacks the refused link:\n%s", audit)
	}

	// -json prints exactly what the daemon's JSON API answers.
	base := "http://" + regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`).FindStringSubmatch(w.daemon.errOut())[1]
	token := strings.TrimSpace(string(w.stdoutOf("tokens", "create", "-username", "ops")))
	for _, c := range []struct {
		cli  []string
		path string
	}{
		{[]string{"tenants", "list", "-json"}, "/api/v1/tenants"},
		{[]string{"tenants", "show", "-json"}, "/api/v1/tenants/acme"},
		{[]string{"users", "list", "-json"}, "/api/v1/tenants/acme/users"},
		{[]string{"users", "list", "-linked", "-offset", "0", "-limit", "1", "-json"}, "/api/v1/tenants/acme/users?linked=true&limit=1"},
		{[]string{"accounts", "list", "-json"}, "/api/v1/accounts"},
		{[]string{"audit", "-tenant", "acme", "-limit", "5", "-json"}, "/api/v1/audit?tenant=acme&limit=5"},
	} {
		cli := string(w.stdoutOf(c.cli...))
		req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		api, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || cli != string(api) {
			t.Errorf("ringside %s prints\n%s\nGET %s answers %d\n%s", strings.Join(c.cli, " "), cli, c.path, resp.StatusCode, api)
		}
	}
	w.daemon.terminate()
}
