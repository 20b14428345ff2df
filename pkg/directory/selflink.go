package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/store"
)

// Self-service linking by device code. On the page of an unlinked
// extension an admin starts a Zoho device flow; the person at the
// extension opens Zoho's verification page, enters the code shown and
// approves as themselves; Ringside asks Zoho who approved (the CRM users
// API, type=CurrentUser) and links the extension to that user of the
// tenant's org exactly as Link does (registered at Zoho in PhoneBridge
// mode), the audit entry saying it was a self-service link. The user's
// token only answers that question: the Identifier never stores it.
//
// Nothing runs in the background: the page polls (PollSelfLink), and the
// pending flow lives in the store's records, so any node may answer the
// next poll. A flow nobody polls before its code expires ends unlinked.

// DevicePrompt is what the person at the extension does: open
// VerificationURL and enter UserCode before ExpiresAt.
type DevicePrompt struct {
	UserCode        string `json:"user_code"`
	VerificationURL string `json:"verification_url"`
	// VerificationURLComplete carries the code (empty if Zoho sent none).
	VerificationURLComplete string    `json:"verification_url_complete,omitempty"`
	ExpiresAt               time.Time `json:"expires_at"`
	// Interval is how often asking Zoho again is useful.
	Interval time.Duration `json:"interval"`
}

// Identity is the Zoho user who approved a device code, as Zoho's CRM
// users API describes the signed-in user.
type Identity struct {
	CRMUserID string
	Email     string
	Name      string
}

// Identifier identifies a Zoho user by the device flow (adapters/zoho).
type Identifier interface {
	// StartIdentify asks Zoho for a device code in the tenant's data
	// centre. The handle is the flow's state for PollIdentify: opaque,
	// never shown (it holds the device code).
	StartIdentify(ctx context.Context, tenant string) (DevicePrompt, string, error)
	// PollIdentify asks Zoho, if it is time to, whether the code was
	// approved. It returns ErrPending with the handle to poll with next
	// until then, the identity once approved, or an error wrapping
	// ErrDeviceDenied or ErrDeviceExpired, or ErrZoho when the flow cannot
	// succeed any more (Zoho refused the client, or who approved could not
	// be read). Other errors are passing: the caller polls again until the
	// code expires.
	PollIdentify(ctx context.Context, tenant, handle string) (Identity, string, error)
}

// Outcomes of a device flow poll.
var (
	// ErrPending: the user has not approved the code yet.
	ErrPending = errors.New("waiting for the approval at Zoho")
	// ErrDeviceDenied: the user refused at Zoho.
	ErrDeviceDenied = errors.New("the sign-in at Zoho was denied")
	// ErrDeviceExpired: the code expired before anyone approved it.
	ErrDeviceExpired = errors.New("the code expired before it was approved at Zoho")
)

// SelfLinkState is where a self-service link stands.
type SelfLinkState string

const (
	SelfLinkPending   SelfLinkState = "pending"
	SelfLinkLinked    SelfLinkState = "linked"
	SelfLinkDenied    SelfLinkState = "denied"
	SelfLinkExpired   SelfLinkState = "expired"
	SelfLinkFailed    SelfLinkState = "failed"
	SelfLinkCancelled SelfLinkState = "cancelled"
)

// SelfLink is a self-service link of one extension.
type SelfLink struct {
	Tenant    string        `json:"tenant"`
	Extension string        `json:"extension"`
	State     SelfLinkState `json:"state"`
	// Prompt is what the person at the extension does while pending.
	Prompt    DevicePrompt `json:"prompt"`
	StartedBy string       `json:"started_by"`
	StartedAt time.Time    `json:"started_at"`
	// Email and Name are the Zoho user linked (linked), or who approved
	// (failed, when Zoho said).
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// Error says why it failed (failed).
	Error string `json:"error,omitempty"`
}

// selfLinkRecord is a SelfLink as the store keeps it, with the
// Identifier's handle.
type selfLinkRecord struct {
	SelfLink
	Handle string `json:"handle,omitempty"`
}

// selfLinkKeep is how long an outcome stays readable, and how long after
// its code expired a flow may still be polled to learn so.
const selfLinkKeep = 10 * time.Minute

// selfLinkPollLock bounds one poll: of several pages polling the same
// flow (several tabs, several nodes), one asks Zoho at a time.
const selfLinkPollLock = 30 * time.Second

// SelfLinks runs self-service links over a Service.
type SelfLinks struct {
	s  *Service
	id Identifier
}

// SelfLinks returns the self-service links of s, identifying users with
// id.
func (s *Service) SelfLinks(id Identifier) *SelfLinks { return &SelfLinks{s: s, id: id} }

func selfLinkKey(tenant, ext string) string { return "directory/selflink/" + tenant + "/" + ext }

