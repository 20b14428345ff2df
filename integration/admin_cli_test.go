package integration

import (
	"context"
	"os"
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

// The extensions of tenant acme; none is linked at first.
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
		ari := arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
			ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside"})
		if err := ari.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ari.Close)
		pbx += "  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: " + ari.URL() + "\n"
		w.prefix = "rstest-admin-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000") + ":"
		yaml += "redis:\n  addr: 127.0.0.1:6379\n  prefix: \"" + w.prefix + "\"\n"
		t.Cleanup(func() { cleanRedis(w.prefix) })
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
