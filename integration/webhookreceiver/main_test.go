package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/webhooks"
)

const secret = "whsec_0123456789abcdef0123456789abcdef"

// post sends body to the receiver signed at t with key, as Ringside does.
func post(t *testing.T, srv *httptest.Server, key string, at time.Time, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(key, at, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestReceiver runs the README's receiver against deliveries signed by
// pkg/webhooks: a good signature is accepted, a wrong one, a tampered body
// and a stale timestamp are rejected, the handshake is echoed, and a
// redelivered event is handled once.
func TestReceiver(t *testing.T) {
	var handled []string
	rc := &receiver{secret: []byte(secret), seen: map[string]bool{},
		handle: func(id, typ string, data json.RawMessage) { handled = append(handled, id+" "+typ) }}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"call.ended","tenant":"acme","created_at":"2026-03-14T09:30:00Z","data":{"v":1,"type":"ended"}}`)

	if code, _ := post(t, srv, secret, now, body); code != http.StatusNoContent {
		t.Fatalf("good signature: %d, want 204", code)
	}
	for name, tc := range map[string]struct {
		key  string
		at   time.Time
		body []byte
	}{
		"wrong secret":    {"whsec_wrong", now, body},
		"stale":           {secret, now.Add(-6 * time.Minute), body},
		"from the future": {secret, now.Add(6 * time.Minute), body},
	} {
		if code, msg := post(t, srv, tc.key, tc.at, tc.body); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %q, want 401", name, code, msg)
		}
	}
	// A signature of another body.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"id":"evt_2","type":"call.ended"}`))
	req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(secret, now, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered body: %s, want 401", resp.Status)
	}
	// Redelivered (signed anew, same id): handled once.
	if code, _ := post(t, srv, secret, now.Add(time.Second), body); code != http.StatusNoContent {
		t.Fatalf("redelivery: %d, want 204", code)
	}
	if len(handled) != 1 || handled[0] != "evt_1 call.ended" {
		t.Fatalf("handled %q, want evt_1 once", handled)
	}
	code, answer := post(t, srv, secret, now, []byte(`{"id":"vrf_1","type":"ringside.verify","challenge":"c-42"}`))
	var echo struct{ Challenge string }
	if code != http.StatusOK || json.Unmarshal([]byte(answer), &echo) != nil || echo.Challenge != "c-42" {
		t.Fatalf("handshake: %d %q, want 200 with the challenge", code, answer)
	}
}

// TestReadmeQuotesTheReceiver: the README's receiver is this file, so what
// readers copy is what the test runs.
func TestReadmeQuotesTheReceiver(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```go\n"+string(src)+"```\n")) {
		t.Fatal("README.md does not quote integration/webhookreceiver/main.go verbatim in a go block; copy it again")
	}
}