// StartSelfLink starts a self-service link of an unlinked extension of a
// connected tenant and returns it, pending, with the code to enter at
// Zoho. Starting again replaces a pending one (a new code).
func (l *SelfLinks) StartSelfLink(ctx context.Context, a Actor, tenant, ext string) (SelfLink, error) {
	sl, err := l.start(ctx, a, tenant, ext)
	detail := ""
	if err == nil {
		detail = "device code " + sl.Prompt.UserCode + ", valid until " + sl.Prompt.ExpiresAt.UTC().Format(time.RFC3339)
	}
	l.s.audit(ctx, a, tenant, "user.selflink.start", ext, detail, err)
	return sl, err
}

func (l *SelfLinks) start(ctx context.Context, a Actor, tenant, ext string) (SelfLink, error) {
	if err := l.s.authorize(a, tenant); err != nil {
		return SelfLink{}, err
	}
	if _, err := l.s.connected(ctx, tenant); err != nil {
		return SelfLink{}, err
	}
	if l.s.o.Zoho == nil || l.id == nil {
		return SelfLink{}, errNoZoho
	}
	if _, err := l.s.extension(ctx, tenant, ext); err != nil {
		return SelfLink{}, err
	}
	if err := l.s.unlinked(ctx, tenant, ext); err != nil {
		return SelfLink{}, err
	}
	prompt, handle, err := l.id.StartIdentify(ctx, tenant)
	if err != nil {
		return SelfLink{}, fmt.Errorf("device code for %s: %w: %w", tenant, ErrZoho, err)
	}
	rec := selfLinkRecord{SelfLink: SelfLink{Tenant: tenant, Extension: ext, State: SelfLinkPending, Prompt: prompt,
		StartedBy: a.Username, StartedAt: l.s.now().UTC()}, Handle: handle}
	if err := l.save(ctx, rec); err != nil {
		return SelfLink{}, err
	}
	return rec.SelfLink, nil
}

