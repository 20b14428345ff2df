package adminapi

import (
	"net/http"
	"strings"

	"github.com/ringside/ringside/pkg/directory"
)

// ---- blacklist ----

// blacklistView is a tenant's blacklist (openapi.yaml Blacklist).
type blacklistView struct {
	Entries []string `json:"entries"`
	Reason  string   `json:"reason"`
}

func blacklistOf(b directory.Blacklist) blacklistView {
	v := blacklistView{Entries: b.Entries, Reason: b.Reason}
	if v.Entries == nil {
		v.Entries = []string{}
	}
	return v
}

func (h *Handler) getBlacklist(r *http.Request, a directory.Actor) (int, any, error) {
	b, err := h.dir.ListBlocked(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, blacklistOf(b), nil
}

// blockRequest is the body of POST /tenants/{tenant}/blacklist.
type blockRequest struct {
	// Number is an E.164 number or a prefix ending in "*".
	Number string `json:"number"`
}

func (h *Handler) addBlocked(r *http.Request, a directory.Actor) (int, any, error) {
	var in blockRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	if in.Number == "" {
		return 0, nil, invalid("number is required: an E.164 number (+4930123456) or prefix (+4990*)")
	}
	b, err := h.dir.AddBlocked(r.Context(), a, r.PathValue("tenant"), in.Number)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, blacklistOf(b), nil
}

func (h *Handler) removeBlocked(r *http.Request, a directory.Actor) (int, any, error) {
	q, err := query(r, "number")
	if err != nil {
		return 0, nil, err
	}
	n := q.Get("number")
	if strings.HasPrefix(n, " ") {
		// A "+" sent as is arrives as a blank (form encoding); %2B is
		// the exact form.
		n = "+" + strings.TrimLeft(n, " ")
	}
	if n == "" {
		return 0, nil, invalid("query parameter number is required: the entry to remove")
	}
	b, err := h.dir.RemoveBlocked(r.Context(), a, r.PathValue("tenant"), n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, blacklistOf(b), nil
}

// reasonRequest is the body of PUT /tenants/{tenant}/blacklist/reason.
type reasonRequest struct {
	Reason string `json:"reason"`
}

func (h *Handler) setBlockedReason(r *http.Request, a directory.Actor) (int, any, error) {
	var in reasonRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	b, err := h.dir.SetBlockedReason(r.Context(), a, r.PathValue("tenant"), in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, blacklistOf(b), nil
}
