package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

const auditUsage = `Usage: ringside audit [-config FILE] [-tenant ID] [-offset N] [-limit N] [-json]

The audit log, newest first: every change made through the CLI, the JSON API
or the portal, and every refused attempt, with who did it and through which
surface ("cli:<os user>" for this command line). Without -tenant it shows
every tenant's entries and the operator-level ones (tenants added, accounts).
-json prints what the JSON API answers (GET /api/v1/audit).
`

// cmdAudit prints `ringside audit`.
func cmdAudit(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, auditUsage)
		return nil
	}
	fs := newFlagSet("audit", "audit [-config FILE] [-tenant ID] [-offset N] [-limit N] [-json]", stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenant := fs.String("tenant", "", "only this tenant's entries (default: every entry)")
	offset := fs.Int("offset", 0, "skip this many entries")
	limit := fs.Int("limit", store.DefaultLimit, fmt.Sprintf("show at most this many entries (up to %d)", store.MaxLimit))
	asJSON := fs.Bool("json", false, "print what the JSON API answers (GET /api/v1/audit) instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *tenant != "" && !events.ValidToken(*tenant):
		return usageError(fs, fmt.Sprintf("invalid tenant %q", *tenant))
	case *offset < 0 || *limit < 1:
		return usageError(fs, fmt.Sprintf("-offset must be at least 0 and -limit at least 1, got %d and %d", *offset, *limit))
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	p := store.Page{Offset: *offset, Limit: *limit}
	entries, total, err := ac.dir.Audit(ctx, ac.actor, *tenant, p)
	if err != nil {
		return ac.explain(err, *tenant)
	}
	if *asJSON {
		return adminapi.WriteBody(stdout, adminapi.AuditView(entries, total, p))
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "showing 0 of %d\n", total)
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tACTOR\tVIA\tTENANT\tACTION\tTARGET\tDETAIL\tRESULT")
	for _, e := range entries {
		result := "ok"
		if e.Error != "" {
			result = "refused: " + e.Error
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Actor, e.Via, dash(e.Tenant),
			e.Action, dash(e.Target), dash(e.Detail), result)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "showing %d–%d of %d\n", *offset+1, *offset+len(entries), total)
	return nil
}
