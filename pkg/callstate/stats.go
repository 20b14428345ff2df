package callstate

// IgnoreReason says why a signal changed nothing. It is a small closed set,
// fit for a metric label.
type IgnoreReason uint8

// Reasons a signal is ignored.
const (
	// IgnoredDuplicate: the signal repeats a fact already known, or arrives
	// after a later state of its leg (Ringing after Answered, DialEnd after
	// Hangup).
	IgnoredDuplicate IgnoreReason = iota
	// IgnoredUnknownLeg: the leg (or the peer it names) was never seen, or
	// has been forgotten.
	IgnoredUnknownLeg
	// IgnoredLate: the leg belongs to a call that already ended, or the
	// signal comes too late to apply (a tenant after the call started).
	IgnoredLate
	// IgnoredInvalid: the signal is malformed or contradicts the calls
	// (no leg, unknown kind, a bridge across two calls, a broken transfer).
	IgnoredInvalid
	// IgnoreReasons is the number of reasons.
	IgnoreReasons
)

var ignoreReasonNames = [...]string{
	IgnoredDuplicate:  "duplicate",
	IgnoredUnknownLeg: "unknown_leg",
	IgnoredLate:       "late",
	IgnoredInvalid:    "invalid",
}

func (r IgnoreReason) String() string {
	if r < IgnoreReasons {
		return ignoreReasonNames[r]
	}
	return "unknown"
}

// Stats are a Machine's counters since New.
type Stats struct {
	Signals uint64 // signals applied
	Events  uint64 // events emitted
	// Ignored counts the signals that changed nothing, by reason:
	// Ignored[IgnoredLate] is the number of late signals.
	Ignored [IgnoreReasons]uint64
}
