package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ringside/ringside/pkg/directory"
)

const blacklistUsage = `Usage: ringside blacklist <command> [flags]

Commands:
  list    list a tenant's blacklisted numbers and prefixes, and how their calls are rejected
  add     blacklist a number (+4930123456) or a prefix (+4990*)
  remove  take a number or prefix off the blacklist
  reason  set how blacklisted calls are rejected: busy (default), congestion or hangup

  ringside blacklist list [-tenant ID]
  ringside blacklist add|remove [-tenant ID] -number N
  ringside blacklist reason [-tenant ID] -reason busy|congestion|hangup

Every command takes -config FILE; -tenant defaults to pbx.default_tenant.
Numbers are international (E.164): +49 30 123456 and 0049 30 123456 are read
as +4930123456; a prefix ends in *. A blacklisted inbound call is rejected
before anything rings, and nothing is written in the CRM for it. The daemon
applies a change within screen.settings_ttl.
The store is opened like 'ringside zoho' opens it: with the embedded store and
the daemon running, through nats.listen.
`

// cmdBlacklist dispatches `ringside blacklist <command>`.
func cmdBlacklist(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("blacklist", blacklistUsage, []string{"list", "add", "remove", "reason"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	synopsis := map[string]string{
		"list":   "blacklist list [-config FILE] [-tenant ID]",
		"add":    "blacklist add [-config FILE] [-tenant ID] -number N",
		"remove": "blacklist remove [-config FILE] [-tenant ID] -number N",
		"reason": "blacklist reason [-config FILE] [-tenant ID] -reason busy|congestion|hangup",
	}[sub]
	fs := newFlagSet("blacklist "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenant := fs.String("tenant", "", "tenant id (default: pbx.default_tenant)")
	var number, reason *string
	switch sub {
	case "add", "remove":
		number = fs.String("number", "", "an E.164 number (+4930123456) or prefix (+4990*)")
	case "reason":
		reason = fs.String("reason", "", "busy, congestion or hangup")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case number != nil && *number == "":
		return usageError(fs, "-number is required")
	case reason != nil && *reason == "":
		return usageError(fs, "-reason is required")
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if err := resolveTenant(fs, tenant, cfg); err != nil {
		return err
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	var b directory.Blacklist
	switch sub {
	case "list":
		b, err = ac.dir.ListBlocked(ctx, ac.actor, *tenant)
	case "add":
		b, err = ac.dir.AddBlocked(ctx, ac.actor, *tenant, *number)
	case "remove":
		b, err = ac.dir.RemoveBlocked(ctx, ac.actor, *tenant, *number)
	default:
		b, err = ac.dir.SetBlockedReason(ctx, ac.actor, *tenant, *reason)
	}
	if err != nil {
		return ac.explain(err, *tenant)
	}
	switch sub {
	case "add":
		fmt.Fprintf(stdout, "%s blacklisted in tenant %s: its calls are rejected (%s) before they ring.\n", directory.BlacklistEntry(*number), *tenant, b.Reason)
		return nil
	case "remove":
		fmt.Fprintf(stdout, "%s is off the blacklist of tenant %s.\n", directory.BlacklistEntry(*number), *tenant)
		return nil
	case "reason":
		fmt.Fprintf(stdout, "Blacklisted calls of tenant %s are rejected: %s.\n", *tenant, b.Reason)
		return nil
	}
	if len(b.Entries) == 0 {
		fmt.Fprintf(stdout, "The blacklist of tenant %s is empty: no call is rejected.\n", *tenant)
		return nil
	}
	fmt.Fprintf(stdout, "Blacklist of tenant %s (%d, rejected: %s):\n  %s\n", *tenant, len(b.Entries), b.Reason, strings.Join(b.Entries, "\n  "))
	return nil
}
