package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
	"github.com/ringside/ringside/pkg/webhooks"
)

const webhooksUsage = `Usage: ringside webhooks <command> [flags]

Commands:
  add     subscribe a URL to a tenant's call events; prints the signing secret, once
  list    list the subscriptions and their state (never their secrets)
  remove  delete a subscription and its delivery log
  enable  verify a subscription's receiver now: a disabled one is turned on again
  log     show a subscription's delivery attempts, newest first

  ringside webhooks add [-tenant ID] -url URL [-events ended,ringing,...]
  ringside webhooks list [-tenant ID]
  ringside webhooks remove|enable -id ID [-tenant ID]
  ringside webhooks log -id ID [-tenant ID] [-offset N] [-limit N]

Every command takes -config FILE; add's tenant defaults to pbx.default_tenant,
list shows every tenant's without -tenant, and -id finds its tenant unless
several have the id. Event types: started, ringing, ring_stopped, answered,
transferred, ended, recording, terminal_set (default: all). URLs are https;
http:// needs webhooks.allow_insecure and a loopback or private address.

A new subscription gets nothing until its receiver passes the verification
handshake: a signed POST {"type":"ringside.verify","challenge":"..."} answered
2xx with the challenge echoed ({"challenge":"..."} or the plain token). The
daemon sends it within seconds and retries it with webhooks.backoff; once the
receiver has the secret, enable verifies at once. After webhooks.max_failures
failed rounds a subscription is disabled; enable turns it on again.
The store is opened like 'ringside zoho' opens it: with the embedded store and
the daemon running, through nats.listen.
`

