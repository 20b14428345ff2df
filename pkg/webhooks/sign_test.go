package webhooks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testSecret = "whsec_test_0123456789abcdef"

// The vectors were computed outside Go (Python's hmac module), so they pin
// the wire format, not this code's idea of it.
func TestSignVectors(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct{ body, want string }{
		{`{"id":"evt_1","type":"call.ended"}`, "t=1700000000,v1=e8f64c118045d7417e714634d876fc252e5d994635f846c462932c90ce2f8a2d"},
		{``, "t=1700000000,v1=814e706027d44b6013448b27b12c76ad281f72d11fcf05d71e1ef85b69465064"},
	} {
		if got := Sign(testSecret, at, []byte(tc.body)); got != tc.want {
			t.Errorf("Sign(%q) = %s, want %s", tc.body, got, tc.want)
		}
	}
}

func TestVerify(t *testing.T) {
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_1","type":"call.ended"}`)
	good := Sign(testSecret, at, body)
	other := Sign("whsec_other_0123456789abcdef", at, body)
	_, v1, _ := strings.Cut(good, ",")
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		secret string
		now    time.Time
		want   error
	}{
		{"good", good, body, testSecret, at, nil},
		{"good, 4m59s later", good, body, testSecret, at.Add(ReplayWindow - time.Second), nil},
		{"good, receiver clock 4m behind", good, body, testSecret, at.Add(-4 * time.Minute), nil},
		{"rotated: a second v1 matches", other + "," + v1, body, testSecret, at, nil},
		{"spaces after commas", strings.ReplaceAll(good, ",", ", "), body, testSecret, at, nil},
		{"tampered body", good, []byte(`{"id":"evt_2","type":"call.ended"}`), testSecret, at, ErrBadSignature},
		{"body re-encoded", good, []byte(`{"id": "evt_1", "type": "call.ended"}`), testSecret, at, ErrBadSignature},
		{"wrong secret", good, body, "whsec_wrong_0123456789abcdef", at, ErrBadSignature},
		{"timestamp changed", strings.Replace(good, "t=1700000000", "t=1700000001", 1), body, testSecret, at, ErrBadSignature},
		{"too old", good, body, testSecret, at.Add(ReplayWindow + time.Second), ErrStale},
		{"from the future", good, body, testSecret, at.Add(-ReplayWindow - time.Second), ErrStale},
		{"no v1", "t=1700000000", body, testSecret, at, ErrBadSignature},
		{"no t", v1, body, testSecret, at, ErrBadSignature},
		{"not hex", "t=1700000000,v1=zz", body, testSecret, at, ErrBadSignature},
		{"empty", "", body, testSecret, at, ErrBadSignature},
	} {
		err := Verify(tc.secret, tc.header, tc.body, tc.now, ReplayWindow)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNewSecretAndID(t *testing.T) {
	s1, s2 := NewSecret(), NewSecret()
	if s1 == s2 || len(s1) != len("whsec_")+64 || !strings.HasPrefix(s1, "whsec_") {
		t.Fatalf("secrets %q %q: want two different whsec_ + 32 bytes in hex", s1, s2)
	}
	at := time.UnixMilli(0x0193a1b2c3d4)
	id1, id2 := NewID(at), NewID(at.Add(time.Millisecond))
	if !strings.HasPrefix(id1, "wh_0193a1b2c3d4") || len(id1) != len("wh_")+12+8 || id2 <= id1 {
		t.Fatalf("ids %q %q: want wh_<12 hex ms><8 hex>, sorting by creation", id1, id2)
	}
}
