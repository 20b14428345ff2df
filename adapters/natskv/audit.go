package natskv

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// The audit log is a stream, not a bucket: one message per entry, on the
// subject <P>.audit.<t> of its tenant, escaped like the keys, and on
// <P>.audit.= (the escape of "") for operator-level entries ("_" would be
// a tenant's: it is a valid tenant id). So the stream's sequence is the
// append order, and the server keeps the newest store.AuditKeep of each
// subject by itself (MaxMsgsPerSubject). Nothing else removes a message:
// the stream holds up to AuditKeep per tenant, deleted tenants included.
//
// The all-tenants view is the newest AuditKeep messages of the whole
// stream. That is exactly the newest AuditKeep entries ever appended: a
// message the per-subject limit removed had AuditKeep newer ones on its own
// subject, so it was out of the view already.
//
// A page, newest first, is read without reading the log (msglog.go, which
// the webhook delivery log shares): a search over the stream's sequences
// finds the n-th newest message of the tenant's subject (or of the stream),
// n = offset + how many the page holds, and one direct get reads the page.
// When the entries are spread evenly (the all-tenants view until a tenant
// overflows, tenants active at similar rates) a page costs a stream info
// and two direct gets however deep it is; bursts cost at most about
// log2(the stream's sequence span) probes more.

// auditSubject is the subject of tenant's entries ("": operator-level).
func (s *Store) auditSubject(tenant string) string { return s.audit.prefix + escape(tenant) }

// openAudit creates or updates the audit stream, <prefix>_audit on
// <prefix>.audit.*. Like the buckets, creating it is idempotent: the
// daemon and the CLI commands both open the store.
func (s *Store) openAudit(ctx context.Context, prefix string) error {
	l, err := openLog(ctx, s.js, jetstream.StreamConfig{
		Name:              prefix + "_audit",
		Description:       "Ringside admin audit log",
		Subjects:          []string{prefix + ".audit.*"},
		MaxMsgsPerSubject: store.AuditKeep,
	}, prefix+".audit.")
	if err != nil {
		return err
	}
	s.audit = l
	return nil
}

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return store.AuditEntry{}, fmt.Errorf("natskv: append audit: %w", err)
	}
	e.Time = s.now()
	if err := s.audit.append(ctx, s.auditSubject(e.Tenant), mustJSON(e)); err != nil {
		return store.AuditEntry{}, fmt.Errorf("natskv: append audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

func (s *Store) ListAudit(ctx context.Context, tenant string, p store.Page) ([]store.AuditEntry, int, error) {
	what := "audit"
	filter := "" // the whole stream
	if tenant != "" {
		what, filter = "audit of "+tenant, s.auditSubject(tenant)
	}
	out, total, err := listLog[store.AuditEntry](ctx, s.audit, filter, store.AuditKeep, p)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	return out, total, nil
}
