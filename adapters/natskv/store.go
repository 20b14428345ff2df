// Package natskv implements the store contract (pkg/store) on JetStream
// key-value buckets: the embedded store Ringside uses when redis.addr is
// empty, inside the embedded NATS server (or any NATS ≥ 2.11 with
// JetStream).
//
// # Buckets and keys
//
// Four buckets, file storage, one value per key (history 1). P is the
// prefix ("ringside"); t, n, zu, u, k are escaped (escape.go: [A-Za-z0-9_-]
// stay, any other byte is =XX), so no part contains a dot.
//
//	P_directory  tenant.<t>             tenant (JSON); Version is the KV revision
//	             ext.<t>.<n>            extension (JSON)
//	             link.<t>.<n>           link (JSON), by extension: the forward key
//	             linkzu.<t>.<zu>        {"extension","at"}, by Zoho user: the reverse key
//	             term.<t>.<n>           default terminal (JSON)
//	             webhook.<t>.<id>       webhook subscription (JSON); Version is the KV revision
//	P_admin      account.<u>            admin account (JSON); Version is the KV revision
//	             session.<id>           session (JSON), per-message TTL
//	             sessionof.<u>.<id>     empty: the account's sessions, same TTL
//	P_cache      lookup.<t>.<n>         8-byte expiry (Unix ms, big endian) + value
//	P_keys       claim.<k>, record.<k>  8-byte expiry + value
//
// # Audit log
//
// The audit log is the stream P_audit, one message (the entry's JSON) per
// entry on P.audit.<t> ("P.audit.=" for operator-level entries), at most
// store.AuditKeep per subject (MaxMsgsPerSubject). The all-tenants view is
// the newest AuditKeep messages of the stream. audit.go explains how a page
// is read newest first without reading the whole log. The audit outlives
// its tenant: DeleteTenant leaves the stream alone.
//
// # Webhook delivery log
//
// The delivery log is the stream P_deliveries, one message (the attempt's
// JSON) per attempt on P.delivery.<t>.<id>, at most store.DeliveryKeep per
// subscription, read like the audit log. Deleting a subscription or its
// tenant purges its subjects.
//
// # Expiry
//
// nats-server 2.11+ (here 2.15) supports per-message TTLs and nats.go
// v1.55 exposes them (KeyValueConfig.LimitMarkerTTL, jetstream.KeyTTL,
// jetstream.WithMsgTTL), so every TTL'd value carries its own TTL. The
// server counts TTLs in whole seconds (at least 1 s), so it is rounded up,
// and the exact expiry is also stored in the value: readers treat an
// expired value as absent, and the server removes it at most a second
// later.
//
// # Links: two keys, no transactions
//
// A link is two keys, the reverse key linkzu.<t>.<zu> and the forward key
// link.<t>.<n>, and JetStream has no multi-key transaction. Uniqueness
// comes from Create (fails if the key exists), changes from compare-and-set
// on the revision (Update, Delete with LastRevision). The protocol:
//
//  1. Link reserves the reverse key with Create, its value naming the
//     extension and the time. Of racers for one Zoho user one wins; the
//     others get ErrConflict at once.
//  2. It then creates the forward key with Create: of racers for one
//     extension one wins; the others delete their own reservation (with its
//     revision) and get ErrConflict.
//  3. It re-reads its reservation and the extension: if either changed
//     (the reservation was taken over as stale, the extension deleted) it
//     removes what it wrote and fails.
//
// Readers accept a link only when both directions agree: the forward key
// names the Zoho user whose reverse key names the extension back. So a
// crash or a failed race leaves at most a dangling key, never a half link
// visible as valid. A dangling key blocks nobody for long: a reverse key
// whose forward key does not point back is taken over once it is older
// than reservationLease (an in-flight Link is younger), a forward key
// whose reverse key does not point back is taken over at once (the reverse
// key is always written first). Unlink deletes the forward key first (the
// link is gone at that instant), then the reverse key.
//
// Deleting a tenant deletes its tenant key first, then sweeps its
// directory keys; creating a tenant sweeps leftovers of a sweep a crash
// interrupted. Writers that need a parent (extension → tenant, link and
// terminal → extension, session → account) check it again after writing
// and undo their write if it went away meanwhile.
package natskv

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

var _ store.Store = (*Store)(nil)

// Store is the embedded store. It does not own the JetStream connection.
type Store struct {
	js                      jetstream.JetStream
	dir, admin, cache, keys jetstream.KeyValue
	now                     func() time.Time

	// The audit log (audit.go) and the webhook delivery log (webhooks.go),
	// streams read by msglog.go.
	audit, deliveries *msgLog
}

// reservationLease is how long a reverse key without its forward key
// counts as a Link in progress; after that it is a leftover anyone may take
// over. A Link takes milliseconds.
const reservationLease = 10 * time.Second

// markerTTL is how long the TTL buckets keep the marker the server leaves
// when a value expires.
const markerTTL = time.Minute

var validPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// New opens (creating or updating) the store's buckets, named
// <prefix>_directory, _admin, _cache and _keys, its audit stream
// <prefix>_audit and its webhook delivery log <prefix>_deliveries; a trailing ":" of prefix is dropped, so the Redis prefix
// "ringside:" also works. One replica. Opening is idempotent: the daemon
// and CLI commands connecting to its server both call New.
func New(ctx context.Context, js jetstream.JetStream, prefix string) (*Store, error) {
	prefix = strings.TrimRight(prefix, ":")
	if prefix == "" {
		prefix = "ringside"
	}
	if !validPrefix.MatchString(prefix) {
		return nil, fmt.Errorf("natskv: prefix %q: want letters, digits, _ or -", prefix)
	}
	s := &Store{js: js, now: func() time.Time { return time.Now().UTC() }}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
		ttl  bool
		desc string
	}{
		{&s.dir, "directory", false, "Ringside tenants, extensions, links, terminals"},
		{&s.admin, "admin", true, "Ringside admin accounts and sessions"},
		{&s.cache, "cache", true, "Ringside caller-lookup cache"},
		{&s.keys, "keys", true, "Ringside idempotency claims and record ids"},
	} {
		cfg := jetstream.KeyValueConfig{
			Bucket: prefix + "_" + b.name, Description: b.desc, History: 1, Storage: jetstream.FileStorage,
		}
		if b.ttl {
			cfg.LimitMarkerTTL = markerTTL
		}
		kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("natskv: bucket %s: %w", cfg.Bucket, err)
		}
		*b.kv = kv
	}
	if err := s.openAudit(ctx, prefix); err != nil {
		return nil, err
	}
	if err := s.openWebhooks(ctx, prefix); err != nil {
		return nil, err
	}
	return s, nil
}

// readyTimeout bounds Ready: readiness checks must not block.
const readyTimeout = 2 * time.Second

// Ready reports whether the directory bucket answers.
func (s *Store) Ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if _, err := s.dir.Status(ctx); err != nil {
		return fmt.Errorf("jetstream kv: %w", err)
	}
	return nil
}

// Keys (escaped parts joined by dots).

func key(parts ...string) string {
	for i, p := range parts[1:] {
		parts[i+1] = escape(p)
	}
	return strings.Join(parts, ".")
}

// Generic helpers.

// get returns the entry of key, store.ErrNotFound when absent or deleted.
func get(ctx context.Context, kv jetstream.KeyValue, k string) (jetstream.KeyValueEntry, error) {
	e, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, store.ErrNotFound
	}
	return e, err
}

// getJSON decodes the value of key into v and returns its revision.
func getJSON(ctx context.Context, kv jetstream.KeyValue, k string, v any) (uint64, error) {
	e, err := get(ctx, kv, k)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", k, err)
	}
	return e.Revision(), nil
}

// values returns the current entries of the keys matching filters, by key.
func values(ctx context.Context, kv jetstream.KeyValue, filters ...string) (map[string]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := map[string]jetstream.KeyValueEntry{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher stopped")
			}
			if e == nil { // every current value delivered
				return out, nil
			}
			out[e.Key()] = e
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sortedJSON decodes the entries into T, ordered by the unescaped last
// part of their key (tenant id, extension number, username).
func sortedJSON[T any](entries map[string]jetstream.KeyValueEntry) ([]T, []uint64, error) {
	type item struct {
		name string
		e    jetstream.KeyValueEntry
	}
	items := make([]item, 0, len(entries))
	for k, e := range entries {
		items = append(items, item{unescape(k[strings.LastIndexByte(k, '.')+1:]), e})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.name, b.name) })
	out, revs := make([]T, len(items)), make([]uint64, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it.e.Value(), &out[i]); err != nil {
			return nil, nil, fmt.Errorf("decode %s: %w", it.e.Key(), err)
		}
		revs[i] = it.e.Revision()
	}
	return out, revs, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only unsupported types fail, and the store types have none.
		panic(fmt.Sprintf("natskv: encode %T: %v", v, err))
	}
	return b
}

func isExists(err error) bool { return errors.Is(err, jetstream.ErrKeyExists) }
func isMismatch(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSeq(err)
}

// isWrongSeq: a publish expecting a revision found another.
func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// serverTTL is d rounded up to whole seconds, at least one: what the
// server can keep.
func serverTTL(d time.Duration) time.Duration {
	s := d.Truncate(time.Second)
	if s < d {
		s += time.Second
	}
	return max(s, time.Second)
}

// putTTL writes value under k with a per-message TTL, optionally only if
// the key's revision is still rev (rev 0: unconditionally). KV's Put takes
// no TTL, so this publishes to the bucket's subject as Put does.
func (s *Store) putTTL(ctx context.Context, kv jetstream.KeyValue, k string, value []byte, ttl time.Duration, rev uint64) error {
	opts := []jetstream.PublishOpt{jetstream.WithMsgTTL(serverTTL(ttl))}
	if rev != 0 {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
	}
	_, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + kv.Bucket() + "." + k, Data: value}, opts...)
	return err
}

// forget removes k from a TTL bucket, leaving a marker that expires too.
func forget(ctx context.Context, kv jetstream.KeyValue, k string) error {
	return kv.Purge(ctx, k, jetstream.PurgeTTL(markerTTL))
}

// envelope prefixes value with its expiry, for TTL'd values.
func envelope(exp time.Time, value []byte) []byte {
	b := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint64(b, uint64(exp.UnixMilli()))
	return append(b, value...)
}

// open returns the value of an envelope, or ok false when expired at now
// (or malformed).
func open(b []byte, now time.Time) (value []byte, ok bool) {
	if len(b) < 8 {
		return nil, false
	}
	exp := time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
	return b[8:], now.Before(exp)
}
