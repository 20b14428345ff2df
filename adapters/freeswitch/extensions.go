package freeswitch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Extension discovery on FreeSWITCH: the users of its directory, registered
// or not, through `bgapi list_users` on the event socket. bgapi rather than
// api: mod_event_socket runs an api command in the listener's own thread,
// holding the event stream up while it walks the directory (and asks
// sofia_contact for every user); a bgapi command runs in a thread of its own
// and its result comes back as a BACKGROUND_JOB, routed by Job-UUID like an
// originate's.
//
// The output of list_users (mod_commands.c list_users_function, dump_user;
// FreeSWITCH source, looked up because the fact sheet does not cover it):
//
//	userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number
//	1001|default|acme|default|error/user_not_registered|techsupport|Ana García|1001
//	(blank line)
//	+OK
//
// one row per user and group, so a user in several groups (vanilla puts
// 1000 in default and sales) appears several times. Fields are printed with
// switch_vmprintf, which prints a NULL string as "" (switch_mprintf.c);
// releases that used the C library's vasprintf print "(null)", read as "".
// context is the user_context variable (domain, group or user), contact is
// sofia_contact's answer ("error/user_not_registered" when not registered).
// Columns are found by the header's names, so a release that adds one still
// reads; a row that does not have the header's fields is malformed (a "|" in
// a name shifts them) and skipped.
//
// The tenant is the rule's (TranslateOptions.Tenant), applied to what the
// first leg of a call from the user's phone carries: Caller-Context is its
// user_context, sofia sets domain_name and user_name when the phone
// authenticates (sofia_reg.c sofia_reg_parse_auth), and the directory's
// variables — user_context, effective_caller_id_name/number, callgroup —
// become channel variables. A variable rule naming another variable (the
// README's ringside_tenant in the directory) is read per user with
// `bgapi user_data <user>@<domain> var <name>`, which answers the value the
// user, else its group, else its domain sets (user_data_function), or
// nothing. A tenant that is not a subject token (FusionPBX's domain_name
// acme.example.com) is "", as the call machine would not use it either.
// Device is user/<id>@<domain>, the dial string click-to-call rings.

// discoveryTimeout bounds a listing whose context has no deadline.
const discoveryTimeout = time.Minute

// userDataWorkers bounds the user_data lookups in flight.
const userDataWorkers = 4

// listUsersColumns are the columns of list_users the adapter reads.
var listUsersColumns = [...]string{"userid", "context", "domain", "group", "effective_caller_id_name"}

// DirectoryUser is one user of list_users.
type DirectoryUser struct {
	ID, Context, Domain, Group, Name string
}

// Discovery counts what a listing found and left out.
type Discovery struct {
	Rows       int // user rows list_users printed
	Extensions int // extensions returned
	// Malformed rows were skipped: not the header's fields, no user id, or
	// one no store would take (blanks, over 128 bytes).
	Malformed int
	// Duplicates are users with the tenant and id of another (1001@acme
	// and 1001@globex under a rule that cannot tell them apart): the first
	// by domain is kept. A user listed once per group is one user.
	Duplicates int
}

// Extensions lists the PBX users (extensions) the PBX knows, with the tenant
// each belongs to by the adapter's tenant rule ("" when the rule cannot
// tell: the caller then uses pbx.default_tenant). It needs the event socket:
// while Run is not connected it fails at once with ErrNotConnected
// (retryable).
func (a *Adapter) Extensions(ctx context.Context) ([]store.Extension, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, discoveryTimeout)
		defer cancel()
	}
	body, err := a.bgapi(ctx, "list_users", "")
	if err != nil {
		return nil, err
	}
	users, d, err := ParseUserList(body)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("freeswitch: list_users: %w", err))
	}
	vars, err := a.tenantVars(ctx, users)
	if err != nil {
		return nil, err
	}
	exts, dups := extensionsFrom(users, vars, NewTranslator(a.translateOptions()))
	d.Duplicates += dups
	d.Extensions = len(exts)
	a.m.extensions.WithLabelValues("listed").Add(float64(d.Extensions))
	a.m.extensions.WithLabelValues("malformed").Add(float64(d.Malformed))
	a.m.extensions.WithLabelValues("duplicate").Add(float64(d.Duplicates))
	log := a.log.Info
	if d.Malformed > 0 || d.Duplicates > 0 {
		log = a.log.Warn
	}
	log("freeswitch: extensions listed", zap.Int("rows", d.Rows), zap.Int("extensions", d.Extensions),
		zap.Int("malformed", d.Malformed), zap.Int("duplicates", d.Duplicates))
	return exts, nil
}

