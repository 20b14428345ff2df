package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// Cache is the store's caller-lookup cache.
type Cache interface {
	GetLookup(ctx context.Context, tenant, number string) ([]byte, error)
	PutLookup(ctx context.Context, tenant, number string, value []byte, ttl time.Duration) error
	DeleteLookup(ctx context.Context, tenant, number string) error
}

// Match is the CRM record a number belongs to; the zero Match is "no
// record".
type Match struct {
	Module string `json:"m,omitempty"` // Contacts, Leads, Accounts
	ID     string `json:"id,omitempty"`
	Name   string `json:"n,omitempty"`
	Owner  string `json:"o,omitempty"` // the record owner's CRM user id
}

// Found reports whether the number belongs to a record.
func (m Match) Found() bool { return m.ID != "" }

// LookupOptions configure a Lookup.
type LookupOptions struct {
	// Modules are searched in this order, stopping at the first match
	// (default Contacts, Leads, Accounts): a number found in the first
	// module costs 1 credit, a number found nowhere len(Modules).
	Modules []string
	// Method is "search" (criteria on phone fields, equals, several
	// formats in one request) or "coql" (one COQL query per module that
	// also matches any stored number ending in the national digits).
	Method string
	// HitTTL and MissTTL are how long matches and misses are cached
	// (default 24h and 1h).
	HitTTL, MissTTL time.Duration
	// BatchWait is how long a lookup waits for lookups of other numbers to
	// share its request (0: only numbers looked up at the same moment
	// share). Within the criteria budget (10 for search, 25 for COQL) a
	// COQL request covers two numbers in Contacts or Leads and four in
	// Accounts; search covers one (two in Accounts).
	BatchWait time.Duration
}

// Lookup finds the CRM record of a phone number with the fewest credits:
// numbers are normalised to E.164 (tenant region), results cached in the
// store (hits and misses, separate TTLs), concurrent lookups of one number
// coalesced.
type Lookup struct {
	c     *Client
	cache Cache
	o     LookupOptions
	sf    singleflight.Group

	batches batcher[string, map[string]Match] // numbers to look up, by tenant and module
}

// NewLookup returns a Lookup. c may be nil for a Lookup that only reads
// and writes the cache (Cached, Remember, Forget; Find fails): a node
// without Zoho still reads what other nodes cached.
func NewLookup(c *Client, cache Cache, o LookupOptions) *Lookup {
	if len(o.Modules) == 0 {
		o.Modules = []string{"Contacts", "Leads", "Accounts"}
	}
	if o.Method == "" {
		o.Method = "search"
	}
	if o.HitTTL <= 0 {
		o.HitTTL = 24 * time.Hour
	}
	if o.MissTTL <= 0 {
		o.MissTTL = time.Hour
	}
	return &Lookup{c: c, cache: cache, o: o}
}

