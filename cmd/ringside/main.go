// Command ringside runs next to an Asterisk or FreeSWITCH PBX and connects it
// to Zoho CRM. This package is the only place that knows every concrete type:
// it parses the command line, loads the configuration, wires the adapters to
// the pkg services, runs them and exits once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: ringside <command> [flags]

Commands:
  serve     run the daemon with a configuration file
  check     validate a configuration file and print every problem
  version   print version, commit and Go version
  demo      run the whole pipeline on the embedded default with simulated calls
  zoho      connect a tenant to Zoho, show or drop the connection, list its users
  terminals list, show or reset the default terminals click-to-call rings first
  tenants   list, add, show, change or delete tenants (companies)
  users     the users table: list extensions, link them to Zoho users, switch features
  accounts  add, list, delete admin logins or set their passwords
  tokens    create an API token for an admin login
  audit     show the audit log: who changed what, through which surface
  webhooks  signed webhooks for other CRMs: add, list, remove, enable subscriptions, read their delivery log
  blacklist callers rejected before their call rings: list, add, remove numbers and prefixes, set the reason

Run 'ringside <command> -h' for the flags of a command.
`

// errUsage marks a command-line mistake: usage goes to stderr, exit code 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure, 2 bad command line.
func run(args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signalContext(stderr)
	defer stop()

	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, env, stderr)
	case "check":
		err = cmdCheck(rest, env, stdout, stderr)
	case "version":
		err = cmdVersion(rest, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, rest, env, stdout, stderr)
	case "zoho":
		err = cmdZoho(ctx, rest, env, os.Stdin, stdout, stderr)
	case "terminals":
		err = cmdTerminals(ctx, rest, env, stdout, stderr)
	case "tenants":
		err = cmdTenants(ctx, rest, env, stdout, stderr)
	case "users":
		err = cmdUsers(ctx, rest, env, stdout, stderr)
	case "accounts":
		err = cmdAccounts(ctx, rest, env, os.Stdin, stdout, stderr)
	case "tokens":
		err = cmdTokens(ctx, rest, env, stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, rest, env, stdout, stderr)
	case "webhooks":
		err = cmdWebhooks(ctx, rest, env, stdout, stderr)
	case "blacklist":
		err = cmdBlacklist(ctx, rest, env, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ringside: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "ringside: %v\n", err)
		return 1
	}
}

// newFlagSet returns a flag set that reports its own errors and usage on
// stderr and lets run map them to exit code 2.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ringside %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and refuses stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "ringside %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// signalContext is cancelled by the first SIGINT or SIGTERM, which starts a
// graceful drain. A second signal ends the process at once.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2) // the two signals we act on; more are dropped by signal.Notify
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "ringside: second %v, exiting without draining\n", s)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
