package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

const accountsUsage = `Usage: ringside accounts <command> [flags]

Commands:
  add     add an admin login: -username U -role operator|admin [-tenant T]
  list    list the admin logins (-json: what the JSON API answers)
  delete  remove a login; its sessions and API tokens stop working
  passwd  set a login's password; its sessions and API tokens stop working

Every command takes -config FILE. add and passwd read the password from
-password-file FILE (its first line) or else one line of stdin; on a terminal
they ask for it twice without echo. A password is never a flag value: the
command line of a process is visible to every user of the host.
An operator administers every tenant; an admin (-role admin) one company,
-tenant (default pbx.default_tenant).
API tokens for a login: ringside tokens create -username U.
`

const tokensUsage = `Usage: ringside tokens create [flags]

Commands:
  create  issue an API token for a login: -username U [-ttl D]

The token is printed once, alone on stdout; Ringside keeps only its hash, so
it cannot be shown again. It acts as the login it belongs to, until it
expires (-ttl, default admin.token_ttl), the login's password changes or the
login is deleted. Send it as "Authorization: Bearer <token>".
Takes -config FILE; the store is opened like 'ringside zoho' opens it.
`

// cmdAccounts dispatches `ringside accounts <command>`.
func cmdAccounts(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("accounts", accountsUsage, []string{"add", "list", "delete", "passwd"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	synopsis := map[string]string{
		"add":    "accounts add [-config FILE] -username U -role operator|admin [-tenant T] [-password-file F]",
		"list":   "accounts list [-config FILE] [-json]",
		"delete": "accounts delete [-config FILE] -username U",
		"passwd": "accounts passwd [-config FILE] -username U [-password-file F]",
	}[sub]
	fs := newFlagSet("accounts "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	var username, role, tenant, pwFile *string
	var asJSON *bool
	if sub != "list" {
		username = fs.String("username", "", "login name")
	} else {
		asJSON = fs.Bool("json", false, "print what the JSON API answers (GET /api/v1/accounts) instead of a table")
	}
	if sub == "add" {
		role = fs.String("role", "", "operator (every tenant) or admin (one company)")
		tenant = fs.String("tenant", "", "the company of an admin (default: pbx.default_tenant)")
	}
	if sub == "add" || sub == "passwd" {
		pwFile = fs.String("password-file", "", "read the password from the first line of this file (default: stdin)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if username != nil && *username == "" {
		return usageError(fs, "-username is required")
	}
	if sub == "add" {
		switch store.Role(*role) {
		case store.RoleOperator:
			if *tenant != "" {
				return usageError(fs, "-tenant is for admins: an operator administers every tenant")
			}
		case store.RoleAdmin:
		default:
			return usageError(fs, fmt.Sprintf("-role must be operator or admin, got %q", *role))
		}
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if sub == "add" && store.Role(*role) == store.RoleAdmin {
		if err := resolveTenant(fs, tenant, cfg); err != nil {
			return err
		}
	}
	var password string
	if pwFile != nil {
		if password, err = readPassword(ctx, *pwFile, stdin, stderr); err != nil {
			return err
		}
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	switch sub {
	case "add":
		acc, err := ac.dir.CreateAccount(ctx, ac.actor, directory.NewAccount{Username: *username, Password: password,
			Role: store.Role(*role), Tenant: *tenant})
		switch {
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("account %s exists already (set its password with `ringside accounts passwd -username %s`)", *username, *username)
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("tenant %s does not exist (see `ringside tenants list`)", *tenant)
		case err != nil:
			return ac.explain(err, *tenant)
		}
		if acc.Role == store.RoleAdmin {
			fmt.Fprintf(stdout, "Account %s added: admin of tenant %s.\n", acc.Username, acc.Tenant)
		} else {
			fmt.Fprintf(stdout, "Account %s added: operator (every tenant).\n", acc.Username)
		}
		return nil
	case "list":
		accs, err := ac.dir.Accounts(ctx, ac.actor)
		if err != nil {
			return ac.explain(err, "")
		}
		if *asJSON {
			return adminapi.WriteBody(stdout, adminapi.AccountsView(accs))
		}
		if len(accs) == 0 {
			fmt.Fprintln(stdout, "No accounts yet: add one with `ringside accounts add -username U -role operator|admin`.")
			return nil
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "USERNAME\tROLE\tTENANT\tCREATED")
		for _, a := range accs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Username, a.Role, dash(a.Tenant), a.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "delete":
		if err := ac.dir.DeleteAccount(ctx, ac.actor, *username); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s (see `ringside accounts list`)", *username)
		} else if err != nil {
			return ac.explain(err, "")
		}
		fmt.Fprintf(stdout, "Account %s deleted; its sessions and API tokens no longer work.\n", *username)
		return nil
	default:
		if err := ac.dir.SetPassword(ctx, ac.actor, *username, password); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s (see `ringside accounts list`)", *username)
		} else if err != nil {
			return ac.explain(err, "")
		}
		fmt.Fprintf(stdout, "Password of %s changed; its sessions and API tokens were ended.\n", *username)
		return nil
	}
}

// cmdTokens dispatches `ringside tokens <command>`.
func cmdTokens(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("tokens", tokensUsage, []string{"create"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	fs := newFlagSet("tokens create", "tokens create [-config FILE] -username U [-ttl D]", stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	username := fs.String("username", "", "the login the token acts as")
	ttl := fs.Duration("ttl", 0, "lifetime, e.g. 720h (default: admin.token_ttl)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case *username == "":
		return usageError(fs, "-username is required")
	case *ttl < 0:
		return usageError(fs, fmt.Sprintf("-ttl must be positive, got %s", *ttl))
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if *ttl == 0 {
		*ttl = cfg.Admin.TokenTTL
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	tok, err := ac.dir.CreateToken(ctx, ac.actor, *username, *ttl)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no account %s (add it with `ringside accounts add -username %s -role operator|admin`)", *username, *username)
	} else if err != nil {
		return ac.explain(err, "")
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "API token for %s, valid for %s (until %s). It is shown only this once and cannot be shown again:\n"+
		"Ringside keeps only its hash. Send it as \"Authorization: Bearer <token>\".\n",
		*username, days(*ttl), time.Now().Add(*ttl).UTC().Format(time.RFC3339))
	return nil
}

// days writes a lifetime of whole days as days (90d), else as Go does.
func days(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// readPassword reads the password of `accounts add|passwd`: the first line
// of file, or one line of stdin; on a terminal it asks twice without echo.
// Only the line ending is removed: spaces are part of the password.
func readPassword(ctx context.Context, file string, stdin io.Reader, stderr io.Writer) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(pw, "\r"), nil
	}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		return promptPassword(ctx, f, stderr)
	}
	pw, err := readLine(bufio.NewReader(stdin))
	if errors.Is(err, io.EOF) {
		return "", errors.New("no password on stdin: give it as one line on stdin, or -password-file FILE")
	}
	return pw, err
}

// readLine reads one line without its line ending; io.EOF only when there
// is none.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// promptPassword asks for the password twice on the terminal f, with echo
// off (stty) while it is typed.
func promptPassword(ctx context.Context, f *os.File, stderr io.Writer) (string, error) {
	stty := func(arg string) error {
		c := exec.Command("stty", arg)
		c.Stdin = f
		return c.Run()
	}
	if err := stty("-echo"); err != nil {
		return "", errors.New("cannot turn off echo on this terminal: pipe the password in, or use -password-file FILE")
	}
	defer func() { _ = stty("echo") }()
	type answer struct {
		pw, again string
		err       error
	}
	// Size one: the reader never blocks on sending, and ends with the
	// process when the prompt is interrupted.
	done := make(chan answer, 1)
	go func() {
		r := bufio.NewReader(f)
		var a answer
		fmt.Fprint(stderr, "Password: ")
		if a.pw, a.err = readLine(r); a.err == nil {
			fmt.Fprint(stderr, "\nRepeat it: ")
			a.again, a.err = readLine(r)
		}
		fmt.Fprintln(stderr)
		done <- a
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case a := <-done:
		switch {
		case a.err != nil:
			return "", fmt.Errorf("read the password: %w", a.err)
		case a.pw != a.again:
			return "", errors.New("the passwords differ; nothing changed")
		}
		return a.pw, nil
	}
}

// The admin commands (accounts, tokens, tenants, users, audit, terminals)
// share what follows: they parse their flags, open the store like `ringside
// zoho` does and call the directory service, the same one the JSON API and
// the portal use, as an operator named after the OS user. They add no rules
// of their own; they only turn its errors into sentences.

// adminCmd is an admin command's directory service on the store it opened.
type adminCmd struct {
	cfg   config.Config
	dir   *directory.Service
	actor directory.Actor
	close func()
}

// openAdmin opens the store and builds the directory service on it, with
// the Zoho client when zoho is configured (linking and unlinking register
// users at Zoho). There is no PBX connection: discovery is the daemon's.
func openAdmin(ctx context.Context, cfg config.Config, stderr io.Writer) (*adminCmd, error) {
	log, err := newLogger("warn", "console", stderr)
	if err != nil {
		return nil, err
	}
	st, closeStore, err := openCLIStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	var zc *zoho.Client
	if zohoEnabled(cfg) {
		if zc, err = newZohoClient(cfg, st, log, prometheus.NewRegistry()); err != nil {
			closeStore()
			return nil, err
		}
	}
	dir, err := newDirectory(cfg, st, zc, nil, log)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &adminCmd{cfg: cfg, dir: dir, actor: cliActor(), close: closeStore}, nil
}

// cliActor is who runs the command: an operator named after the OS user
// ("cli:alice" in the audit log).
func cliActor() directory.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return directory.Operator(name)
}

// explain turns an error of the directory service into one line for
// people: without the sentinel the code matches on, with what to do next
// where the CLI knows it.
func (ac *adminCmd) explain(err error, tenant string) error {
	switch {
	case errors.Is(err, directory.ErrNotConnected) && !zohoEnabled(ac.cfg):
		return errors.New("zoho is not configured: set zoho.client_id, zoho.client_secret and zoho.token_key_file")
	case errors.Is(err, directory.ErrNotConnected):
		return fmt.Errorf("%s (connect it with `ringside zoho connect -tenant %s`)", reason(err), tenant)
	}
	return errors.New(reason(err))
}

// reason is the message of a directory or store error without the store's
// name and the sentinel the code matches on ("natskv: …: invalid").
func reason(err error) string {
	msg := err.Error()
	for _, p := range []string{"natskv: ", "redisstore: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, directory.ErrForbidden, directory.ErrUnauthorized} {
		if errors.Is(err, s) {
			msg = strings.TrimSuffix(msg, ": "+s.Error())
		}
	}
	return msg
}

// subcommand picks the command of `ringside <name> <command> [flags]`. An
// empty sub means the caller returns err at once (usage shown, or help).
func subcommand(name, usage string, subs, args []string, stdout, stderr io.Writer) (sub string, rest []string, err error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return "", nil, errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return "", nil, nil
	}
	for _, s := range subs {
		if args[0] == s {
			return s, args[1:], nil
		}
	}
	fmt.Fprintf(stderr, "ringside %s: unknown command %q\n\n%s", name, args[0], usage)
	return "", nil, errUsage
}

// usageError reports a command-line mistake with the command's usage.
func usageError(fs *flag.FlagSet, msg string) error {
	fmt.Fprintf(fs.Output(), "ringside %s: %s\n", fs.Name(), msg)
	fs.Usage()
	return errUsage
}

// resolveTenant defaults -tenant to pbx.default_tenant and checks it.
func resolveTenant(fs *flag.FlagSet, tenant *string, cfg config.Config) error {
	if *tenant == "" {
		*tenant = cfg.PBX.DefaultTenant
	}
	if !events.ValidToken(*tenant) {
		return usageError(fs, fmt.Sprintf("invalid tenant %q", *tenant))
	}
	return nil
}
