// Package webhook posts Ringside's webhook deliveries over HTTP: the
// webhooks.Poster of pkg/webhooks on net/http. It sends what it is given
// (URL, headers, body: pkg/webhooks signs them), follows no redirect, reads
// at most webhooks.MaxAnswer bytes of an answer, and reports a deadline as
// webhooks.ErrTimeout, so the dispatcher can tell a timeout from a refused
// connection.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ringside/ringside/pkg/webhooks"
)

var _ webhooks.Poster = (*Client)(nil)

// Options configure a Client.
type Options struct {
	// Timeout caps one request, whatever the caller's context says (the
	// dispatcher gives each attempt webhooks.timeout); 0: 30s.
	Timeout time.Duration
	// MaxConnsPerHost bounds the connections to one receiver; 0: 64.
	MaxConnsPerHost int
	// Transport replaces the default transport (tests); nil: a clone of
	// http.DefaultTransport (proxy from the environment, HTTP/2) with the
	// limits above.
	Transport http.RoundTripper
}

// Client is the HTTP Poster. Safe for concurrent use.
type Client struct {
	hc *http.Client
}

// drainLimit bounds what is read past MaxAnswer so the connection can be
// reused; a longer answer closes it.
const drainLimit = 64 << 10

// New returns a Client.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = 64
	}
	rt := o.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = o.MaxConnsPerHost
		t.MaxConnsPerHost = o.MaxConnsPerHost
		t.ResponseHeaderTimeout = o.Timeout
		rt = t
	}
	return &Client{hc: &http.Client{
		Transport: rt,
		Timeout:   o.Timeout,
		// A receiver answers for itself: a redirect is an answer (3xx, a
		// failed attempt), never a second request to somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post sends r as a POST and returns the answer's status and at most
// webhooks.MaxAnswer bytes of its body.
func (c *Client) Post(ctx context.Context, r webhooks.Request) (webhooks.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return webhooks.Response{}, fmt.Errorf("webhook: request: %w", err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if isTimeout(ctx, err) {
			return webhooks.Response{}, fmt.Errorf("webhook: %w: %w", webhooks.ErrTimeout, err)
		}
		return webhooks.Response{}, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, webhooks.MaxAnswer))
	if err != nil && isTimeout(ctx, err) {
		return webhooks.Response{}, fmt.Errorf("webhook: reading the answer: %w: %w", webhooks.ErrTimeout, err)
	}
	// The status is the answer; a body cut short still counts as read.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return webhooks.Response{Status: resp.StatusCode, Body: body}, nil
}

// isTimeout reports whether err is a deadline: the context's, the client's
// or a network timeout.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close closes idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }
