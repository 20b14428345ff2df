package natskv

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
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
// A page, newest first, starts at the n-th newest message of its subject
// (or of the stream), n = offset + how many the page holds. A tenant's
// messages are scattered over the stream's sequences, so nthNewest
// searches the sequences for it, asking the server how many matching
// messages there are from a sequence on (a batched direct get of one
// message reports it: the server counts them). Then
// one direct get reads the page, oldest first. The search interpolates
// first: when the entries are spread evenly (the all-tenants view until a
// tenant overflows, tenants active at similar rates) its first probe
// mostly hits, and a page costs a stream info and two direct gets however
// deep it is; after a few misses (bursts) it halves the range, at most
// about log2(the stream's sequence span) probes more.

// auditSubject is the subject of tenant's entries ("": operator-level).
func (s *Store) auditSubject(tenant string) string { return s.auditPrefix + escape(tenant) }

// openAudit creates or updates the audit stream, <prefix>_audit on
// <prefix>.audit.*. Like the buckets, creating it is idempotent: the
// daemon and the CLI commands both open the store.
func (s *Store) openAudit(ctx context.Context, prefix string) error {
	cfg := jetstream.StreamConfig{
		Name:              prefix + "_audit",
		Description:       "Ringside admin audit log",
		Subjects:          []string{prefix + ".audit.*"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: store.AuditKeep,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          1,
		AllowDirect:       true,
	}
	st, err := s.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("natskv: stream %s: %w", cfg.Name, err)
	}
	s.audit, s.auditName, s.auditPrefix = st, cfg.Name, prefix+".audit."
	s.directGet = apiPrefix(s.js) + "DIRECT.GET." + cfg.Name
	return nil
}

// apiPrefix is the JetStream API prefix js sends its requests to.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return jetstream.DefaultAPIPrefix
}

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return store.AuditEntry{}, fmt.Errorf("natskv: append audit: %w", err)
	}
	e.Time = s.now()
	if _, err := s.js.Publish(ctx, s.auditSubject(e.Tenant), mustJSON(e), jetstream.WithExpectStream(s.auditName)); err != nil {
		return store.AuditEntry{}, fmt.Errorf("natskv: append audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

func (s *Store) ListAudit(ctx context.Context, tenant string, p store.Page) ([]store.AuditEntry, int, error) {
	what := "audit"
	if tenant != "" {
		what = "audit of " + tenant
	}
	p, err := p.Norm()
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	filter := "" // the whole stream
	var opts []jetstream.StreamInfoOpt
	if tenant != "" {
		filter = s.auditSubject(tenant)
		opts = append(opts, jetstream.WithSubjectFilter(filter))
	}
	info, err := s.audit.Info(ctx, opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	st := info.State
	count := st.Msgs // how many messages of the view the stream holds
	if tenant != "" {
		count = st.Subjects[filter]
	}
	total := int(min(count, store.AuditKeep))
	start, end := p.Bounds(total)
	if start == end {
		return []store.AuditEntry{}, total, nil
	}
	first, err := s.nthNewest(ctx, filter, uint64(end), count, st.FirstSeq, st.LastSeq)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	msgs, err := s.batch(ctx, first, filter, end-start)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	out := make([]store.AuditEntry, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Data, &out[len(msgs)-1-i]); err != nil {
			return nil, 0, fmt.Errorf("natskv: list %s: decode message %s: %w", what, m.Header.Get(jetstream.SequenceHeader), err)
		}
	}
	return out, total, nil
}

// interpolations bounds the probes nthNewest places by interpolation
// before it only halves the range.
const interpolations = 4

// nthNewest returns the sequence of the n-th newest message (n ≥ 1)
// matching filter ("": any), searching the stream's sequences [lo, hi],
// from lo on of which count match. It keeps lo ≤ answer ≤ hi, knowing how
// many match from lo on and from hi+1 on, and probes where the n-th newest
// would be were the matching messages spread evenly in between (a few
// times; then it halves the range). Should appends meanwhile move the
// answer out of the range, it returns the nearest sequence, and the page
// is shifted by what was appended.
func (s *Store) nthNewest(ctx context.Context, filter string, n, count, lo, hi uint64) (uint64, error) {
	cLo, cHi := count, uint64(0) // how many match from lo on, from hi+1 on
	for i := 0; lo <= hi; i++ {
		mid := lo + (hi-lo)/2
		if i < interpolations && cLo > cHi && n > cHi {
			back := uint64(math.Ceil(float64(n-cHi) / float64(cLo-cHi) * float64(hi+1-lo)))
			mid = max(lo, hi+1-min(back, hi+1))
		}
		msgs, err := s.batch(ctx, mid, filter, 1)
		if err != nil {
			return 0, err
		}
		var seq, after uint64
		if len(msgs) == 1 {
			if seq, after, err = position(msgs[0]); err != nil {
				return 0, err
			}
		}
		switch {
		case len(msgs) == 0 || after+1 < n: // fewer than n from mid on
			if mid == 0 {
				return lo, nil
			}
			hi, cHi = mid-1, 0
			if len(msgs) == 1 {
				cHi = after + 1
			}
		case after+1 == n:
			return seq, nil
		default: // more than n from seq on: the answer is after seq
			lo, cLo = seq+1, after
		}
	}
	return lo, nil
}

// numPendingHeader is the header of a batched direct get reply that says
// how many matching messages follow it.
const numPendingHeader = "Nats-Num-Pending"

// position reads a direct get reply's sequence and how many messages
// matching the request follow it.
func position(m *nats.Msg) (seq, after uint64, err error) {
	seq, err = strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("direct get: sequence header: %w", err)
	}
	after, err = strconv.ParseUint(m.Header.Get(numPendingHeader), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("direct get: num pending header: %w", err)
	}
	return seq, after, nil
}

// directGetTimeout bounds a direct get when ctx has no deadline, as the
// JetStream client bounds its own requests.
const directGetTimeout = 5 * time.Second

// batch reads up to n audit messages matching filter ("": any) from
// sequence seq on, oldest first, with one batched direct get (nats.go has
// no call for it). Each reply carries its sequence and how many matching
// messages follow it (position). None is not an error.
func (s *Store) batch(ctx context.Context, seq uint64, filter string, n int) ([]*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directGetTimeout)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj,omitempty"`
		Batch   int    `json:"batch"`
	}{max(seq, 1), filter, n})
	if err != nil {
		return nil, err
	}
	nc := s.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("direct get: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(s.directGet, inbox, req); err != nil {
		return nil, fmt.Errorf("direct get: %w", err)
	}
	var out []*nats.Msg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("direct get: %w", err)
		}
		switch status := m.Header.Get("Status"); status { // a reply without a status is a message
		case "":
			out = append(out, m)
		case "204": // end of batch
			return out, nil
		case "404": // nothing from seq on
			return out, nil
		default:
			return nil, fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description"))
		}
	}
}
