// Package directory is the one set of admin services behind every admin
// surface: the CLI (`ringside tenants|users|accounts|tokens`), the JSON API
// under /api/v1 and the web portal all call a *Service, so they share the
// same rules, errors and audit trail.
//
// It owns:
//
//   - who may do what: every method takes the Actor doing it; an operator
//     administers every tenant, a company admin only its own
//     (ErrForbidden otherwise);
//   - tenants and their settings (mode, region, default responsible user,
//     feature switches), and enabling or disabling the Zoho integration;
//   - the users table: the tenant's PBX extensions (found by discovery)
//     joined with their links to Zoho users, with search and paging;
//   - linking an extension to a Zoho user of the tenant's org, which
//     registers the user's click-to-dial and call-control URLs at Zoho with
//     a fresh per-user secret (PhoneBridge mode), and unlinking, which
//     unregisters them; per-user switches and default terminals;
//   - admin accounts, password logins, sessions and API tokens (only hashes
//     are stored);
//   - the audit log: every change, and every refused attempt, is recorded
//     with who did it and through which surface.
//
// Zoho and the PBX are reached through the small interfaces declared here;
// main adapts *zoho.Client and the PBX adapters to them. Errors wrap the
// store's sentinels (store.ErrNotFound, ErrConflict, ErrInvalid) or this
// package's ErrForbidden, ErrUnauthorized, ErrNotConnected, ErrNoPBX and
// ErrZoho, so each surface maps them to its own status (exit code, HTTP
// status, flash).
package directory
