package asterisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/fault"
)

// The REST calls are our own: ari/v5's native client uses a zero http.Client
// (no timeout, no context) and its package needs golang.org/x/net/websocket,
// which this module does not carry. Request bodies reuse ari/v5's models
// where they fit (ari.OriginateRequest).

// HTTPError is a non-2xx answer from ARI.
type HTTPError struct {
	Method  string
	Path    string
	Status  int
	Message string // ARI's {"message": ...}, if any
}

func (e *HTTPError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
}

// rest is a small ARI REST client.
type rest struct {
	base     string // e.g. http://127.0.0.1:8088/ari
	user     string
	password string
	client   *http.Client
	timeout  time.Duration
	observe  func(op, result string)
}

func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // ARI is local: never through a proxy
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: timeout,
			TLSHandshakeTimeout:   5 * time.Second,
		},
	}
}

// do sends one request: params go in the query string, body (if not nil) as
// JSON, and a JSON answer is decoded into out (if not nil). Errors are
// classified: 4xx permanent, 5xx and transport errors retryable.
func (r *rest) do(ctx context.Context, op, method, path string, params url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	u := r.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fault.Permanent(fmt.Errorf("%s %s: encode: %w", method, path, err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fault.Permanent(fmt.Errorf("%s %s: %w", method, path, err))
	}
	req.SetBasicAuth(r.user, r.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.observe(op, "retryable")
		return fault.Retryable(fmt.Errorf("%s %s: %w", method, path, err), 0)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		r.observe(op, "retryable")
		return fault.Retryable(fmt.Errorf("%s %s: read: %w", method, path, err), 0)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		he := &HTTPError{Method: method, Path: path, Status: resp.StatusCode}
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &m) == nil {
			he.Message = m.Message
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			r.observe(op, "retryable")
			return fault.Retryable(he, 0)
		}
		r.observe(op, "permanent")
		return fault.Permanent(he)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			r.observe(op, "retryable")
			return fault.Retryable(fmt.Errorf("%s %s: decode answer: %w", method, path, err), 0)
		}
	}
	r.observe(op, "ok")
	return nil
}

// StatusOf returns the HTTP status of an ARI error (0 if it has none).
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func esc(id string) string { return url.PathEscape(id) }

func (r *rest) channels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	return out, r.do(ctx, "list_channels", http.MethodGet, "/channels", nil, nil, &out)
}

func (r *rest) bridges(ctx context.Context) ([]Bridge, error) {
	var out []Bridge
	return out, r.do(ctx, "list_bridges", http.MethodGet, "/bridges", nil, nil, &out)
}

// AsteriskInfo is the part of GET /asterisk/info the adapter reads.
type AsteriskInfo struct {
	System struct {
		Version  string `json:"version"`
		EntityID string `json:"entity_id"`
	} `json:"system"`
}

func (r *rest) info(ctx context.Context) (AsteriskInfo, error) {
	var out AsteriskInfo
	return out, r.do(ctx, "info", http.MethodGet, "/asterisk/info", nil, nil, &out)
}

func secs(d time.Duration) string { return strconv.Itoa(int((d + time.Second - 1) / time.Second)) }

// joinArgs joins Stasis application arguments (comma separated on the wire).
func joinArgs(args []string) string { return strings.Join(args, ",") }
