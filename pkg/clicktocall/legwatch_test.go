package clicktocall

import (
	"testing"

	"github.com/ringside/ringside/pkg/callstate"
)

func TestLegWatchPassesNotesOfWatchedLegsOnly(t *testing.T) {
	w := NewLegWatch()
	if w.Watching() {
		t.Fatal("an empty watch says it is watching")
	}
	w.Notify("a", LegNote{Kind: NoteAnswered}) // nobody waits: dropped, never blocks
	ch := w.Watch("a")
	if !w.Watching() {
		t.Fatal("Watching is false with a leg watched")
	}
	w.Notify("b", LegNote{Kind: NoteAnswered})
	w.Notify("a", LegNote{Kind: NoteGone, Cause: callstate.CauseBusy})
	select {
	case n := <-ch:
		if n.Kind != NoteGone || n.Cause != callstate.CauseBusy {
			t.Fatalf("note = %+v", n)
		}
	default:
		t.Fatal("the watched leg's note did not arrive")
	}
	select {
	case n := <-ch:
		t.Fatalf("another leg's note arrived: %+v", n)
	default:
	}
	for range 10 { // more notes than the buffer holds: dropped, the reader never blocks
		w.Notify("a", LegNote{Kind: NoteAnswered})
	}
	w.Unwatch("a")
	w.Unwatch("a")
	if w.Watching() {
		t.Fatal("Watching is true after Unwatch")
	}
}
