package redisstore

import "github.com/redis/go-redis/v9"

// Every change that touches more than one key is one Lua script: Redis runs
// a script atomically, so no reader sees half of it and no crash leaves half
// of it, in one round trip and without the retry storms WATCH/MULTI has when
// 20 writers race for the same link. Read-modify-write of one document
// (UpdateTenant, SetSwitches…) is a compare-and-set script: the Go side
// decodes and validates, the script writes only if the raw value is still
// the one read.
//
// All keys a script touches share the {dir} hash tag, so the scripts also
// run on Redis Cluster (one slot holds the directory; it is small). The
// scripts that cascade (deleteTenant, createSession, deleteSessions) build
// some key names from ARGV: fine in that single slot. The audit lists share
// their own {audit} tag instead: appendAuditScript touches only them, and
// they stay out of the directory's slot. A webhook delivery log is one list
// with no tag (a MULTI of LPUSH and LTRIM on it); deleting a subscription
// or its tenant deletes the log after the script.

// casScript: KEYS[1] doc; ARGV[1] the raw value read, ARGV[2] the new one.
// Returns 1 when written, 0 when the value changed meanwhile, -1 when gone.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`)

// createScript: KEYS[1] doc, KEYS[2] sorted index, KEYS[3] a key that must
// exist (ARGV[3] == "1"); ARGV[1] value, ARGV[2] index member.
// Returns 1 created, 0 exists, -1 the required key is missing.
var createScript = redis.NewScript(`
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1`)

// putIfParentScript: KEYS[1] parent, KEYS[2] doc, KEYS[3] sorted index or
// "" ; ARGV[1] value, ARGV[2] member. Writes doc only while parent exists.
// Returns 1 written, -1 parent missing.
var putIfParentScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[3], 0, ARGV[2]) end
return 1`)

// deleteExtScript: KEYS[1] extension, KEYS[2] index, KEYS[3] its link,
// KEYS[4] its terminal; ARGV[1] number. Returns 1 deleted, 0 linked,
// -1 missing.
var deleteExtScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)

// linkScript: KEYS[1] extension, KEYS[2] link by extension, KEYS[3] link by
// Zoho user, KEYS[4] links index; ARGV[1] link JSON, ARGV[2] extension.
// Returns {"ok"}, {"noext"}, {"ext", <link JSON>} or {"zu", <extension>}.
var linkScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'noext'} end
local fwd = redis.call('GET', KEYS[2])
if fwd then return {'ext', fwd} end
local rev = redis.call('GET', KEYS[3])
if rev then return {'zu', rev} end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], 0, ARGV[2])
return {'ok'}`)

// unlinkScript: KEYS[1] link by extension, KEYS[2] link by Zoho user,
// KEYS[3] links index; ARGV[1] the raw link read, ARGV[2] extension.
// Returns 1 removed, 0 changed meanwhile, -1 gone.
var unlinkScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[2])
return 1`)

// deleteTenantScript: KEYS[1] tenant, KEYS[2] tenants index, KEYS[3]
// extensions index, KEYS[4] links index, KEYS[5] webhooks index; ARGV[1]
// the directory key prefix ("ringside:{dir}:"), ARGV[2] tenant id.
// Returns -1 when missing, else the webhooks index members ("<t>.<id>") of
// the subscriptions it deleted (their delivery logs are in another slot).
var deleteTenantScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local p, t = ARGV[1], ARGV[2]
for _, num in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local v = redis.call('GET', p .. 'link:' .. t .. '.' .. num)
  if v then
    local zu = cjson.decode(v)['zoho_user']
    if zu then
      local rk = p .. 'linkzu:' .. t .. '.' .. zu
      if redis.call('GET', rk) == num then redis.call('DEL', rk) end
    end
  end
  redis.call('DEL', p .. 'link:' .. t .. '.' .. num)
end
for _, num in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', p .. 'ext:' .. t .. '.' .. num, p .. 'term:' .. t .. '.' .. num)
end
local hooks = redis.call('ZRANGEBYLEX', KEYS[5], '[' .. t .. '.', '(' .. t .. '/')
for _, m in ipairs(hooks) do
  redis.call('DEL', p .. 'webhook:' .. m)
  redis.call('ZREM', KEYS[5], m)
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], t)
return hooks`)

// createSessionScript: KEYS[1] account, KEYS[2] session, KEYS[3] the
// account's session set; ARGV[1] session JSON, ARGV[2] id, ARGV[3] expiry
// (Unix ms), ARGV[4] session key prefix. Prunes ids of expired sessions
// from the set. Returns 1 created, 0 exists, -1 no account.
var createSessionScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 then redis.call('SREM', KEYS[3], id) end
end
redis.call('SADD', KEYS[3], ARGV[2])
return 1`)

// deleteSessionsScript: KEYS[1] the account's session set; ARGV[1] session
// key prefix. Returns how many live sessions were deleted.
var deleteSessionsScript = redis.NewScript(`
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1])
return n`)

// deleteAccountScript: KEYS[1] account, KEYS[2] accounts index, KEYS[3]
// its session set; ARGV[1] username, ARGV[2] session key prefix.
// Returns 1 deleted, -1 missing.
var deleteAccountScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('DEL', ARGV[2] .. id)
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)

// appendAuditScript: KEYS the audit lists the entry goes to (all tenants',
// and its tenant's); ARGV[1] entry JSON, ARGV[2] how many a list keeps.
// Pushes the entry at the head of each and drops what is beyond the limit.
// Returns 1.
var appendAuditScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  redis.call('LPUSH', k, ARGV[1])
  redis.call('LTRIM', k, 0, tonumber(ARGV[2]) - 1)
end
return 1`)

// deleteWebhookScript: KEYS[1] subscription, KEYS[2] webhooks index;
// ARGV[1] index member. Returns 1 deleted, -1 missing.
var deleteWebhookScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)
