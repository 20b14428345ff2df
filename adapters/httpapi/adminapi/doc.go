// Package adminapi is Ringside's JSON admin API under /api/v1: a thin HTTP
// surface over *directory.Service, which owns every rule, check and audit
// entry. This package only authenticates the bearer token, decodes and
// bounds the request, calls the service once, and encodes the answer or
// maps the service's error to one JSON error shape. It never writes to the
// store itself, so a request the service refuses changes nothing.
//
// Every endpoint but the OpenAPI document needs "Authorization: Bearer
// <token>" (a token made by `ringside tokens create` or POST /tokens; only
// its SHA-256 is stored). The document, openapi.yaml, is embedded and
// served; a test keeps it and the routes below in step.
//
//	GET    /api/v1/openapi.yaml                              the OpenAPI 3.1 document (no token)
//	GET    /api/v1/tenants                                   tenants the caller may see
//	POST   /api/v1/tenants                                   create a tenant (operators)
//	GET    /api/v1/tenants/{tenant}                          one tenant
//	PATCH  /api/v1/tenants/{tenant}                          name, mode, region, default_user, features,
//	                                                         internal_policy, technical_extensions, own_numbers, lead_module
//	DELETE /api/v1/tenants/{tenant}                          delete a tenant (operators; unlinks everyone first)
//	POST   /api/v1/tenants/{tenant}/zoho/enable              {"mode"} → {"authorize_url"}
//	POST   /api/v1/tenants/{tenant}/zoho/disable             → {"unlinked": n}
//	GET    /api/v1/tenants/{tenant}/zoho/users               the Zoho org's users
//	GET    /api/v1/tenants/{tenant}/users                    ?search=&linked=&offset=&limit= → a page of the users table
//	GET    /api/v1/tenants/{tenant}/users/{ext}              one user
//	PUT    /api/v1/tenants/{tenant}/users/{ext}/link         {"zoho_user"} → 201 the link
//	DELETE /api/v1/tenants/{tenant}/users/{ext}/link         → {"link", "zoho_warning"}
//	PATCH  /api/v1/tenants/{tenant}/users/{ext}/switches     {"notifications"?, "click_to_call"?}
//	PUT    /api/v1/tenants/{tenant}/users/{ext}/terminal     {"kind": "desk"|"mobile", "value"}
//	DELETE /api/v1/tenants/{tenant}/users/{ext}/terminal     back to the extension's own device
//	POST   /api/v1/tenants/{tenant}/extensions/discover      read the PBX's extensions now
//	GET    /api/v1/tenants/{tenant}/calls                    the live calls board → {"calls", "now"}
//	GET    /api/v1/tenants/{tenant}/webhooks                 the webhook subscriptions, never their secrets
//	POST   /api/v1/tenants/{tenant}/webhooks                 {"url", "events"?} → 201 the subscription and its "secret", shown once
//	DELETE /api/v1/tenants/{tenant}/webhooks/{id}            delete a subscription and its delivery log
//	POST   /api/v1/tenants/{tenant}/webhooks/{id}/enable     back to pending verification → the subscription
//	GET    /api/v1/tenants/{tenant}/webhooks/{id}/deliveries ?offset=&limit= → a page of the delivery log
//	GET    /api/v1/audit                                     ?tenant=&offset=&limit= → a page of the audit log
//	GET    /api/v1/accounts                                  accounts the caller manages
//	POST   /api/v1/accounts                                  create an account
//	DELETE /api/v1/accounts/{username}                       delete an account
//	PUT    /api/v1/accounts/{username}/password              {"password"}
//	POST   /api/v1/tokens                                    {"username"?, "ttl"?} → 201 {"token", ...}
//
// Errors are {"error": {"code", "message"}} with code and status:
// unauthorized 401 (with WWW-Authenticate: Bearer), forbidden 403,
// not_found 404, conflict 409, not_connected 409, invalid 400 (and 405,
// 413, 415 for a wrong method, an oversized body or a body that is not
// JSON), no_pbx 503, zoho_error 502 (Zoho refused what the action needs;
// its answer is in the message), internal 500 (the cause is logged, never
// sent).
//
// Requests are counted in ringside_api_requests_total{route,code}, route
// being the matched pattern ("GET /api/v1/tenants/{tenant}") or "other".
package adminapi
