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

// msgLog is a capped log kept as a stream: one message per entry (its
// JSON) on a subject per view, the server keeping the newest
// MaxMsgsPerSubject of each subject by itself. The audit log and the
// webhook delivery log are msgLogs. So the stream's sequence is the append
// order, and a page, newest first, starts at the n-th newest message of its
// subject (or of the stream), n = offset + how many the page holds. A
// view's messages are scattered over the stream's sequences, so nthNewest
// searches the sequences for it, asking the server how many matching
// messages there are from a sequence on (a batched direct get of one
// message reports it: the server counts them). Then one direct get reads
// the page, oldest first. The search interpolates first: when the entries
// are spread evenly its first probe mostly hits, and a page costs a stream
// info and two direct gets however deep it is; after a few misses (bursts)
// it halves the range, at most about log2(the stream's sequence span)
// probes more.
type msgLog struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	// name is the stream's, prefix its subjects' ("<P>.audit."), directGet
	// the subject of its direct gets.
	name, prefix, directGet string
}

// openLog creates or updates the log's stream from cfg (name, description,
// subjects and MaxMsgsPerSubject; the rest is set here: file storage, one
// replica, limits retention, direct gets). Creating it is idempotent: the
// daemon and the CLI commands both open the store.
func openLog(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, prefix string) (*msgLog, error) {
	cfg.Retention = jetstream.LimitsPolicy
	cfg.MaxMsgs, cfg.MaxBytes = -1, -1
	cfg.Discard = jetstream.DiscardOld
	cfg.Storage = jetstream.FileStorage
	cfg.Replicas = 1
	cfg.AllowDirect = true
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natskv: stream %s: %w", cfg.Name, err)
	}
	return &msgLog{js: js, stream: st, name: cfg.Name, prefix: prefix,
		directGet: apiPrefix(js) + "DIRECT.GET." + cfg.Name}, nil
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

// append stores one entry on subject.
func (l *msgLog) append(ctx context.Context, subject string, data []byte) error {
	_, err := l.js.Publish(ctx, subject, data, jetstream.WithExpectStream(l.name))
	return err
}

// purge drops every entry on subject (wildcards allowed).
func (l *msgLog) purge(ctx context.Context, subject string) error {
	return l.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
}

// listLog reads one page of the view filter ("": the whole stream) of l,
// newest first, decoded into T, and how many entries the view keeps (at
// most keep).
func listLog[T any](ctx context.Context, l *msgLog, filter string, keep int, p store.Page) ([]T, int, error) {
	p, err := p.Norm()
	if err != nil {
		return nil, 0, err
	}
	var opts []jetstream.StreamInfoOpt
	if filter != "" {
		opts = append(opts, jetstream.WithSubjectFilter(filter))
	}
	info, err := l.stream.Info(ctx, opts...)
	if err != nil {
		return nil, 0, err
	}
	st := info.State
	count := st.Msgs // how many messages of the view the stream holds
	if filter != "" {
		count = st.Subjects[filter]
	}
	total := int(min(count, uint64(keep)))
	start, end := p.Bounds(total)
	if start == end {
		return []T{}, total, nil
	}
	first, err := l.nthNewest(ctx, filter, uint64(end), count, st.FirstSeq, st.LastSeq)
	if err != nil {
		return nil, 0, err
	}
	msgs, err := l.batch(ctx, first, filter, end-start)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Data, &out[len(msgs)-1-i]); err != nil {
			return nil, 0, fmt.Errorf("decode message %s: %w", m.Header.Get(jetstream.SequenceHeader), err)
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
func (l *msgLog) nthNewest(ctx context.Context, filter string, n, count, lo, hi uint64) (uint64, error) {
	cLo, cHi := count, uint64(0) // how many match from lo on, from hi+1 on
	for i := 0; lo <= hi; i++ {
		mid := lo + (hi-lo)/2
		if i < interpolations && cLo > cHi && n > cHi {
			back := uint64(math.Ceil(float64(n-cHi) / float64(cLo-cHi) * float64(hi+1-lo)))
			mid = max(lo, hi+1-min(back, hi+1))
		}
		msgs, err := l.batch(ctx, mid, filter, 1)
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

// batch reads up to n messages matching filter ("": any) from sequence seq
// on, oldest first, with one batched direct get (nats.go has no call for
// it). Each reply carries its sequence and how many matching messages
// follow it (position). None is not an error.
func (l *msgLog) batch(ctx context.Context, seq uint64, filter string, n int) ([]*nats.Msg, error) {
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
	nc := l.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("direct get: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(l.directGet, inbox, req); err != nil {
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