// cmdWebhooks dispatches `ringside webhooks <command>`.
func cmdWebhooks(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("webhooks", webhooksUsage, []string{"add", "list", "remove", "enable", "log"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	synopsis := map[string]string{
		"add":    "webhooks add [-config FILE] [-tenant ID] -url URL [-events TYPE,...]",
		"list":   "webhooks list [-config FILE] [-tenant ID]",
		"remove": "webhooks remove [-config FILE] -id ID [-tenant ID]",
		"enable": "webhooks enable [-config FILE] -id ID [-tenant ID]",
		"log":    "webhooks log [-config FILE] -id ID [-tenant ID] [-offset N] [-limit N]",
	}[sub]
	fs := newFlagSet("webhooks "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenantHelp := "tenant id (default: the one that has the subscription)"
	switch sub {
	case "add":
		tenantHelp = "tenant id (default: pbx.default_tenant)"
	case "list":
		tenantHelp = "only this tenant's subscriptions (default: every tenant's)"
	}
	tenant := fs.String("tenant", "", tenantHelp)
	var url, eventList, id *string
	var offset, limit *int
	switch sub {
	case "add":
		url = fs.String("url", "", "the receiver's URL (https)")
		eventList = fs.String("events", "", "comma-separated call event types to deliver (default: all)")
	case "remove", "enable", "log":
		id = fs.String("id", "", "subscription id (wh_...)")
	}
	if sub == "log" {
		offset = fs.Int("offset", 0, "skip this many attempts")
		limit = fs.Int("limit", store.DefaultLimit, fmt.Sprintf("show at most this many attempts (up to %d)", store.MaxLimit))
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case url != nil && *url == "":
		return usageError(fs, "-url is required")
	case id != nil && *id == "":
		return usageError(fs, "-id is required")
	case offset != nil && (*offset < 0 || *limit < 1):
		return usageError(fs, fmt.Sprintf("-offset must be at least 0 and -limit at least 1, got %d and %d", *offset, *limit))
	}
	var types []string
	if eventList != nil {
		if types, err = webhooks.EventTypes(*eventList); err != nil {
			return usageError(fs, reason(err))
		}
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if sub == "add" {
		if err := resolveTenant(fs, tenant, cfg); err != nil {
			return err
		}
	} else if *tenant != "" {
		t := *tenant
		if err := resolveTenant(fs, &t, cfg); err != nil {
			return err
		}
	}
	wc, err := openWebhooksCmd(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer wc.close()
	switch sub {
	case "add":
		return wc.add(ctx, *tenant, directory.NewWebhook{URL: *url, Events: types}, stdout)
	case "list":
		return wc.list(ctx, *tenant, stdout)
	case "remove":
		if err := wc.dir.RemoveWebhook(ctx, wc.actor, *tenant, *id); err != nil {
			return wc.explain(err, *tenant)
		}
		fmt.Fprintf(stdout, "Webhook %s removed, with its delivery log.\n", *id)
		return nil
	case "enable":
		return wc.enable(ctx, *tenant, *id, stdout)
	default:
		return wc.deliveries(ctx, *tenant, *id, store.Page{Offset: *offset, Limit: *limit}, stdout)
	}
}

// webhooksCmd is an admin command with the store it opened, which the
// dispatcher that runs enable's handshake needs too.
type webhooksCmd struct {
	*adminCmd
	st stateStore
}

// openWebhooksCmd opens the store and the directory service like
// openAdmin, without Zoho: webhooks need none.
func openWebhooksCmd(ctx context.Context, cfg config.Config, stderr io.Writer) (*webhooksCmd, error) {
	log, err := newLogger("warn", "console", stderr)
	if err != nil {
		return nil, err
	}
	st, closeStore, err := openCLIStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	dir, err := newDirectory(cfg, st, nil, nil, log)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &webhooksCmd{adminCmd: &adminCmd{cfg: cfg, dir: dir, actor: cliActor(), close: closeStore}, st: st}, nil
}

func (wc *webhooksCmd) add(ctx context.Context, tenant string, n directory.NewWebhook, stdout io.Writer) error {
	w, err := wc.dir.AddWebhook(ctx, wc.actor, tenant, n)
	if err != nil {
		return wc.explain(err, tenant)
	}
	t := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(t, "id\t%s\ntenant\t%s\nurl\t%s\nevents\t%s\nstate\t%s\nsecret\t%s\n", w.ID, w.Tenant, w.URL, eventsOf(w), w.State, w.Secret)
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nThe secret is shown only now: give it to the receiver, which checks every delivery's\n"+
		"Ringside-Signature with it. Nothing is delivered until the receiver answers the verification\n"+
		"handshake, which the daemon sends within seconds and retries; once the receiver has the secret,\n"+
		"verify at once with: ringside webhooks enable -id %s\n", w.ID)
	return nil
}

func (wc *webhooksCmd) list(ctx context.Context, tenant string, stdout io.Writer) error {
	ws, err := wc.dir.ListWebhooks(ctx, wc.actor, tenant)
	if err != nil {
		return wc.explain(err, tenant)
	}
	if len(ws) == 0 {
		fmt.Fprintln(stdout, "No webhook subscriptions.")
		return nil
	}
	t := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(t, "TENANT\tID\tSTATE\tFAILURES\tEVENTS\tURL\tREASON")
	for _, w := range ws {
		fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", w.Tenant, w.ID, w.State, w.Failures, eventsOf(w), w.URL, dash(w.Reason))
	}
	return t.Flush()
}

// enable enables the subscription, then runs its handshake here and now.
func (wc *webhooksCmd) enable(ctx context.Context, tenant, id string, stdout io.Writer) error {
	w, err := wc.dir.EnableWebhook(ctx, wc.actor, tenant, id)
	if err != nil {
		return wc.explain(err, tenant)
	}
	if w.State == store.WebhookActive {
		fmt.Fprintf(stdout, "Webhook %s (tenant %s) is active.\n", w.ID, w.Tenant)
		return nil
	}
	d, c, err := newDispatcher(wc.cfg, wc.st, zap.NewNop(), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer c.Close()
	// The daemon's sweep may be running this handshake: wait for its outcome.
	deadline := time.Now().Add(wc.cfg.Webhooks.Timeout + 3*time.Second)
	for {
		w, err = d.Verify(ctx, w.Tenant, w.ID)
		if !errors.Is(err, webhooks.ErrInProgress) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	switch {
	case w.State == store.WebhookActive:
		fmt.Fprintf(stdout, "Webhook %s (tenant %s) verified: active.\n", w.ID, w.Tenant)
		return nil
	case err != nil && w.State == store.WebhookPending:
		return fmt.Errorf("webhook %s (tenant %s) is pending: %s; the daemon retries the handshake (see ringside webhooks log -id %s)",
			w.ID, w.Tenant, cmp.Or(w.Reason, reason(err)), w.ID)
	case err != nil:
		return fmt.Errorf("webhook %s (tenant %s) is %s: %v", w.ID, w.Tenant, w.State, err)
	}
	fmt.Fprintf(stdout, "Webhook %s (tenant %s) is %s.\n", w.ID, w.Tenant, w.State)
	return nil
}

func (wc *webhooksCmd) deliveries(ctx context.Context, tenant, id string, p store.Page, stdout io.Writer) error {
	ds, total, err := wc.dir.Deliveries(ctx, wc.actor, tenant, id, p)
	if err != nil {
		return wc.explain(err, tenant)
	}
	if len(ds) == 0 {
		fmt.Fprintf(stdout, "showing 0 of %d\n", total)
		return nil
	}
	t := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(t, "TIME\tATTEMPT\tEVENT\tTYPE\tRESULT\tSTATUS\tDURATION\tERROR")
	for _, d := range ds {
		status := "-"
		if d.Status != 0 {
			status = fmt.Sprint(d.Status)
		}
		fmt.Fprintf(t, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Time.UTC().Format(time.RFC3339), d.Attempt, d.EventID, d.EventType,
			d.Result, status, d.Duration.Round(time.Millisecond), dash(d.Error))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "showing %d–%d of %d\n", p.Offset+1, p.Offset+len(ds), total)
	return nil
}

// eventsOf is a subscription's event types for people.
func eventsOf(w store.Webhook) string {
	if len(w.Events) == 0 {
		return "all"
	}
	return strings.Join(w.Events, ",")
}
