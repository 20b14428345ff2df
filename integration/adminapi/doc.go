// Package adminapi runs the JSON admin API (/api/v1) in process against
// real parts: the Redis store (adapters/redisstore, a unique key prefix
// per test), the Zoho simulator behind the real Zoho client
// (adapters/zoho), the admin service (pkg/directory) and the API handler
// on an httptest server. It plays what an admin does (create a tenant,
// connect Zoho through the OAuth redirect, list, link, switch, set
// terminals, unlink, read the audit log) and what must be refused, each
// refusal checked to leave the store and Zoho as they were.
package adminapi
