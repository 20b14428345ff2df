package zoho

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Values of the try key: a write was sent and its outcome is unknown
// (check Zoho before writing again), or it certainly did not happen.
const (
	tryUnknown = "sent"
	tryNotDone = "not_applied"
)

// rest logs the call as one Calls record (spec §2): inserted at ended
// (batched), updated when the recording becomes final later.
func (s *Sink) rest(ctx context.Context, t store.Tenant, ev events.Call) error {
	if ev.Type != events.Ended && ev.Type != events.Recording || ev.EndedAt.IsZero() {
		return nil // no pops in REST mode; a recording during the call comes with ended
	}
	link := s.recordingLink(ctx, ev)
	done, err := s.logged(ctx, t.ID, ev.CallID)
	if err != nil {
		return err
	}
	if done == "" && s.waitRecording(ev) {
		return fault.Retryable(errWaitRecording, min(s.o.RecordingWait/3, 10*time.Second))
	}
	if done == "" {
		unlock, err := s.lock(ctx, t.ID, ev.CallID)
		if err != nil {
			return err
		}
		defer unlock()
		if err := s.crmExtras(ctx, t, ev); err != nil { // a record for the caller, the missed-call task
			return err
		}
		if done, err = s.insertCall(ctx, t, ev, link); err != nil || done == "" {
			return err
		}
	}
	id, ok := strings.CutPrefix(done, "rest:")
	if !ok || link == "" || strings.HasSuffix(id, ":rec") {
		return nil // PhoneBridge logged it, or nothing to add
	}
	res, err := s.enqueue(ctx, t.ID, http.MethodPut, map[string]any{"id": id, "Description": s.description(ev, link)})
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	return s.o.Records.PutRecord(ctx, logKey(t.ID, ev.CallID), done+":rec", s.o.KeyTTL)
}

// insertCall inserts the call's record unless an earlier attempt whose
// outcome is unknown already did, and returns the log key's value.
func (s *Sink) insertCall(ctx context.Context, t store.Tenant, ev events.Call, link string) (string, error) {
	try, err := s.o.Records.GetRecord(ctx, tryKey(t.ID, ev.CallID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fault.Retryable(err, 0)
	}
	if try == tryUnknown {
		// An earlier insert may have worked: ask Zoho before inserting again.
		// like matches every call id the marker is a prefix of (….4 finds
		// ….43): keep only the record whose first line is this marker. One
		// credit covers up to 200 records.
		mk := marker(ev.CallID)
		recs, err := s.c.COQL(ctx, t.ID, "select id, Description from Calls where Description like '%"+mk+"%' limit 200")
		if err != nil {
			return "", err
		}
		recs = slices.DeleteFunc(recs, func(r map[string]any) bool {
			d := str(r["Description"])
			return d != mk && !strings.HasPrefix(d, mk+"\n")
		})
		if len(recs) > 0 {
			id := str(recs[0]["id"])
			s.log.Info("zoho: call was logged by an earlier attempt", zap.String("call_id", ev.CallID), zap.String("record", id))
			done := "rest:" + id
			if strings.Contains(str(recs[0]["Description"]), "/recordings/") || link == "" {
				done += ":rec"
			}
			return done, s.remember(ctx, t.ID, ev.CallID, done)
		}
	}
	rec, err := s.callRecord(ctx, t, ev, link)
	if err != nil {
		return "", err
	}
	if err := s.o.Records.PutRecord(ctx, tryKey(t.ID, ev.CallID), tryUnknown, s.o.KeyTTL); err != nil {
		return "", fault.Retryable(err, 0)
	}
	res, err := s.enqueue(ctx, t.ID, http.MethodPost, rec)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == 429 || errors.Is(err, ErrDisconnected) {
			// Refused before anything was written: no check needed next time.
			_ = s.o.Records.PutRecord(ctx, tryKey(t.ID, ev.CallID), tryNotDone, s.o.KeyTTL)
		}
		return "", err
	}
	if res.Err != nil {
		_ = s.o.Records.PutRecord(ctx, tryKey(t.ID, ev.CallID), tryNotDone, s.o.KeyTTL)
		return "", fmt.Errorf("zoho: log call %s: %w", ev.CallID, res.Err)
	}
	done := "rest:" + res.ID
	if link != "" {
		done += ":rec"
	}
	return done, s.remember(ctx, t.ID, ev.CallID, done)
}