// Normalize returns number in E.164, reading numbers without a country
// code in region (ISO 3166-1 alpha-2; empty: the number must carry one).
func Normalize(number, region string) (string, bool) {
	number = strings.TrimSpace(number)
	if len(digits(number)) < 7 { // an extension, not a phone number
		return "", false
	}
	if strings.HasPrefix(number, "00") {
		number = "+" + number[2:]
	}
	if region == "" && !strings.HasPrefix(number, "+") {
		number = "+" + number
	}
	n, err := phonenumbers.Parse(number, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// formats are the ways a number is commonly stored: E.164, E.164 without
// "+", the national form (digits only, and as formatted), and the
// international format with spaces: five formats × two phone fields fit
// Zoho's ten search criteria.
func formats(e164 string) (all []string, national string) {
	all = []string{e164, strings.TrimPrefix(e164, "+")}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return all, ""
	}
	natFmt := phonenumbers.Format(n, phonenumbers.NATIONAL)
	intl := phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	for _, f := range []string{digits(natFmt), natFmt, intl} {
		if f != "" && !contains(all, f) {
			all = append(all, f)
		}
	}
	return all, phonenumbers.GetNationalSignificantNumber(n)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var (
	phoneFieldsOf = map[string][]string{"Contacts": {"Phone", "Mobile"}, "Leads": {"Phone", "Mobile"}, "Accounts": {"Phone"}}
	nameFieldOf   = map[string]string{"Contacts": "Full_Name", "Leads": "Full_Name", "Accounts": "Account_Name"}
)

// Find returns the record of number in tenant (region for numbers without
// a country code). A number that cannot be normalised matches nothing and
// costs nothing.
func (l *Lookup) Find(ctx context.Context, tenant, region, number string) (Match, error) {
	e164, ok := Normalize(number, region)
	if !ok {
		return Match{}, nil
	}
	if l.c == nil {
		return Match{}, errors.New("zoho lookup: no Zoho client")
	}
	if v, err := l.cache.GetLookup(ctx, tenant, e164); err == nil {
		var m Match
		if json.Unmarshal(v, &m) == nil {
			if m.Found() {
				l.c.m.lookups.WithLabelValues("hit").Inc()
			} else {
				l.c.m.lookups.WithLabelValues("negative_hit").Inc()
			}
			return m, nil
		}
	}
	v, err, shared := l.sf.Do(tenant+"\x00"+e164, func() (any, error) { return l.search(ctx, tenant, e164) })
	if shared {
		l.c.m.lookups.WithLabelValues("coalesced").Inc()
	}
	if err != nil {
		l.c.m.lookups.WithLabelValues("error").Inc()
		return Match{}, err
	}
	return v.(Match), nil
}

// Cached returns what the cache holds for the E.164 number e164 in tenant,
// never asking Zoho: ok is false when nothing is cached or the entry is
// unreadable (Find looks such a number up again), the zero Match with ok is
// a number cached as matching no record, err is the cache failing.
func (l *Lookup) Cached(ctx context.Context, tenant, e164 string) (Match, bool, error) {
	v, err := l.cache.GetLookup(ctx, tenant, e164)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Match{}, false, nil
	case err != nil:
		return Match{}, false, fmt.Errorf("zoho lookup: read cache: %w", err)
	}
	var m Match
	if json.Unmarshal(v, &m) != nil {
		return Match{}, false, nil
	}
	return m, true, nil
}

var _ clicktocall.Names = (*Lookup)(nil)

// CachedName is the name of the record cached for number, read in the
// tenant's region, or "" (none cached, no match, the store failing): the
// name a click-to-call shows the user while their phone rings. It never
// asks Zoho.
func (l *Lookup) CachedName(ctx context.Context, tenant, number string) string {
	region := ""
	if l.c != nil {
		if t, err := l.c.o.Tenants.Tenant(ctx, tenant); err == nil {
			region = t.Settings.Region
		}
	}
	e164, ok := Normalize(number, region)
	if !ok {
		return ""
	}
	m, _, _ := l.Cached(ctx, tenant, e164)
	return m.Name
}

// Screening is a Lookup as the screening of inbound calls uses it: the
// cached records read while a call waits (screen.Cache, Cached) and the
// background lookup of a caller the cache missed (screen.Refresher, Find).
type Screening struct{ l *Lookup }

var (
	_ screen.Cache     = Screening{}
	_ screen.Refresher = Screening{}
)

// Screening returns l as screening uses it; a Lookup without a client
// serves only as a screen.Cache.
func (l *Lookup) Screening() Screening { return Screening{l: l} }

// Cached returns the record cached for e164 (Lookup.Cached).
func (s Screening) Cached(ctx context.Context, tenant, e164 string) (screen.Record, bool, error) {
	m, ok, err := s.l.Cached(ctx, tenant, e164)
	return screen.Record{Module: m.Module, ID: m.ID, Name: m.Name, Owner: m.Owner}, ok, err
}

// Refresh looks number up and caches the answer (Lookup.Find).
func (s Screening) Refresh(ctx context.Context, tenant, region, number string) error {
	_, err := s.l.Find(ctx, tenant, region, number)
	return err
}

func (l *Lookup) search(ctx context.Context, tenant, e164 string) (Match, error) {
	for i := range l.o.Modules {
		m, err := l.ask(ctx, tenant, i, e164)
		if err != nil {
			return Match{}, err
		}
		if m.Found() {
			l.c.m.lookups.WithLabelValues("match").Inc()
			l.put(ctx, tenant, e164, m, l.o.HitTTL)
			return m, nil
		}
	}
	l.c.m.lookups.WithLabelValues("no_match").Inc()
	l.put(ctx, tenant, e164, Match{}, l.o.MissTTL)
	return Match{}, nil
}

// Criteria budgets of one request (spec §3.1, §3.2).
const (
	maxSearchCriteria = 10
	maxCOQLCriteria   = 25
)

// perRequest is how many numbers one request of module can look up within
// the method's criteria budget: every format on every phone field (COQL
// adds a like on the national digits per field).
func (l *Lookup) perRequest(mod string) int {
	fields := len(fieldsOf(mod))
	if l.o.Method == "coql" {
		return max(1, maxCOQLCriteria/(fields*(formatCount+1)))
	}
	return max(1, maxSearchCriteria/(fields*formatCount))
}

// formatCount is the number of formats a number is searched in (formats).
const formatCount = 5

func fieldsOf(mod string) []string {
	if f := phoneFieldsOf[mod]; f != nil {
		return f
	}
	return []string{"Phone"}
}

// ask looks e164 up in the i-th module, in a batch with other numbers:
// lookups of different numbers of a tenant in flight together share one
// request per module (up to perRequest numbers), so a module costs one
// credit per batch, not per number; numbers it does not find move on to
// the next module's batch together with others'.
func (l *Lookup) ask(ctx context.Context, tenant string, i int, e164 string) (Match, error) {
	mod := l.o.Modules[i]
	found, _, err := l.batches.do(ctx, tenant+"\x00"+mod, e164, l.perRequest(mod), l.o.BatchWait, 2*l.c.o.Timeout+time.Second,
		func(ctx context.Context, nums []string) (map[string]Match, error) {
			return l.query(ctx, tenant, mod, nums)
		})
	if err != nil {
		return Match{}, err
	}
	return found[e164], nil
}

// query runs one search or COQL request for numbers in module and
// attributes the records to the numbers they match (the oldest record
// first: stable attribution).
func (l *Lookup) query(ctx context.Context, tenant, mod string, nums []string) (map[string]Match, error) {
	fields, name := fieldsOf(mod), nameFieldOf[mod]
	type want struct {
		e164, national string
		formats        []string
	}
	ws := make([]want, len(nums))
	var allFormats, nationals []string
	for i, n := range nums {
		fs, nat := formats(n)
		ws[i] = want{e164: n, national: nat, formats: fs}
		allFormats = append(allFormats, fs...)
		nationals = append(nationals, nat)
	}
	var recs []map[string]any
	var err error
	if l.o.Method == "coql" {
		recs, err = l.c.COQL(ctx, tenant, coqlQuery(mod, name, fields, allFormats, nationals))
	} else {
		recs, err = l.c.Search(ctx, tenant, mod, criteria(fields, allFormats), "id,Owner,"+name+","+strings.Join(fields, ","))
	}
	if err != nil {
		return nil, err
	}
	found := map[string]Match{}
	for _, r := range recs {
		for _, w := range ws {
			if _, done := found[w.e164]; done || !recordMatches(r, fields, w.formats, w.national, l.o.Method == "coql") {
				continue
			}
			m := Match{Module: mod, ID: fmt.Sprint(r["id"]), Name: str(r[name])}
			if o, isMap := r["Owner"].(map[string]any); isMap {
				m.Owner = str(o["id"])
			}
			found[w.e164] = m
		}
	}
	return found, nil
}

// recordMatches reports whether one of the record's phone fields holds the
// number in one of its formats, or (COQL's like) ends in its national
// digits.
func recordMatches(r map[string]any, fields, formats []string, national string, suffix bool) bool {
	for _, f := range fields {
		v := str(r[f])
		if v == "" {
			continue
		}
		if contains(formats, v) {
			return true
		}
		if suffix && len(national) >= 6 && strings.HasSuffix(v, national) {
			return true
		}
	}
	return false
}

func (l *Lookup) put(ctx context.Context, tenant, e164 string, m Match, ttl time.Duration) {
	v, _ := json.Marshal(m)
	if err := l.cache.PutLookup(ctx, tenant, e164, v, ttl); err != nil {
		l.c.log.Warn("zoho lookup: cannot cache", zap.String("tenant", tenant), zap.Error(err))
	}
}

// Remember caches a record created moments ago (a Lead for an unknown
// caller), which search may not find yet (index lag).
func (l *Lookup) Remember(ctx context.Context, tenant, region, number string, m Match) error {
	e164, ok := Normalize(number, region)
	if !ok {
		return errors.New("zoho lookup: number cannot be normalised")
	}
	v, _ := json.Marshal(m)
	return l.cache.PutLookup(ctx, tenant, e164, v, l.o.HitTTL)
}

// Forget drops the cached result of a number (its record changed).
func (l *Lookup) Forget(ctx context.Context, tenant, region, number string) error {
	e164, ok := Normalize(number, region)
	if !ok {
		return nil
	}
	err := l.cache.DeleteLookup(ctx, tenant, e164)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// criteria is one search criteria over every field × format (at most 10
// conditions, Zoho's limit), values escaped.
func criteria(fields, formats []string) string {
	var conds []string
	for _, f := range formats {
		for _, fl := range fields {
			if len(conds) == 10 {
				break
			}
			v := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`, ",", `\,`).Replace(f)
			conds = append(conds, "("+fl+":equals:"+v+")")
		}
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, "or") + ")"
}

// coqlQuery matches every format exactly and, with like, any number ending
// in a national significant number; conditions nested two by two.
func coqlQuery(mod, name string, fields, formats, nationals []string) string {
	var conds []string
	for _, fl := range fields {
		for _, f := range formats {
			conds = append(conds, fl+" = '"+strings.ReplaceAll(f, "'", `\'`)+"'")
		}
		for _, national := range nationals {
			if len(national) >= 6 {
				conds = append(conds, fl+" like '%"+national+"'")
			}
		}
	}
	where := conds[0]
	for _, c := range conds[1:] {
		where = "(" + where + " or " + c + ")"
	}
	return "select id, Owner, " + name + ", " + strings.Join(fields, ", ") + " from " + mod + " where " + where + " limit 200"
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