// ParseUserList reads the output of list_users: its users, one per user id
// and domain in the order printed (the first row's group and the first
// non-empty name of a user in several groups), and the rows it skipped as
// malformed. It fails only when the output is not list_users' table (no
// header with userid and domain: an -ERR, another command's answer).
func ParseUserList(body string) ([]DirectoryUser, Discovery, error) {
	var d Discovery
	lines := strings.Split(body, "\n")
	head := -1
	for i, l := range lines {
		if l = strings.TrimRight(l, "\r"); l != "" {
			head = i
			break
		}
	}
	if head < 0 {
		return nil, d, errors.New("empty answer")
	}
	col := map[string]int{}
	cols := strings.Split(strings.TrimRight(lines[head], "\r"), "|")
	for i, c := range cols {
		if _, dup := col[c]; !dup {
			col[c] = i
		}
	}
	idx := make([]int, len(listUsersColumns))
	for i, c := range listUsersColumns {
		j, ok := col[c]
		if !ok && (c == "userid" || c == "domain") {
			return nil, d, fmt.Errorf("not a user list: %.80q", strings.TrimSpace(body))
		}
		idx[i] = -1
		if ok {
			idx[i] = j
		}
	}
	field := func(f []string, i int) string {
		if idx[i] < 0 || f[idx[i]] == "(null)" {
			return ""
		}
		return f[idx[i]]
	}
	users := []DirectoryUser{}
	at := map[[2]string]int{}
	for _, l := range lines[head+1:] {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if l == "+OK" {
			break
		}
		d.Rows++
		f := strings.Split(l, "|")
		if len(f) != len(cols) {
			d.Malformed++
			continue
		}
		u := DirectoryUser{ID: field(f, 0), Context: field(f, 1), Domain: field(f, 2), Group: field(f, 3), Name: field(f, 4)}
		if store.CheckID("user id", u.ID) != nil || strings.ContainsAny(u.Domain, " \t") {
			d.Malformed++
			continue
		}
		key := [2]string{u.ID, u.Domain}
		if i, seen := at[key]; seen {
			if users[i].Name == "" {
				users[i].Name = u.Name
			}
			continue
		}
		at[key] = len(users)
		users = append(users, u)
	}
	return users, d, nil
}

// directoryVariables are the channel variables list_users itself tells.
var directoryVariables = map[string]bool{"domain_name": true, "user_name": true, "user_context": true,
	"effective_caller_id_name": true}

