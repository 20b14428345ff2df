package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// Error codes of the JSON error shape; openapi.yaml lists the same.
const (
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeInvalid      = "invalid"
	codeForbidden    = "forbidden"
	codeUnauthorized = "unauthorized"
	codeNotConnected = "not_connected"
	codeNoPBX        = "no_pbx"
	codeZoho         = "zoho_error"
	codeInternal     = "internal"
)

// apiError is an error as sent: its status, code and message.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// classify maps an error to what is sent. The service's messages are
// meant for admins and are sent as they are; anything unclassified (the
// store or Zoho failing) is an internal error whose text stays in the log.
// Order matters only for errors wrapping two sentinels: the more specific
// directory errors win over the store's.
func classify(err error) apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return *ae
	case errors.Is(err, directory.ErrUnauthorized):
		return apiError{http.StatusUnauthorized, codeUnauthorized, "missing, malformed, unknown or expired bearer token"}
	case errors.Is(err, directory.ErrForbidden):
		return apiError{http.StatusForbidden, codeForbidden, err.Error()}
	case errors.Is(err, directory.ErrNotConnected):
		return apiError{http.StatusConflict, codeNotConnected, err.Error()}
	case errors.Is(err, directory.ErrNoPBX):
		return apiError{http.StatusServiceUnavailable, codeNoPBX, err.Error()}
	case errors.Is(err, directory.ErrZoho):
		return apiError{http.StatusBadGateway, codeZoho, err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return apiError{http.StatusNotFound, codeNotFound, err.Error()}
	case errors.Is(err, store.ErrConflict):
		return apiError{http.StatusConflict, codeConflict, err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return apiError{http.StatusBadRequest, codeInvalid, err.Error()}
	}
	return apiError{http.StatusInternalServerError, codeInternal, "internal error; the server log has the cause"}
}

// invalid is a 400 for a request the API itself refuses before calling the
// service (bad JSON, bad query parameter).
func invalid(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: msg}
}

// errorBody is the JSON error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError sends e.
func writeError(w http.ResponseWriter, e apiError) {
	writeJSON(w, e.status, errorBody{Error: errorDetail{Code: e.code, Message: e.msg}})
}

// writeJSON sends body as JSON with status; a nil body sends no content.
func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil { // the API's own types always marshal
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