func (s *Sink) remember(ctx context.Context, tenant, call, done string) error {
	if err := s.o.Records.PutRecord(ctx, logKey(tenant, call), done, s.o.KeyTTL); err != nil {
		// The try key still says "sent": the retry finds the record.
		return fault.Retryable(fmt.Errorf("zoho: remember record of %s: %w", call, err), 0)
	}
	return nil
}

// marker identifies a call in its record's Description.
func marker(callID string) string {
	return "Ringside call " + strings.NewReplacer("'", "", "%", "", `\`, "").Replace(callID)
}

// callRecord builds the Calls record of an ended call.
func (s *Sink) callRecord(ctx context.Context, t store.Tenant, ev events.Call, link string) (map[string]any, error) {
	if ev.Direction == events.Internal {
		return s.internalRecord(ctx, t, ev, link)
	}
	number, ok := Normalize(ev.External, t.Settings.Region)
	if !ok {
		number = ev.External
	}
	answered := ev.Disposition == events.DispositionAnswered
	r := map[string]any{
		"Call_Start_Time": ev.StartedAt.UTC().Format("2006-01-02T15:04:05-07:00"),
		"Description":     s.description(ev, link),
	}
	what := map[events.Disposition]string{events.DispositionBusy: "busy", events.DispositionNoAnswer: "no answer",
		events.DispositionCancelled: "cancelled", events.DispositionFailed: "failed", events.DispositionAbandoned: "caller hung up"}[ev.Disposition]
	switch {
	case ev.Direction == events.Outbound:
		r["Call_Type"] = "Outbound"
		r["Outgoing_Call_Status"] = "Completed"
		r["Call_Duration"] = mmss(ev.TalkSeconds)
		r["Subject"] = "Outbound call to " + number
		if !answered {
			r["Subject"] = r["Subject"].(string) + " (" + what + ")"
		}
		r["Dialled_Number"] = number
	case answered:
		r["Call_Type"] = "Inbound"
		r["Call_Duration"] = mmss(ev.TalkSeconds)
		r["Subject"] = "Inbound call from " + number
		r["Caller_ID"] = number
	default:
		r["Call_Type"] = "Missed"
		r["Subject"] = "Missed call from " + number
		if what != "" {
			r["Subject"] = r["Subject"].(string) + " (" + what + ")"
		}
		r["Caller_ID"] = number
	}
	owner, err := s.owner(ctx, t, ev)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		r["Owner"] = map[string]any{"id": owner}
	}
	if s.o.Lookup != nil && ev.External != "" {
		m, err := s.o.Lookup.Find(ctx, t.ID, t.Settings.Region, ev.External)
		if err != nil && !fault.IsPermanent(err) {
			return nil, err
		}
		switch {
		case err != nil:
			s.log.Warn("zoho: caller lookup failed; logging without a link", zap.String("call_id", ev.CallID), zap.Error(err))
		case m.Module == "Contacts":
			r["Who_Id"] = map[string]any{"id": m.ID}
		case m.Found():
			r["What_Id"] = map[string]any{"id": m.ID}
			r["$se_module"] = m.Module
		}
	}
	return r, nil
}

// description holds the PBX call id (the marker retries search for), who
// handled the call, transfers and the recording link.
func (s *Sink) description(ev events.Call, link string) string {
	var b strings.Builder
	b.WriteString(marker(ev.CallID))
	fmt.Fprintf(&b, "\nDisposition: %s", ev.Disposition)
	if ev.AnsweredBy != "" {
		fmt.Fprintf(&b, "\nAnswered by extension %s", ev.AnsweredBy)
	}
	if len(ev.Agents) > 0 {
		fmt.Fprintf(&b, "\nRang: %s", strings.Join(ev.Agents, ", "))
	}
	if ev.Screen != nil && ev.Screen.OwnerExtension != "" {
		fmt.Fprintf(&b, "\nRouted first to extension %s, the record owner's", ev.Screen.OwnerExtension)
	}
	for _, tr := range ev.Transfers {
		fmt.Fprintf(&b, "\nTransferred (%s) from %s to %s at %s", tr.Kind, tr.From, tr.To, tr.At.UTC().Format(time.RFC3339))
	}
	if link != "" {
		fmt.Fprintf(&b, "\nRecording: %s", link)
	}
	return b.String()
}

// owner is the CRM user linked to the extension that handled the call
// (answering extension; the caller of an outbound call; the only agent
// that rang), else the tenant's default user, else empty (the token's
// user).
func (s *Sink) owner(ctx context.Context, t store.Tenant, ev events.Call) (string, error) {
	ext := ev.AnsweredBy
	if ext == "" && ev.Direction == events.Outbound {
		ext = ev.Caller
	}
	if ext == "" && len(ev.Agents) == 1 {
		ext = ev.Agents[0]
	}
	if ext != "" {
		l, err := s.o.Links.LinkByExtension(ctx, t.ID, ext)
		switch {
		case err == nil:
			byEmail, ids, err := s.crmUsers(ctx, t.ID)
			if err != nil {
				return "", err
			}
			if id := byEmail[strings.ToLower(l.Email)]; l.Email != "" && id != "" {
				return id, nil
			}
			if ids[l.ZohoUser] {
				return l.ZohoUser, nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return "", fault.Retryable(fmt.Errorf("zoho: link of %s: %w", ext, err), 0)
		}
	}
	return t.Settings.DefaultUser, nil
}

// crmUsers returns a tenant's CRM users by lower-case email, and their
// ids, cached for UsersTTL.
func (s *Sink) crmUsers(ctx context.Context, tenant string) (map[string]string, map[string]bool, error) {
	s.mu.Lock()
	e, ok := s.users[tenant]
	s.mu.Unlock()
	if ok && s.c.o.Now().Sub(e.at) < s.o.UsersTTL {
		return e.byEmail, e.ids, nil
	}
	us, err := s.c.CRMUsers(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	e = usersEntry{byEmail: map[string]string{}, ids: map[string]bool{}, zones: map[string]string{}, at: s.c.o.Now()}
	for _, u := range us {
		e.byEmail[strings.ToLower(u.Email)] = u.ID
		e.ids[u.ID] = true
		e.zones[u.ID] = u.TimeZone
	}
	s.mu.Lock()
	s.users[tenant] = e
	s.mu.Unlock()
	return e.byEmail, e.ids, nil
}

func mmss(sec int) string {
	if sec < 0 {
		sec = 0
	}
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
}

// enqueue adds a record to the tenant's open batch for method (POST
// insert, PUT update) and waits for its result; the batch is sent when it
// is full or BatchDelay has passed. A caller that stops waiting may still
// have its record sent: the try key makes the retry check first.
func (s *Sink) enqueue(ctx context.Context, tenant, method string, rec map[string]any) (RecordResult, error) {
	results, i, err := s.batches.do(ctx, tenant+"\x00"+method, rec, s.o.BatchSize, s.o.BatchDelay, s.c.o.Timeout+time.Second,
		func(ctx context.Context, recs []map[string]any) ([]RecordResult, error) {
			if method == http.MethodPost {
				return s.c.InsertRecords(ctx, tenant, "Calls", recs)
			}
			return s.c.UpdateRecords(ctx, tenant, "Calls", recs)
		})
	if err != nil {
		return RecordResult{}, err
	}
	return results[i], nil
}
