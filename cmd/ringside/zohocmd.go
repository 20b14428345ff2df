package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

const zohoUsage = `Usage: ringside zoho <command> [flags]

Commands:
  connect     connect a tenant to its Zoho org: browser (default), -device, or -import-token
  status      show a tenant's Zoho connection
  disconnect  revoke and forget a tenant's Zoho connection
  users       list the Zoho users of a tenant's org and the extensions linked to them

Every command takes -config FILE and -tenant ID (default pbx.default_tenant).
The commands open the store directly: Redis (redis.addr), or the embedded
store. The embedded store belongs to the daemon while it runs: then set
nats.listen so these commands reach it through the daemon's NATS server, or
stop the daemon first.
`

// cmdZoho dispatches `ringside zoho <command>`.
func cmdZoho(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, zohoUsage)
		return errUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "connect", "status", "disconnect", "users":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, zohoUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "ringside zoho: unknown command %q\n\n%s", sub, zohoUsage)
		return errUsage
	}
	synopsis := map[string]string{
		"connect":    "zoho connect [-config FILE] [-tenant ID] [-mode rest|phonebridge] [-region CC] [-device | -import-token TOKEN|-|@FILE [-accounts-url URL]]",
		"status":     "zoho status [-config FILE] [-tenant ID]",
		"disconnect": "zoho disconnect [-config FILE] [-tenant ID]",
		"users":      "zoho users [-config FILE] [-tenant ID]",
	}[sub]
	fs := newFlagSet("zoho "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenant := fs.String("tenant", "", "tenant id (default: pbx.default_tenant)")
	var device *bool
	var importToken, accountsURL, mode, region *string
	if sub == "connect" {
		device = fs.Bool("device", false, "device flow: print a code to enter at Zoho's verification page, wait for approval")
		importToken = fs.String("import-token", "", "import a Self Client refresh token: the token, - (read stdin) or @FILE")
		accountsURL = fs.String("accounts-url", "", "accounts server of the org's data centre (default zoho.accounts_url)")
		mode = fs.String("mode", "", "set the tenant's mode: rest or phonebridge (default: keep; rest for a new tenant)")
		region = fs.String("region", "", "set the tenant's region for numbers without a country code (ISO 3166-1, e.g. DE)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if !zohoEnabled(cfg) {
		return errors.New("zoho is not configured: set zoho.client_id, zoho.client_secret and zoho.token_key_file")
	}
	if *tenant == "" {
		*tenant = cfg.PBX.DefaultTenant
	}
	if !events.ValidToken(*tenant) {
		fmt.Fprintf(stderr, "ringside zoho %s: invalid tenant %q\n", sub, *tenant)
		return errUsage
	}
	if sub == "connect" {
		switch {
		case *device && *importToken != "":
			fmt.Fprintln(stderr, "ringside zoho connect: -device and -import-token exclude each other")
			return errUsage
		case *mode != "" && *mode != string(store.ModeREST) && *mode != string(store.ModePhoneBridge):
			fmt.Fprintf(stderr, "ringside zoho connect: -mode must be rest or phonebridge, got %q\n", *mode)
			return errUsage
		case *accountsURL != "":
			cfg.Zoho.AccountsURL = *accountsURL
		}
	}
	log, err := newLogger("warn", "console", stderr)
	if err != nil {
		return err
	}
	st, closeStore, err := openCLIStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	c, err := newZohoClient(cfg, st, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	switch sub {
	case "connect":
		return zohoConnect(ctx, cfg, st, c, *tenant, connectOpts{device: *device, token: *importToken,
			accounts: *accountsURL, mode: store.ZohoMode(*mode), region: *region}, stdin, stdout)
	case "status":
		return zohoStatus(ctx, c, *tenant, stdout)
	case "disconnect":
		if err := c.Disconnect(ctx, *tenant); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Zoho disconnected for tenant %s; its call events wait until it is connected again.\n", *tenant)
		return nil
	default:
		return zohoUsers(ctx, st, c, *tenant, stdout)
	}
}

type connectOpts struct {
	device          bool
	token, accounts string
	mode            store.ZohoMode
	region          string
}

func zohoConnect(ctx context.Context, cfg config.Config, st stateStore, c *zoho.Client, tenant string, o connectOpts, stdin io.Reader, stdout io.Writer) error {
	if _, err := ensureTenant(ctx, st, tenant); err != nil {
		return err
	}
	if err := setTenantSettings(ctx, st, tenant, o.mode, o.region); err != nil {
		return err
	}
	switch {
	case o.token != "":
		rt, err := readToken(o.token, stdin)
		if err != nil {
			return err
		}
		if err := c.ImportRefreshToken(ctx, tenant, rt, o.accounts); err != nil {
			return err
		}
		return zohoStatus(ctx, c, tenant, stdout)
	case o.device:
		err := c.ConnectDevice(ctx, tenant, func(p zoho.DevicePrompt) {
			fmt.Fprintf(stdout, "To connect tenant %s to Zoho, open\n\n    %s\n\nand enter the code\n\n    %s\n\n", tenant, p.VerificationURL, p.UserCode)
			if p.VerificationURLComplete != "" {
				fmt.Fprintf(stdout, "(or open %s)\n", p.VerificationURLComplete)
			}
			fmt.Fprintf(stdout, "Waiting for approval (the code expires in %s)...\n", p.ExpiresIn.Round(time.Second))
		})
		if err != nil {
			return err
		}
		return zohoStatus(ctx, c, tenant, stdout)
	default:
		u, err := c.AuthCodeURL(ctx, tenant)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "To connect tenant %s to Zoho, open this URL in a browser signed in as an administrator\nof the Zoho org:\n\n    %s\n\n"+
			"After consent Zoho sends the browser to %s:\nthe running Ringside daemon completes the connection there (the link is valid for 15 minutes,\n"+
			"and that address must reach the daemon). Then check with: ringside zoho status -tenant %s\n", tenant, u, redirectURL(cfg), tenant)
		return nil
	}
}

// setTenantSettings applies -mode and -region; a tenant without a mode
// gets rest (it works with every Zoho edition).
func setTenantSettings(ctx context.Context, st store.Tenants, id string, mode store.ZohoMode, region string) error {
	for range 8 {
		t, err := st.Tenant(ctx, id)
		if err != nil {
			return err
		}
		before := t.Settings
		if mode != "" {
			t.Settings.Mode = mode
		} else if t.Settings.Mode == store.ModeUnset {
			t.Settings.Mode = store.ModeREST
		}
		if region != "" {
			t.Settings.Region = strings.ToUpper(region)
		}
		if t.Settings.Mode == before.Mode && t.Settings.Region == before.Region {
			return nil
		}
		if _, err = st.UpdateTenant(ctx, t); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("tenant %s: changed concurrently, try again", id)
}

// readToken reads a refresh token given as itself, "-" (stdin) or @FILE.
// It is never printed.
func readToken(v string, stdin io.Reader) (string, error) {
	var raw string
	switch {
	case v == "-":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the refresh token from stdin: %w", err)
		}
		raw = line
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return "", fmt.Errorf("read the refresh token: %w", err)
		}
		raw = string(b)
	default:
		raw = v
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("empty refresh token")
	}
	return raw, nil
}

