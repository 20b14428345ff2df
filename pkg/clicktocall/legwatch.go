package clicktocall

import (
	"sync"
	"sync/atomic"

	"github.com/ringside/ringside/pkg/callstate"
)

// NoteKind is what happened to a leg a click-to-call waits for.
type NoteKind uint8

// Notes a PBX adapter passes on.
const (
	NoteInApp    NoteKind = iota + 1 // the leg entered Ringside's application (ARI StasisStart)
	NoteAnswered                     // the leg answered
	NoteGone                         // the leg ended; Cause says how
)

// LegNote is one thing a PBX adapter learned about a watched leg.
type LegNote struct {
	Kind  NoteKind
	Cause callstate.Cause
}

// LegWatch passes what happens to the legs of click-to-calls in progress
// from a PBX adapter's event reader to the goroutines placing those calls.
// The reader never blocks on it.
type LegWatch struct {
	n  atomic.Int32 // watched legs: readers skip decoding while 0
	mu sync.Mutex
	m  map[string]chan LegNote
}

// NewLegWatch returns an empty watch.
func NewLegWatch() *LegWatch { return &LegWatch{m: map[string]chan LegNote{}} }

// Watch starts passing the notes of leg id; call Unwatch when done.
func (w *LegWatch) Watch(id string) <-chan LegNote {
	// Size 4: a leg gets at most one note of each kind, so a send never
	// finds it full; if one did, Notify drops it rather than block the reader.
	ch := make(chan LegNote, 4)
	w.mu.Lock()
	w.m[id] = ch
	w.mu.Unlock()
	w.n.Add(1)
	return ch
}

// Unwatch stops passing the notes of leg id.
func (w *LegWatch) Unwatch(id string) {
	w.mu.Lock()
	if _, ok := w.m[id]; ok {
		delete(w.m, id)
		w.n.Add(-1)
	}
	w.mu.Unlock()
}

// Watching reports whether any leg is watched: a reader skips decoding
// events for the watch while it is false.
func (w *LegWatch) Watching() bool { return w.n.Load() > 0 }

// Notify passes n to the goroutine watching leg id, if any.
func (w *LegWatch) Notify(id string, n LegNote) {
	w.mu.Lock()
	ch := w.m[id]
	w.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- n:
	default:
	}
}
