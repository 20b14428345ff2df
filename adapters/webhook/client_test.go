package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/webhooks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPost(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"challenge":"abc"}`))
		case "/down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/big":
			w.Write([]byte(strings.Repeat("x", 3*webhooks.MaxAnswer)))
		}
	}))
	defer srv.Close()
	c := New(Options{})
	defer c.Close()
	ctx := context.Background()

	resp, err := c.Post(ctx, webhooks.Request{URL: srv.URL + "/ok", Body: []byte(`{"id":"evt_1"}`),
		Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "Ringside/test", webhooks.HeaderSignature: "t=1,v1=ab"}})
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"challenge":"abc"}` {
		t.Fatalf("Post = %+v, %v", resp, err)
	}
	if got.Method != http.MethodPost || gotBody != `{"id":"evt_1"}` || got.Header.Get("User-Agent") != "Ringside/test" ||
		got.Header.Get("Ringside-Signature") != "t=1,v1=ab" || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %v %q", got.Method, got.Header, gotBody)
	}
	if resp, err := c.Post(ctx, webhooks.Request{URL: srv.URL + "/down"}); err != nil || resp.Status != 503 || !strings.Contains(string(resp.Body), "maintenance") {
		t.Fatalf("503: %+v, %v", resp, err)
	}
	if resp, err := c.Post(ctx, webhooks.Request{URL: srv.URL + "/moved"}); err != nil || resp.Status != 302 || got.URL.Path != "/moved" {
		t.Fatalf("a redirect was followed or not reported: %+v, %v (last path %s)", resp, err, got.URL.Path)
	}
	if resp, err := c.Post(ctx, webhooks.Request{URL: srv.URL + "/big"}); err != nil || len(resp.Body) != webhooks.MaxAnswer {
		t.Fatalf("big answer: %d bytes, %v; want MaxAnswer", len(resp.Body), err)
	}
}

func TestPostErrors(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	c := New(Options{})
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Post(ctx, webhooks.Request{URL: slow.URL}); !errors.Is(err, webhooks.ErrTimeout) {
		t.Fatalf("slow receiver: %v, want ErrTimeout", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = c.Post(context.Background(), webhooks.Request{URL: "http://" + addr + "/"})
	if err == nil || errors.Is(err, webhooks.ErrTimeout) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("nobody listening: %v, want a refused connection, not a timeout", err)
	}

	short := New(Options{Timeout: 50 * time.Millisecond})
	defer short.Close()
	if _, err := short.Post(context.Background(), webhooks.Request{URL: slow.URL}); !errors.Is(err, webhooks.ErrTimeout) {
		t.Fatalf("client timeout: %v, want ErrTimeout", err)
	}
}
