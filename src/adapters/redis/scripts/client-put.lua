--[[ client-put: create or change a registered client and, when asked, switch it to a new API key, in one step.
  KEYS[1] the client's hash  td:{p}:client:<id>     KEYS[2] ids of every client  td:{p}:clients
  ARGV[1] client id  ARGV[2] 'create' (refused if it exists) | 'upsert' | 'update' (refused if it does not)
  ARGV[3] tier, '' = keep  ARGV[4] enabled '1' | '0', '' = keep  ARGV[5] scopes (comma-separated), '' = keep
  ARGV[6] the new key's digest (SHA-256, hex)  ARGV[7] '1' = switch an existing client to that key
  ARGV[8] now (ms)  ARGV[9] prefix of the key entries  td:{p}:apikey:  ARGV[10] scopes of a new client when
  ARGV[5] is ''
  A new client always gets the new key, enabled '1' unless told; the key entry of a replaced digest is deleted,
  so the old key stops working at once.
  Returns {'CREATED', 1} | {'UPDATED', 1 if the key was switched else 0} | {'EXISTS'} | {'MISSING'}          ]]
local id, mode = ARGV[1], ARGV[2]
local tier, enabled, scopes = ARGV[3], ARGV[4], ARGV[5]
local digest, switchKey, now, keyPrefix = ARGV[6], ARGV[7] == '1', ARGV[8], ARGV[9]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not exists and scopes == '' then scopes = ARGV[10] end

if exists and mode == 'create' then return { 'EXISTS' } end
if not exists and mode == 'update' then return { 'MISSING' } end
if not exists and (tier == '' or scopes == '') then
  return redis.error_reply('client-put: a new client needs a tier and scopes')
end

local fields = { 'updatedAt', now }
if tier ~= '' then fields[#fields + 1] = 'tier'; fields[#fields + 1] = tier end
if scopes ~= '' then fields[#fields + 1] = 'scopes'; fields[#fields + 1] = scopes end
if enabled ~= '' then
  fields[#fields + 1] = 'enabled'; fields[#fields + 1] = enabled
elseif not exists then
  fields[#fields + 1] = 'enabled'; fields[#fields + 1] = '1'
end
if not exists then fields[#fields + 1] = 'createdAt'; fields[#fields + 1] = now end

local issued = (not exists) or switchKey
if issued then
  local old = redis.call('HGET', KEYS[1], 'digest')
  if old then redis.call('DEL', keyPrefix .. old) end
  redis.call('SET', keyPrefix .. digest, id)
  fields[#fields + 1] = 'digest'; fields[#fields + 1] = digest
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SADD', KEYS[2], id)
return { exists and 'UPDATED' or 'CREATED', issued and 1 or 0 }