// unlinked refuses an extension that is linked already.
func (s *Service) unlinked(ctx context.Context, tenant, ext string) error {
	cur, err := s.o.Store.LinkByExtension(ctx, tenant, ext)
	switch {
	case err == nil:
		return fmt.Errorf("extension %s is linked to %s already; unlink it first: %w", ext, cur.Email, store.ErrConflict)
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// SelfLinkOf returns the extension's latest self-service link as it
// stands, without asking Zoho (ErrNotFound when none is pending or
// recently ended).
func (l *SelfLinks) SelfLinkOf(ctx context.Context, a Actor, tenant, ext string) (SelfLink, error) {
	if err := l.s.authorize(a, tenant); err != nil {
		return SelfLink{}, err
	}
	rec, err := l.load(ctx, tenant, ext)
	return rec.SelfLink, err
}

// PollSelfLink asks Zoho (when it is time to) whether the code of the
// extension's pending self-service link was approved, and if so links the
// extension to whoever approved, provided they are a user of the tenant's
// org. It returns the link as it stands: still pending, or its outcome
// (linked, denied, expired, failed with why). An ended one is returned as
// it ended.
func (l *SelfLinks) PollSelfLink(ctx context.Context, a Actor, tenant, ext string) (SelfLink, error) {
	if err := l.s.authorize(a, tenant); err != nil {
		return SelfLink{}, err
	}
	rec, err := l.load(ctx, tenant, ext)
	if err != nil || rec.State != SelfLinkPending {
		return rec.SelfLink, err
	}
	lock := "directory/selflink-poll/" + tenant + "/" + ext
	got, err := l.s.o.Store.Claim(ctx, lock, selfLinkPollLock)
	if err != nil || !got {
		return rec.SelfLink, err // another poll is asking Zoho now
	}
	defer func() {
		if err := l.s.o.Store.Release(context.WithoutCancel(ctx), lock); err != nil {
			l.s.log.Warn("self-link: releasing the poll lock failed", zap.String("tenant", tenant), zap.String("extension", ext), zap.Error(err))
		}
	}()
	if rec, err = l.load(ctx, tenant, ext); err != nil || rec.State != SelfLinkPending {
		return rec.SelfLink, err // it ended meanwhile
	}
	id, handle, err := l.id.PollIdentify(ctx, tenant, rec.Handle)
	switch {
	case errors.Is(err, ErrPending):
		if handle != rec.Handle {
			rec.Handle = handle
			err = l.save(ctx, rec)
		} else {
			err = nil
		}
		return rec.SelfLink, err
	case errors.Is(err, ErrDeviceDenied):
		rec.State = SelfLinkDenied
	case errors.Is(err, ErrDeviceExpired):
		rec.State = SelfLinkExpired
	case errors.Is(err, ErrZoho):
		rec.State, rec.Error = SelfLinkFailed, err.Error()
	case err != nil:
		if ctx.Err() != nil || l.s.now().Before(rec.Prompt.ExpiresAt) {
			// Zoho did not answer this time: the next poll asks again.
			l.s.log.Warn("self-link: polling Zoho failed", zap.String("tenant", tenant), zap.String("extension", ext), zap.Error(err))
			return rec.SelfLink, nil
		}
		rec.State = SelfLinkExpired
	default:
		rec.SelfLink = l.complete(ctx, a, rec.SelfLink, id)
	}
	rec.Handle = ""
	if err != nil { // complete audited the link
		l.s.audit(ctx, a, tenant, "user.selflink", ext, "device code "+rec.Prompt.UserCode, errors.New(l.outcome(rec.SelfLink, err)))
	}
	return rec.SelfLink, l.save(ctx, rec)
}

// outcome says why a self-service link ended before Zoho said who
// approved.
func (l *SelfLinks) outcome(sl SelfLink, err error) string {
	switch {
	case sl.State == SelfLinkDenied:
		return ErrDeviceDenied.Error()
	case sl.State == SelfLinkFailed:
		return sl.Error
	case err != nil && !errors.Is(err, ErrDeviceExpired):
		return ErrDeviceExpired.Error() + " (last answer: " + err.Error() + ")"
	}
	return ErrDeviceExpired.Error()
}

// complete links the extension to the Zoho user who approved, as Link
// does, and audits it as a self-service link.
func (l *SelfLinks) complete(ctx context.Context, a Actor, sl SelfLink, id Identity) SelfLink {
	sl.Email, sl.Name = id.Email, id.Name
	who := id.Email
	u, err := l.member(ctx, sl.Tenant, id)
	var link store.Link
	if err == nil {
		who = u.Email
		link, err = l.s.link(ctx, a, sl.Tenant, sl.Extension, u.key())
	}
	l.s.audit(ctx, a, sl.Tenant, "user.link", sl.Extension,
		who+" (self-service link by device code "+sl.Prompt.UserCode+", approved at Zoho by "+id.Name+" <"+id.Email+">)", err)
	if err != nil {
		sl.State, sl.Error = SelfLinkFailed, err.Error()
		return sl
	}
	sl.State, sl.Email, sl.Name = SelfLinkLinked, link.Email, link.Name
	return sl
}

// member finds who approved among the users of the tenant's org: by CRM
// user id, and with the same email, so that a user of another org (CRM
// user ids are per org) is never taken for one of this org.
func (l *SelfLinks) member(ctx context.Context, tenant string, id Identity) (ZohoUser, error) {
	l.s.forgetZohoUsers(tenant) // a user added at Zoho a moment ago counts
	us, err := l.s.orgUsers(ctx, tenant)
	if err != nil {
		return ZohoUser{}, err
	}
	for _, u := range us {
		if id.CRMUserID != "" && u.CRMUserID == id.CRMUserID && caseFold(u.Email) == caseFold(id.Email) {
			return u, nil
		}
	}
	return ZohoUser{}, fmt.Errorf("%s <%s>, who approved at Zoho, is not a user of the Zoho org of tenant %s: %w",
		id.Name, id.Email, tenant, store.ErrNotFound)
}

// CancelSelfLink ends a pending self-service link (its code then expires
// unused at Zoho).
func (l *SelfLinks) CancelSelfLink(ctx context.Context, a Actor, tenant, ext string) error {
	err := l.s.authorize(a, tenant)
	var rec selfLinkRecord
	if err == nil {
		rec, err = l.load(ctx, tenant, ext)
	}
	if err == nil && rec.State != SelfLinkPending {
		err = fmt.Errorf("the self-service link of extension %s is %s, not pending: %w", ext, rec.State, store.ErrConflict)
	}
	if err == nil {
		rec.State, rec.Handle = SelfLinkCancelled, ""
		err = l.save(ctx, rec)
	}
	l.s.audit(ctx, a, tenant, "user.selflink.cancel", ext, "device code "+rec.Prompt.UserCode, err)
	return err
}

// load reads the extension's self-service link.
func (l *SelfLinks) load(ctx context.Context, tenant, ext string) (selfLinkRecord, error) {
	v, err := l.s.o.Store.GetRecord(ctx, selfLinkKey(tenant, ext))
	if errors.Is(err, store.ErrNotFound) {
		return selfLinkRecord{}, fmt.Errorf("no self-service link of extension %s was started (or it ended long ago): %w", ext, store.ErrNotFound)
	} else if err != nil {
		return selfLinkRecord{}, err
	}
	var rec selfLinkRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return selfLinkRecord{}, fmt.Errorf("self-service link of %s/%s: %w", tenant, ext, err)
	}
	return rec, nil
}

// save stores the flow: a pending one until its code expired and then
// some, an ended one for selfLinkKeep.
func (l *SelfLinks) save(ctx context.Context, rec selfLinkRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ttl := selfLinkKeep
	if rec.State == SelfLinkPending {
		ttl += max(rec.Prompt.ExpiresAt.Sub(l.s.now()), 0)
	}
	return l.s.o.Store.PutRecord(context.WithoutCancel(ctx), selfLinkKey(rec.Tenant, rec.Extension), string(b), ttl)
}
