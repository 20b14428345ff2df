package webhooks

import (
	"errors"
	"slices"
	"testing"

	"github.com/ringside/ringside/pkg/store"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://crm.example/hooks", false, true},
		{"https://10.0.0.5:8443/hooks", false, true},
		{"http://crm.example/hooks", false, false},
		{"http://127.0.0.1:8080/hooks", false, false},
		{"http://127.0.0.1:8080/hooks", true, true},
		{"http://[::1]:8080/hooks", true, true},
		{"http://localhost:8080/hooks", true, true},
		{"http://10.1.2.3/hooks", true, true},
		{"http://172.16.0.9/hooks", true, true},
		{"http://192.168.1.20/hooks", true, true},
		{"http://[fd00::1]/hooks", true, true},
		{"http://crm.example/hooks", true, false},      // names are not resolved
		{"http://8.8.8.8/hooks", true, false},          // public
		{"http://172.32.0.1/hooks", true, false},       // just outside 172.16/12
		{"http://169.254.169.254/latest", true, false}, // link-local (cloud metadata)
		{"ftp://crm.example/", true, false},
		{"https://user:pw@crm.example/", false, false},
		{"/hooks", true, false},
	} {
		err := CheckURL(tc.url, tc.insecure)
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckURL(%q, insecure=%t) = %v, want ok=%t", tc.url, tc.insecure, err, tc.ok)
		}
	}
}

func TestEventTypes(t *testing.T) {
	got, err := EventTypes(" ended, Ringing,,ended ")
	if err != nil || !slices.Equal(got, []string{"ended", "ringing"}) {
		t.Fatalf("EventTypes = %v, %v", got, err)
	}
	if all, err := EventTypes(""); err != nil || all != nil {
		t.Fatalf("EventTypes(\"\") = %v, %v; want every type (nil)", all, err)
	}
	if _, err := EventTypes("ended,hangup"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unknown type: %v, want ErrInvalid", err)
	}
}
