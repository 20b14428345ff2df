package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ringside/ringside/pkg/store"
)

// MaxBody is the largest request body accepted; a larger one gets 413.
// The largest real body (a tenant patch with many features) is well under
// 4 KiB.
const MaxBody = 64 << 10

// Body presence for decodeBody.
const (
	required = true
	optional = false
)

// decodeBody reads the request's JSON object into v: at most MaxBody bytes
// (413 beyond; authed puts the http.MaxBytesReader in place), Content-Type application/json (415 otherwise), one object
// with no unknown fields and nothing after it (400 otherwise). An absent
// body is 400 when the endpoint requires one, else leaves v as it is.
func decodeBody(r *http.Request, v any, need bool) error {
	raw, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: codeInvalid,
			msg: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
	case err != nil:
		return invalid("reading the request body failed")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if need {
			return invalid("request body required: a JSON object")
		}
		return nil
	}
	if err := jsonContentType(r.Header.Values("Content-Type")); err != nil {
		return err
	}
	if raw = bytes.TrimSpace(raw); raw[0] != '{' {
		return invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: " + jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body: unexpected data after the JSON object")
	}
	return nil
}

// jsonContentType accepts application/json with no parameter but
// charset=utf-8.
func jsonContentType(values []string) error {
	unsupported := &apiError{status: http.StatusUnsupportedMediaType, code: codeInvalid,
		msg: "Content-Type must be application/json"}
	if len(values) != 1 {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return unsupported
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported
		}
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q: want %s", typ.Field, typ.Type)
		}
		return "wrong JSON type"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// query checks that the request's query has only the allowed parameters,
// each at most once, and returns it.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("malformed query string")
	}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		switch {
		case !known:
			return nil, invalid(fmt.Sprintf("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", ")))
		case len(vs) > 1:
			return nil, invalid(fmt.Sprintf("query parameter %q given more than once", k))
		}
	}
	return q, nil
}

// page reads offset and limit: non-negative integers, limit at most
// store.MaxLimit (0 or absent: store.DefaultLimit).
func page(q url.Values) (store.Page, error) {
	var p store.Page
	for _, f := range []struct {
		name string
		to   *int
	}{{"offset", &p.Offset}, {"limit", &p.Limit}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, invalid(fmt.Sprintf("%s must be a non-negative integer", f.name))
		}
		*f.to = n
	}
	if p.Limit > store.MaxLimit {
		return p, invalid(fmt.Sprintf("limit must be at most %d", store.MaxLimit))
	}
	return p.Norm()
}

// boolParam reads an optional true/false parameter.
func boolParam(q url.Values, name string) (*bool, error) {
	switch q.Get(name) {
	case "":
		return nil, nil
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, invalid(name + " must be true or false")
}
