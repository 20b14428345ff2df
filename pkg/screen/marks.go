package screen

import (
	"sync"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

// Marks remembers the screening decision of recent calls by call id, so
// that every call event published after the decision carries it. An entry
// lives for a fixed TTL (longer than a call lasts) and the oldest go first
// past a bound: a lost mark costs a call its screen field, never a call.
// Marks live in memory: calls in progress at a restart lose theirs. Safe
// for concurrent use.
type Marks struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	m     map[string]events.Screen
	queue []markAge // in insertion order, which is expiry order (one TTL)
}

type markAge struct {
	id      string
	expires time.Time
}

// NewMarks returns marks kept for ttl, at most max of them.
func NewMarks(ttl time.Duration, max int) *Marks {
	return &Marks{ttl: ttl, max: max, m: make(map[string]events.Screen)}
}

// Set remembers the decision of call id at now.
func (k *Marks) Set(id string, s events.Screen, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.expire(now)
	if _, ok := k.m[id]; !ok {
		k.queue = append(k.queue, markAge{id: id, expires: now.Add(k.ttl)})
	}
	k.m[id] = s
	for len(k.m) > k.max && len(k.queue) > 0 {
		delete(k.m, k.queue[0].id)
		k.queue = k.queue[1:]
	}
}

// expire drops the marks whose time is over. k.mu held.
func (k *Marks) expire(now time.Time) {
	n := 0
	for n < len(k.queue) && !now.Before(k.queue[n].expires) {
		delete(k.m, k.queue[n].id)
		n++
	}
	if n > 0 {
		k.queue = append(k.queue[:0:0], k.queue[n:]...)
	}
}

// Get returns the decision of call id, if remembered.
func (k *Marks) Get(id string, now time.Time) (events.Screen, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.expire(now)
	s, ok := k.m[id]
	return s, ok
}

// Len is the number of marks kept.
func (k *Marks) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// Apply puts the decision of e's call on e, and reason "blacklisted" on
// the ended event of a rejected call; it reports whether e changed.
func (k *Marks) Apply(e *events.Call, now time.Time) bool {
	s, ok := k.Get(e.CallID, now)
	if !ok {
		return false
	}
	e.Screen = &s
	if s.Blacklisted && e.Type == events.Ended {
		e.Reason = events.ReasonBlacklisted
	}
	return true
}