// tenantVars reads, when the tenant rule names a variable list_users does
// not print, its value for every user (user_data), by user id and domain.
func (a *Adapter) tenantVars(ctx context.Context, users []DirectoryUser) (map[[2]string]string, error) {
	rule := a.o.PBX.Tenant
	if rule.From != config.TenantVariable || directoryVariables[rule.Variable] || !safeArg(rule.Variable) {
		return nil, nil
	}
	out := make(map[[2]string]string, len(users))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(userDataWorkers)
	for _, u := range users {
		if u.Domain == "" {
			continue // user_data would look in the switch's default domain
		}
		g.Go(func() error {
			v, err := a.bgapi(gctx, "user_data", u.ID+"@"+u.Domain+" var "+rule.Variable)
			if err != nil {
				return err
			}
			mu.Lock()
			out[[2]string{u.ID, u.Domain}] = v
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// extensionsFrom turns directory users into extensions sorted by tenant and
// number, the tenant by tr's rule on the channel a call from the user's
// phone starts with (vars: the rule's variable by user, when read). dups
// counts users left out for the tenant and number of another.
func extensionsFrom(users []DirectoryUser, vars map[[2]string]string, tr *Translator) (exts []store.Extension, dups int) {
	users = slices.Clone(users)
	slices.SortStableFunc(users, func(x, y DirectoryUser) int {
		return cmp.Or(cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.ID, y.ID))
	})
	seen := make(map[[2]string]bool, len(users))
	exts = make([]store.Extension, 0, len(users))
	for _, u := range users {
		hs := []Header{{"Caller-Context", u.Context}, {"Caller-Username", u.ID},
			{"variable_domain_name", u.Domain}, {"variable_user_name", u.ID}, {"variable_user_context", u.Context},
			{"variable_effective_caller_id_name", u.Name}}
		if v, ok := vars[[2]string{u.ID, u.Domain}]; ok && tr.tenantHeader != "" {
			hs = append(hs, Header{tr.tenantHeader, v})
		}
		ev := eventOf(hs)
		tenant := tr.tenant(&ev)
		tenant = events.TenantToken(tenant) // as the call machine reads it
		key := [2]string{tenant, u.ID}
		if seen[key] {
			dups++
			continue
		}
		seen[key] = true
		device := "user/" + u.ID
		if u.Domain != "" {
			device += "@" + u.Domain
		}
		exts = append(exts, store.Extension{Tenant: tenant, Number: u.ID, Name: u.Name, Device: device})
	}
	slices.SortFunc(exts, func(x, y store.Extension) int {
		return cmp.Or(cmp.Compare(x.Tenant, y.Tenant), cmp.Compare(x.Number, y.Number))
	})
	return exts, dups
}

// eventOf is the event a channel with these headers would give.
func eventOf(hs []Header) Event {
	e := Event{Headers: hs}
	for _, h := range hs {
		if k := knownIndex(h.Name); k >= 0 && e.known[k] == "" {
			e.known[k] = h.Value
		}
	}
	return e
}

// apiJob is a background api command waiting for its BACKGROUND_JOB.
type apiJob struct {
	cmd string
	res chan apiResult // buffered 1
}

type apiResult struct {
	body string
	err  error
}

// bgapi runs `bgapi <cmd> <args>` with a pre-assigned Job-UUID and returns
// its result (the BACKGROUND_JOB's body), within ctx and CommandTimeout. A
// result that starts with -ERR or -USAGE is a permanent error; no
// connection, a lost link or no result in time are retryable.
func (a *Adapter) bgapi(ctx context.Context, cmd, args string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.o.CommandTimeout)
	defer cancel()
	id := newUUID()
	j := &apiJob{cmd: cmd, res: make(chan apiResult, 1)}
	a.jobsMu.Lock()
	a.apiJobs[id] = j
	a.jobsMu.Unlock()
	drop := func() {
		a.jobsMu.Lock()
		delete(a.apiJobs, id)
		a.jobsMu.Unlock()
	}
	line := command.API{Command: cmd, Arguments: args, Background: true}.BuildMessage() + "\nJob-UUID: " + id
	f, err := a.send(ctx, cmd, line)
	if err == nil && !strings.HasPrefix(f.Get("Reply-Text"), "+OK") {
		err = fault.Permanent(fmt.Errorf("freeswitch: %s: %s", cmd, replyText(f)))
	}
	if err != nil {
		drop()
		return "", err
	}
	select {
	case r := <-j.res:
		if r.err != nil {
			return "", r.err
		}
		if b := strings.TrimSpace(r.body); strings.HasPrefix(b, "-ERR") || strings.HasPrefix(b, "-USAGE") {
			a.m.commands.WithLabelValues(commandLabel(cmd), resultRefused).Inc()
			return "", fault.Permanent(fmt.Errorf("freeswitch: %s: %s", cmd, b))
		}
		return r.body, nil
	case <-ctx.Done():
		drop()
		a.m.commands.WithLabelValues(commandLabel(cmd), resultError).Inc()
		return "", fault.Retryable(fmt.Errorf("freeswitch: %s: no result: %w", cmd, ctx.Err()), 0)
	}
}
