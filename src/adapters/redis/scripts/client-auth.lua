--[[ client-auth: the client an API key digest belongs to, in one round trip (reads only).
  KEYS[1] the key entry  td:{p}:apikey:<digest>
  ARGV[1] prefix of the client hashes  td:{p}:client:
  Returns {client id, stored digest, tier, enabled, scopes}, or false when the digest is unknown or its client
  is gone. The caller still compares the stored digest with its own (in constant time).                  ]]
local id = redis.call('GET', KEYS[1])
if not id then return false end
local f = redis.call('HMGET', ARGV[1] .. id, 'digest', 'tier', 'enabled', 'scopes')
if not f[1] then return false end
return { id, f[1], f[2] or '', f[3] or '0', f[4] or '' }