func zohoStatus(ctx context.Context, c *zoho.Client, tenant string, stdout io.Writer) error {
	s, err := c.Status(ctx, tenant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s\t%s\n", k, v)
		}
	}
	mode := string(s.Mode)
	if mode == "" {
		mode = "off (no mode set)"
	}
	row("tenant", s.Tenant)
	row("mode", mode)
	row("status", string(s.Status))
	row("location", s.Location)
	row("accounts server", s.AccountsURL)
	row("api domain", s.APIDomain)
	row("scopes", strings.Join(s.Scopes, ","))
	if !s.ConnectedAt.IsZero() {
		row("connected at", s.ConnectedAt.UTC().Format(time.RFC3339))
	}
	if s.LastError != "" {
		row("last error", s.LastError+" ("+s.LastErrorAt.UTC().Format(time.RFC3339)+")")
	}
	return w.Flush()
}

func zohoUsers(ctx context.Context, st store.Links, c *zoho.Client, tenant string, stdout io.Writer) error {
	us, err := c.Users(ctx, tenant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CRM USER\tPHONEBRIDGE USER\tEMAIL\tNAME\tEXTENSION")
	for _, u := range us {
		ext := "-"
		if u.ZohoUser != "" {
			if l, err := st.LinkByZohoUser(ctx, tenant, u.ZohoUser); err == nil {
				ext = l.Extension
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", dash(u.CRMUserID), dash(u.ZohoUser), u.Email, u.Name, ext)
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openCLIStore opens the store for a command while the daemon may run:
// Redis and an external NATS are shared anyway; the embedded store is
// opened in this process when the daemon is stopped (the data directory
// lock is free), else reached through the daemon's nats.listen.
func openCLIStore(ctx context.Context, cfg config.Config, log *zap.Logger) (stateStore, func(), error) {
	if !cfg.Redis.Embedded() {
		return openStore(ctx, cfg, nil)
	}
	connect := func(url string) (stateStore, func(), error) {
		opts := []nats.Option{nats.Name("ringside-cli"), nats.Timeout(5 * time.Second)}
		if tok := cfg.NATS.Token.Value(); tok != "" {
			opts = append(opts, nats.Token(tok))
		}
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("store: nats %s: %w", url, err)
		}
		js, err := jetstream.New(nc)
		if err == nil {
			var kv *natskv.Store
			if kv, err = natskv.New(ctx, js, "ringside"); err == nil {
				return kv, nc.Close, nil
			}
		}
		nc.Close()
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	if !cfg.NATS.Embedded() {
		return connect(strings.Join(cfg.NATS.Servers(), ","))
	}
	lock, err := lockDataDir(cfg.DataDir)
	switch {
	case errors.Is(err, errLocked) && cfg.NATS.Listen != "":
		return connect("nats://" + cfg.NATS.Listen) // the running daemon's server
	case errors.Is(err, errLocked):
		return nil, nil, fmt.Errorf("the ringside daemon is running on the embedded store in %s: "+
			"set nats.listen (e.g. 127.0.0.1:4222, with nats.token) so that commands reach it, or stop the daemon first", cfg.DataDir)
	case err != nil:
		return nil, nil, err
	}
	b, err := natsbus.Open(ctx, natsbus.Options{DataDir: cfg.DataDir + "/nats", Name: "ringside-cli",
		Stream: cfg.NATS.Stream, Subjects: []string{events.CallSubjects}, Replicas: 1,
		MaxAge: cfg.NATS.MaxAge, DuplicateWindow: cfg.NATS.DuplicateWindow,
		Logger: log.Named("nats"), Registerer: prometheus.NewRegistry()})
	if err != nil {
		lock.Unlock()
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	st, _, err := openStore(ctx, cfg, b)
	if err != nil {
		_ = b.Close()
		lock.Unlock()
		return nil, nil, err
	}
	return st, func() { _ = b.Close(); lock.Unlock() }, nil
}
