package eslsim

import (
	"context"
	"slices"
	"testing"
	"time"
)

func waitScreened(t *testing.T, s *Server, uuid string) Screening {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc, err := s.WaitScreened(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func api(s *Server, line string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api(line)
}

// TestScreenedCallSleepsOutWithoutRingside: nobody breaks the sleep; the
// call rings once it ran out, unchanged.
func TestScreenedCallSleepsOutWithoutRingside(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uuid := s.StartScreened(ScreenedCall{Sleep: 60 * time.Millisecond})
	sc := waitScreened(t, s, uuid)
	if d := sc.Left.Sub(sc.Entered); d < 60*time.Millisecond || sc.Broken {
		t.Errorf("slept %v (broken %v), want the whole 60ms", d, sc.Broken)
	}
	want := []Rung{{"1001", Customer}, {"1002", Customer}}
	if !slices.Equal(sc.Rang, want) || sc.AnsweredBy != "1001" || sc.CallerName != "" || sc.Owner != "" {
		t.Errorf("screening %+v", sc)
	}
	if n := len(s.LiveChannels()); n != 0 {
		t.Errorf("%d channels left", n)
	}
}

// TestScreenedCallNamedRoutedAndBroken: the variables set during the sleep
// reach the B legs and the routing; uuid_break ends the sleep at once and
// answers with no output ("-ERR no reply" on the wire).
func TestScreenedCallNamedRoutedAndBroken(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uuid := s.StartScreened(ScreenedCall{Sleep: 10 * time.Second})
	for line, want := range map[string]string{
		"uuid_setvar " + uuid + " effective_caller_id_name Eva Meyer": "+OK\n",
		"uuid_setvar " + uuid + " ringside_owner 1002":                "+OK\n",
		"uuid_break " + uuid: "",
		"uuid_break nope":    "-ERR No Such Channel!\n",
	} {
		if got := api(s, line); got != want {
			t.Errorf("%s: %q, want %q", line, got, want)
		}
	}
	sc := waitScreened(t, s, uuid)
	if d := sc.Left.Sub(sc.Entered); d > 2*time.Second || !sc.Broken {
		t.Errorf("slept %v (broken %v)", d, sc.Broken)
	}
	if !slices.Equal(sc.Rang, []Rung{{"1002", "Eva Meyer"}}) || sc.AnsweredBy != "1002" || sc.CallerName != "Eva Meyer" || sc.Owner != "1002" {
		t.Errorf("screening %+v", sc)
	}
}

// TestScreenedCallKilled: uuid_kill USER_BUSY during the sleep refuses the
// call; nothing rings.
func TestScreenedCallKilled(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uuid := s.StartScreened(ScreenedCall{From: "+4990012345", Sleep: 10 * time.Second})
	if got := api(s, "uuid_kill "+uuid+" USER_BUSY"); got != "+OK\n" {
		t.Fatalf("uuid_kill: %q", got)
	}
	sc := waitScreened(t, s, uuid)
	if sc.HangupCause != "USER_BUSY" || len(sc.Rang) != 0 || sc.Left.Sub(sc.Entered) > 2*time.Second {
		t.Errorf("screening %+v", sc)
	}
}

// TestCloseEndsASleepingCall: closing the simulator does not wait for a
// sleep to run out.
func TestCloseEndsASleepingCall(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.StartScreened(ScreenedCall{Sleep: time.Minute})
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}
